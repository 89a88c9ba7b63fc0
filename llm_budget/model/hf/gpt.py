"""Mappers of the GPT-style decoders: LayerNorm with a shift, biases everywhere, a two-matrix MLP.

Each mapper follows transformers/models/<model_type>/modeling_<model_type>.py (named in registry.MAPPERS).
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


def gpt2(cfg: Config) -> Fields:
    """modeling_gpt2.py: Conv1D c_attn (q, k, v) and c_proj with biases, a learned wpe table, d_mlp = n_inner or 4·d."""
    d = required(cfg, "n_embd", "hidden_size")
    n_pos = required(cfg, "n_positions", "max_position_embeddings")
    return dict(
        d_embed=d,
        n_heads=required(cfg, "n_head", "num_attention_heads"),
        n_layers=required(cfg, "n_layer", "num_hidden_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=optional(cfg, "n_inner", 4 * d),
        mlp="standard",
        activation=activation(cfg.get("activation_function"), "gelu_new"),
        attn_qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        norm="layernorm",
        position="learned",
        n_positions=n_pos,
        context_window=n_pos,
        tied_embeddings=tied(cfg, True),
        dropout=dropout(cfg, "resid_pdrop", 0.1),
    )


def gpt_neox(cfg: Config) -> Fields:
    """modeling_gpt_neox.py: fused query_key_value and dense take `attention_bias` (default true); RoPE; untied embed_out."""
    bias = bool(optional(cfg, "attention_bias", True))
    return dict(
        d_embed=required(cfg, "hidden_size"),
        n_heads=required(cfg, "num_attention_heads"),
        n_layers=required(cfg, "num_hidden_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=required(cfg, "intermediate_size"),
        mlp="standard",
        activation=activation(cfg.get("hidden_act"), "gelu"),
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=True,
        norm="layernorm",
        position="rotary",
        context_window=cfg.get("max_position_embeddings"),
        tied_embeddings=tied(cfg, False),
        dropout=dropout(cfg, "hidden_dropout"),
    )


def bloom(cfg: Config) -> Fields:
    """modeling_bloom.py: word_embeddings_layernorm after the embedding, ALiBi (no position table), d_mlp = 4·d."""
    d = required(cfg, "hidden_size", "n_embed")
    return dict(
        d_embed=d,
        n_heads=required(cfg, "n_head", "num_attention_heads"),
        n_layers=required(cfg, "n_layer", "num_hidden_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=4 * d,
        mlp="standard",
        activation="gelu_tanh",
        attn_qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        norm="layernorm",
        embed_norm=True,
        position="alibi",
        tied_embeddings=tied(cfg, True),
        dropout=dropout(cfg, "hidden_dropout"),
    )


FAMILIES: dict[str, Mapper] = {
    "gpt2": Mapper("gpt2", gpt2, "gpt2/modeling_gpt2.py"),
    "gpt_neox": Mapper("gpt-neox", gpt_neox, "gpt_neox/modeling_gpt_neox.py"),
    "bloom": Mapper("bloom", bloom, "bloom/modeling_bloom.py"),
}
