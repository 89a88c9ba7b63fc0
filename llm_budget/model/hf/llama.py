"""Mappers of the Llama-style decoders: rotary positions, a gated MLP, RMSNorm (Cohere: LayerNorm).

Each mapper follows transformers/models/<model_type>/modeling_<model_type>.py (named in
registry.MAPPERS): which projections exist, which take a bias, how many norms a block has.
"""

from __future__ import annotations

from llm_budget.model.hf.keys import (
    Config,
    Fields,
    Mapper,
    activation,
    dropout,
    optional,
    required,
    tied,
)


def llama_like(cfg: Config) -> Fields:
    """The keys these families share: LlamaConfig's names for the sizes, gated MLP, RMSNorm, RoPE."""
    n_heads = required(cfg, "num_attention_heads")
    out: Fields = dict(
        d_embed=required(cfg, "hidden_size"),
        n_heads=n_heads,
        n_layers=required(cfg, "num_hidden_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=required(cfg, "intermediate_size"),
        n_kv_heads=optional(cfg, "num_key_value_heads", n_heads),
        mlp="gated",
        norm="rmsnorm",
        position="rotary",
        context_window=cfg.get("max_position_embeddings"),
        dropout=dropout(cfg, "attention_dropout"),
    )
    if cfg.get("head_dim") is not None:
        out["d_head"] = cfg["head_dim"]
    return out


def llama(cfg: Config) -> Fields:
    """modeling_llama.py: LlamaAttention's q, k, v, o all take `attention_bias`; LlamaMLP's gate, up, down take `mlp_bias`."""
    bias = bool(optional(cfg, "attention_bias", False))
    return llama_like(cfg) | dict(
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=bool(optional(cfg, "mlp_bias", False)),
        activation=activation(cfg.get("hidden_act"), "silu"),
        tied_embeddings=tied(cfg, False),
        sliding_window=cfg.get("sliding_window"),
    )


def mistral(cfg: Config) -> Fields:
    """modeling_mistral.py: Llama without biases, with a sliding attention window."""
    return llama_like(cfg) | dict(
        activation=activation(cfg.get("hidden_act"), "silu"),
        tied_embeddings=tied(cfg, False),
        sliding_window=cfg.get("sliding_window"),
    )


def qwen2(cfg: Config) -> Fields:
    """modeling_qwen2.py: Qwen2Attention's q, k, v have biases, o does not; the window only with use_sliding_window."""
    return llama_like(cfg) | dict(
        attn_qkv_bias=True,
        activation=activation(cfg.get("hidden_act"), "silu"),
        tied_embeddings=tied(cfg, False),
        sliding_window=cfg.get("sliding_window") if cfg.get("use_sliding_window") else None,
    )


def qwen3(cfg: Config) -> Fields:
    """modeling_qwen3.py: `attention_bias` on q, k, v, o; an RMSNorm(head_dim) on queries and one on keys."""
    bias = bool(optional(cfg, "attention_bias", False))
    return llama_like(cfg) | dict(
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        qk_norm="shared",
        activation=activation(cfg.get("hidden_act"), "silu"),
        tied_embeddings=tied(cfg, False),
    )


def phi3(cfg: Config) -> Fields:
    """modeling_phi3.py: fused qkv_proj and gate_up_proj without biases: the same counts as separate matrices."""
    return llama_like(cfg) | dict(
        activation=activation(cfg.get("hidden_act"), "silu"),
        tied_embeddings=tied(cfg, False),
        sliding_window=cfg.get("sliding_window"),
    )


def gemma(cfg: Config) -> Fields:
    """modeling_gemma.py: Llama's layout with a GELU-tanh gated MLP and tied embeddings by default."""
    bias = bool(optional(cfg, "attention_bias", False))
    return llama_like(cfg) | dict(
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        activation=activation(cfg.get("hidden_activation") or cfg.get("hidden_act"), "gelu_tanh"),
        tied_embeddings=tied(cfg, True),
    )


def gemma2(cfg: Config) -> Fields:
    """modeling_gemma2.py: blocks have input, post-attention, pre-feedforward and post-feedforward RMSNorms."""
    return gemma(cfg) | dict(norms_per_layer=4, sliding_window=cfg.get("sliding_window"))


def cohere(cfg: Config) -> Fields:
    """modeling_cohere.py: one bias-free LayerNorm feeding attention and MLP in parallel (CohereDecoderLayer);
    optional per-head LayerNorms on q and k (`use_qk_norm`, Command R+); tied embeddings."""
    bias = bool(optional(cfg, "attention_bias", False))
    return llama_like(cfg) | dict(
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        activation=activation(cfg.get("hidden_act"), "silu"),
        norm="layernorm",
        norm_bias=False,
        norms_per_layer=1,
        qk_norm="per_head" if cfg.get("use_qk_norm") else "none",
        tied_embeddings=tied(cfg, True),
    )


FAMILIES: dict[str, Mapper] = {
    "llama": Mapper("llama", llama, "llama/modeling_llama.py"),
    "mistral": Mapper("mistral", mistral, "mistral/modeling_mistral.py"),
    "gemma": Mapper("gemma", gemma, "gemma/modeling_gemma.py"),
    "gemma2": Mapper("gemma2", gemma2, "gemma2/modeling_gemma2.py"),
    "cohere": Mapper("cohere", cohere, "cohere/modeling_cohere.py"),
    "qwen2": Mapper("qwen2", qwen2, "qwen2/modeling_qwen2.py"),
    "qwen3": Mapper("qwen3", qwen3, "qwen3/modeling_qwen3.py"),
    "phi3": Mapper("phi3", phi3, "phi3/modeling_phi3.py"),
}
