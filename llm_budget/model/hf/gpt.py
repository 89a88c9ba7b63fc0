"""Mappers of the GPT-style decoders: LayerNorm with a shift, biases, a two-matrix MLP (GPT-2, GPT-NeoX,
BLOOM, StarCoder's gpt_bigcode, StarCoder2).

Each mapper follows transformers/models/<model_type>/modeling_<model_type>.py (named in registry.MAPPERS).
"""

from __future__ import annotations

from llm_budget.model.hf.attention import every_layer, flag, kv_heads, rotary_fraction, window_fields, window_or
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
    """modeling_gpt_neox.py: fused query_key_value and dense take `attention_bias` (default true); RoPE on
    `rotary_pct` of each head (default 0.25); two LayerNorms per block, parallel residual or not; untied embed_out."""
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
        rotary_fraction=rotary_fraction(cfg, 0.25),
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


def gpt_bigcode(cfg: Config) -> Fields:
    """modeling_gpt_bigcode.py (StarCoder, SantaCoder): GPT-2's block with one fused c_attn of
    n_embd + 2·kv_heads·head_dim outputs, where kv_heads is 1 under `multi_query` (default true) else n_head;
    biases everywhere, a learned wpe table, tied lm_head; d_mlp = n_inner or 4·n_embd."""
    d = required(cfg, "n_embd", "hidden_size")
    n_heads = required(cfg, "n_head", "num_attention_heads")
    n_pos = required(cfg, "n_positions", "max_position_embeddings")
    return dict(
        d_embed=d,
        n_heads=n_heads,
        n_kv_heads=1 if flag(cfg, "multi_query", True) else n_heads,
        n_layers=required(cfg, "n_layer", "num_hidden_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=optional(cfg, "n_inner", 4 * d),
        mlp="standard",
        activation=activation(cfg.get("activation_function"), "gelu_tanh"),
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


def starcoder2(cfg: Config) -> Fields:
    """modeling_starcoder2.py: GQA; q, k, v, o and the two-matrix MLP (c_fc, c_proj) take `use_bias` (default
    true); LayerNorms with a shift; RoPE; tied embeddings by default; `sliding_window` on every block;
    Starcoder2Config's num_key_value_heads defaults to 2."""
    n_heads = required(cfg, "num_attention_heads")
    n_layers = required(cfg, "num_hidden_layers")
    bias = flag(cfg, "use_bias", True)
    out = dict(
        d_embed=required(cfg, "hidden_size"),
        n_heads=n_heads,
        n_kv_heads=kv_heads(cfg, n_heads, 2),
        n_layers=n_layers,
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=required(cfg, "intermediate_size"),
        mlp="standard",
        activation=activation(cfg.get("hidden_act"), "gelu_tanh"),
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=bias,
        norm="layernorm",
        position="rotary",
        context_window=cfg.get("max_position_embeddings"),
        tied_embeddings=tied(cfg, True),
        dropout=dropout(cfg, "residual_dropout"),
    )
    if cfg.get("head_dim"):
        out["d_head"] = cfg["head_dim"]
    return out | window_fields(cfg, n_layers, window_or(cfg, None), every_layer, reads_layer_types=False)


FAMILIES: dict[str, Mapper] = {
    "gpt2": Mapper("gpt2", gpt2, "gpt2/modeling_gpt2.py"),
    "gpt_neox": Mapper("gpt-neox", gpt_neox, "gpt_neox/modeling_gpt_neox.py"),
    "bloom": Mapper("bloom", bloom, "bloom/modeling_bloom.py"),
    "gpt_bigcode": Mapper("gpt-bigcode", gpt_bigcode, "gpt_bigcode/modeling_gpt_bigcode.py"),
    "starcoder2": Mapper("starcoder2", starcoder2, "starcoder2/modeling_starcoder2.py"),
}
