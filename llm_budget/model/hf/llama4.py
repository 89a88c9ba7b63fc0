"""The Llama 4 text mapper (llama4_text; the multimodal `llama4` config nests it in text_config, see multimodal.py).

Follows transformers/models/llama4/modeling_llama4.py and the defaults of Llama4TextConfig
(configuration_llama4.py): MoE blocks (moe_layers, or every interleave_moe_layer_step-th block) hold a
router Linear(d, E, bias=False), E SwiGLU experts of intermediate_size and a shared SwiGLU expert of
intermediate_size; the other blocks a dense SwiGLU MLP of intermediate_size_mlp. Blocks with rotary
positions attend within chunks of attention_chunk_size; every no_rope_layer_interval-th block is full
attention without RoPE. use_qk_norm is Llama4TextL2Norm: no weight, so no parameters.
"""

from __future__ import annotations

from llm_budget.model.hf.keys import (
    Config,
    Fields,
    Mapper,
    activation,
    layer_pattern,
    optional,
    required,
    shortest_period,
    tied,
)
from llm_budget.model.hf.llama import llama_like
from llm_budget.model.hf.moe import experts


def _moe_layers(cfg: Config, n_layers: int) -> list[int]:
    """Llama4TextConfig.__post_init__: moe_layers, else range(step - 1, n_layers, step)."""
    layers = cfg.get("moe_layers")
    if layers is not None:
        return list(layers)
    step = optional(cfg, "interleave_moe_layer_step", 1)
    return list(range(step - 1, n_layers, step))


def _attention_kinds(cfg: Config, n_layers: int) -> Fields:
    """layer_types, else chunked attention where no_rope_layers[i] is 1 (RoPE) and a chunk size is set."""
    chunk = cfg.get("attention_chunk_size", 8192)  # null: no chunked layers
    pattern = layer_pattern(cfg, n_layers)
    if pattern is None:
        interval = optional(cfg, "no_rope_layer_interval", 4)
        rope = cfg.get("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(n_layers)]
        pattern = shortest_period(["chunked_attention" if r and chunk is not None else "full_attention" for r in rope])
    if "chunked_attention" not in pattern:
        return dict(layer_pattern=pattern)
    return dict(layer_pattern=pattern, attention_chunk=chunk)


def llama4_text(cfg: Config) -> Fields:
    """Llama4TextDecoderLayer: q, k, v, o take `attention_bias`; head_dim 128, 8 KV heads, 16 experts, top-1
    by default; d_mlp is the dense blocks' intermediate_size_mlp, the experts' width intermediate_size."""
    L = required(cfg, "num_hidden_layers")
    bias = bool(optional(cfg, "attention_bias", False))
    width = optional(cfg, "intermediate_size", 8192)
    moe = experts(
        cfg, optional(cfg, "num_local_experts", 16), optional(cfg, "num_experts_per_tok", 1), _moe_layers(cfg, L)
    )
    if moe:
        moe |= dict(d_expert=width, d_shared_mlp=width)
    return (
        llama_like(
            cfg | {"intermediate_size": optional(cfg, "intermediate_size_mlp", 16384)},
            head_dim=128,
            kv=8,
        )
        | moe
        | dict(
            attn_qkv_bias=bias,
            attn_out_bias=bias,
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
        )
        | _attention_kinds(cfg, L)
    )


FAMILIES: dict[str, Mapper] = {
    "llama4_text": Mapper("llama4", llama4_text, "llama4/modeling_llama4.py"),
}
