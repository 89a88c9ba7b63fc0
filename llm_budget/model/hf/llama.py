"""Mappers of the Llama-style decoders: rotary positions, a gated MLP, RMSNorm (Cohere: LayerNorm).

Each mapper follows transformers/models/<model_type>/modeling_<model_type>.py (named in FAMILIES):
which projections exist, which take a bias, how many norms a block has; and the defaults of
configuration_<model_type>.py for keys a config.json leaves out (a Qwen3 head is 128 wide, a Gemma
head 256, whatever hidden_size / num_attention_heads gives). Rope scaling (Llama 3.1's `rope_scaling`)
changes no parameter and is ignored.
"""

from __future__ import annotations

from llm_budget.model.hf.attention import (
    all_but_every,
    every_layer,
    flag,
    from_layer,
    kv_heads,
    rotary_fraction,
    window_fields,
    window_or,
)
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


def llama_like(cfg: Config, *, head_dim: int | None = None, kv: int | None = None) -> Fields:
    """The keys these families share: LlamaConfig's names for the sizes, gated MLP, RMSNorm, RoPE.

    The configuration class's defaults for keys config.json leaves out: `head_dim` (None: d_embed / n_heads)
    and `kv`, the num_key_value_heads field's default (None: n_heads; a null key is n_heads too).
    """
    n_heads = required(cfg, "num_attention_heads")
    out: Fields = dict(
        d_embed=required(cfg, "hidden_size"),
        n_heads=n_heads,
        n_layers=required(cfg, "num_hidden_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=required(cfg, "intermediate_size"),
        n_kv_heads=kv_heads(cfg, n_heads, kv),
        mlp="gated",
        norm="rmsnorm",
        position="rotary",
        context_window=cfg.get("max_position_embeddings"),
        dropout=dropout(cfg, "attention_dropout"),
    )
    d_head = optional(cfg, "head_dim", head_dim)
    if d_head is not None:
        out["d_head"] = d_head
    return out


def _biases(cfg: Config, key: str = "attention_bias") -> Fields:
    """One flag on all four attention projections (q, k, v and o take `bias=config.attention_bias`)."""
    bias = flag(cfg, key, False)
    return dict(attn_qkv_bias=bias, attn_out_bias=bias)


def llama(cfg: Config) -> Fields:
    """modeling_llama.py: LlamaAttention's q, k, v, o all take `attention_bias`; LlamaMLP's gate, up, down take
    `mlp_bias`; no sliding window (LlamaModel has none, whatever the config says)."""
    return (
        llama_like(cfg)
        | _biases(cfg)
        | dict(
            mlp_bias=flag(cfg, "mlp_bias", False),
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
        )
    )


def mistral(cfg: Config, *, default_window: int | None = 4096) -> Fields:
    """modeling_mistral.py: Llama without biases; every block attends within `sliding_window` (MistralConfig's
    default 4,096 when the key is absent; Nemo and Small write null: no window); MistralConfig's
    num_key_value_heads defaults to 8."""
    n_layers = required(cfg, "num_hidden_layers")
    return (
        llama_like(cfg, kv=8)
        | dict(activation=activation(cfg.get("hidden_act"), "silu"), tied_embeddings=tied(cfg, False))
        | window_fields(cfg, n_layers, window_or(cfg, default_window), every_layer, reads_layer_types=False)
    )


def _qwen_window(cfg: Config) -> Fields:
    """Qwen2/Qwen3Config: a window only with use_sliding_window, on blocks i ≥ max_window_layers (default 28)."""
    n_layers = required(cfg, "num_hidden_layers")
    window = window_or(cfg, 4096) if flag(cfg, "use_sliding_window", False) else None
    return window_fields(cfg, n_layers, window, from_layer(optional(cfg, "max_window_layers", 28)))


def qwen2(cfg: Config) -> Fields:
    """modeling_qwen2.py: Qwen2Attention's q, k, v have biases, o does not (Qwen2Config: 32 KV heads by default)."""
    return (
        llama_like(cfg, kv=32)
        | dict(
            attn_qkv_bias=True,
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
        )
        | _qwen_window(cfg)
    )


def qwen3(cfg: Config) -> Fields:
    """modeling_qwen3.py: `attention_bias` on q, k, v, o; an RMSNorm(head_dim) on queries and one on keys;
    Qwen3Config's head_dim defaults to 128, its num_key_value_heads to 32."""
    return (
        llama_like(cfg, head_dim=128, kv=32)
        | _biases(cfg)
        | dict(qk_norm="shared", activation=activation(cfg.get("hidden_act"), "silu"), tied_embeddings=tied(cfg, False))
        | _qwen_window(cfg)
    )


def phi3(cfg: Config) -> Fields:
    """modeling_phi3.py: fused qkv_proj and gate_up_proj without biases: the same counts as separate matrices;
    `sliding_window` (default none) on every block; partial_rotary_factor (default 1)."""
    n_layers = required(cfg, "num_hidden_layers")
    return (
        llama_like(cfg)
        | dict(
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
            rotary_fraction=rotary_fraction(cfg, 1.0),
            dropout=dropout(cfg, "resid_pdrop"),
        )
        | window_fields(cfg, n_layers, window_or(cfg, None), every_layer, reads_layer_types=False)
    )


def granite(cfg: Config) -> Fields:
    """modeling_granite.py: Llama's layout (attention_bias, mlp_bias); the embedding, residual, attention and
    logit multipliers scale activations, not parameters."""
    return llama(cfg)


def olmo2(cfg: Config) -> Fields:
    """modeling_olmo2.py: norms after attention and after the MLP (post_attention_layernorm,
    post_feedforward_layernorm: 2 per block, no input norm); q_norm and k_norm are RMSNorms over the whole
    projection (num_heads·head_dim and num_key_value_heads·head_dim wide: a weight per head and channel)."""
    return (
        llama_like(cfg)
        | _biases(cfg)
        | dict(
            qk_norm="per_head",
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
        )
    )


def gemma(cfg: Config, *, kv: int = 16) -> Fields:
    """modeling_gemma.py: Llama's layout with a GELU-tanh gated MLP, tied embeddings; GemmaConfig's defaults:
    head_dim 256, 16 KV heads (Gemma 2 and 3: 4)."""
    return (
        llama_like(cfg, head_dim=256, kv=kv)
        | _biases(cfg)
        | dict(
            activation=activation(cfg.get("hidden_activation") or cfg.get("hidden_act"), "gelu_tanh"),
            tied_embeddings=tied(cfg, True),
        )
    )


def gemma2(cfg: Config) -> Fields:
    """modeling_gemma2.py: blocks have input, post-attention, pre-feedforward and post-feedforward RMSNorms;
    Gemma2Config's layer_types alternate sliding (window 4,096 by default) and full attention, sliding first."""
    n_layers = required(cfg, "num_hidden_layers")
    return (
        gemma(cfg, kv=4)
        | dict(norms_per_layer=4)
        | window_fields(cfg, n_layers, window_or(cfg, 4096), all_but_every(2))
    )


GEMMA3_TEXT_DEFAULTS = dict(
    vocab_size=262_208, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26, num_attention_heads=8
)  # configuration_gemma3.py, Gemma3TextConfig.__init__


def gemma3_text(cfg: Config) -> Fields:
    """modeling_gemma3.py (Gemma3ForCausalLM): Gemma 2's four norms per block plus an RMSNorm(head_dim) on
    queries and on keys; layer_types from sliding_window_pattern (default 6: five sliding, then one full).
    Absent sizes take Gemma3TextConfig's defaults (multimodal configs leave them out of text_config)."""
    cfg = GEMMA3_TEXT_DEFAULTS | cfg
    n_layers = required(cfg, "num_hidden_layers")
    rule = all_but_every(optional(cfg, "sliding_window_pattern", 6))
    return (
        gemma(cfg, kv=4)
        | dict(norms_per_layer=4, qk_norm="shared")
        | window_fields(cfg, n_layers, window_or(cfg, 4096), rule)
    )


def cohere(cfg: Config) -> Fields:
    """modeling_cohere.py: one bias-free LayerNorm feeding attention and MLP in parallel (CohereDecoderLayer);
    optional per-head LayerNorms on q and k (`use_qk_norm`, Command R+); tied embeddings."""
    return (
        llama_like(cfg)
        | _biases(cfg)
        | dict(
            activation=activation(cfg.get("hidden_act"), "silu"),
            norm="layernorm",
            norm_bias=False,
            norms_per_layer=1,
            qk_norm="per_head" if cfg.get("use_qk_norm") else "none",
            tied_embeddings=tied(cfg, True),
        )
    )


def cohere2(cfg: Config) -> Fields:
    """modeling_cohere2.py: Cohere's parallel block without QK-norm; head_dim is always hidden_size /
    num_attention_heads (Cohere2Config sets it); layer_types from sliding_window_pattern (default 4)."""
    n_layers = required(cfg, "num_hidden_layers")
    fields = cohere({k: v for k, v in cfg.items() if k not in ("head_dim", "use_qk_norm")})
    rule = all_but_every(optional(cfg, "sliding_window_pattern", 4))
    return fields | window_fields(cfg, n_layers, window_or(cfg, 4096), rule)


FAMILIES: dict[str, Mapper] = {
    "llama": Mapper("llama", llama, "llama/modeling_llama.py"),
    "mistral": Mapper("mistral", mistral, "mistral/modeling_mistral.py"),
    "gemma": Mapper("gemma", gemma, "gemma/modeling_gemma.py"),
    "gemma2": Mapper("gemma2", gemma2, "gemma2/modeling_gemma2.py"),
    "gemma3_text": Mapper("gemma3", gemma3_text, "gemma3/modeling_gemma3.py"),
    "cohere": Mapper("cohere", cohere, "cohere/modeling_cohere.py"),
    "cohere2": Mapper("cohere2", cohere2, "cohere2/modeling_cohere2.py"),
    "qwen2": Mapper("qwen2", qwen2, "qwen2/modeling_qwen2.py"),
    "qwen3": Mapper("qwen3", qwen3, "qwen3/modeling_qwen3.py"),
    "phi3": Mapper("phi3", phi3, "phi3/modeling_phi3.py"),
    "granite": Mapper("granite", granite, "granite/modeling_granite.py"),
    "olmo2": Mapper("olmo2", olmo2, "olmo2/modeling_olmo2.py"),
}
