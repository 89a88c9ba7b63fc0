"""Mappers of the Mixtral-style mixture-of-experts decoders: Llama attention, a router and top-k SwiGLU experts.

Mixtral, Qwen1.5/2-MoE (a gated shared expert, dense layers by rule), Qwen3-MoE (QK-norm), Phi-3.5-MoE
(LayerNorm and biases), Granite MoE and gpt-oss (sinks, biases on attention,
router and experts, sliding/full layers). Each follows transformers/models/<model_type>/modeling_<model_type>.py
and the defaults of its configuration_<model_type>.py (a key the config leaves out takes that default).
The experts of every family here are stored fused (gate_up_proj: E × 2f × d, down_proj: E × d × f), the same
count as E separate gate, up and down matrices. DeepSeek-style (MLA, shared experts) lives in deepseek.py,
Llama 4 in llama4.py.
"""

from __future__ import annotations

from collections.abc import Collection

from llm_budget.errors import SpecError
from llm_budget.model.hf.attention import all_but_every, every_layer, window_fields, window_or
from llm_budget.model.hf.keys import Config, Fields, Mapper, activation, optional, required, tied
from llm_budget.model.hf.llama import llama_like


def moe_layout(n_layers: int, moe_layers: Collection[int]) -> Fields:
    """The set of MoE blocks (from 0) as ModelSpec's rule: first_dense_layers, moe_every, dense_layers.

    Spec rule (ModelSpec.is_moe_layer): block i is MoE when i ≥ first_dense_layers, (i + 1) % moe_every == 0
    and i is not in dense_layers. The rule chosen is the one that needs the fewest dense_layers exceptions
    (DeepSeek's first_k_dense_replace, Llama 4's interleave step, Qwen-MoE's mlp_only_layers come out exact).
    """
    moe = {i for i in moe_layers if 0 <= i < n_layers}
    if not moe:
        raise SpecError("no block is a mixture of experts")
    best: Fields | None = None
    for every in range(1, n_layers + 1):
        for first in sorted({0, min(moe)}):
            ruled = {i for i in range(first, n_layers) if (i + 1) % every == 0}
            if not moe <= ruled:
                continue
            dense = sorted(ruled - moe)
            if best is None or len(dense) < len(best["dense_layers"]):
                best = dict(first_dense_layers=first, moe_every=every, dense_layers=tuple(dense))
    assert best is not None  # every=1, first=0 rules every block
    return best


def experts(cfg: Config, n_experts: int, top_k: int | None, moe_layers: Collection[int]) -> Fields:
    """Routed-expert fields; {} (a dense model) when no block routes (e.g. Qwen2-MoE with num_experts 0).

    n_experts = 1 is a router over one expert: ModelSpec cannot tell it from a dense MLP (not_native).
    """
    n_layers = required(cfg, "num_hidden_layers")
    if n_experts < 1 or not {i for i in moe_layers if i < n_layers}:
        return {}
    if n_experts == 1:
        not_native(cfg, "a router over a single expert")
    if top_k is None:
        raise SpecError(f"config.json (model_type '{cfg.get('model_type')}') has no 'num_experts_per_tok'")
    return dict(n_experts=n_experts, n_active_experts=top_k, **moe_layout(n_layers, moe_layers))


def not_native(cfg: Config, what: str) -> None:
    """A layout of a native family that ModelSpec cannot express: hand it to the transformers fallback."""
    from llm_budget.model.hf.registry import UnsupportedModelType  # registry imports this module

    model_type = cfg.get("model_type")
    raise UnsupportedModelType(
        f"config.json (model_type '{model_type}'): {what} is not expressible natively", model_type
    )


def mixtral(cfg: Config) -> Fields:
    """modeling_mixtral.py: Mistral attention (no biases, a window when sliding_window is set: default none);
    MixtralSparseMoeBlock is a router Linear(d, E, bias=False) and E SwiGLU experts without biases.
    Defaults (configuration_mixtral.py): 8 KV heads, 8 experts, top-2."""
    L = required(cfg, "num_hidden_layers")
    return (
        llama_like(cfg, kv=8)
        | window_fields(cfg, L, window_or(cfg, None), every_layer, reads_layer_types=False)
        | dict(
            n_experts=optional(cfg, "num_local_experts", 8),
            n_active_experts=optional(cfg, "num_experts_per_tok", 2),
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
        )
    )


def _qwen_window(cfg: Config) -> int | None:
    """Qwen-MoE's window applies only with use_sliding_window (default 4096; __post_init__ drops it otherwise)."""
    return window_or(cfg, 4096) if cfg.get("use_sliding_window") else None


def _qwen_moe_layers(cfg: Config, n_layers: int) -> list[int]:
    """Qwen2MoeDecoderLayer: MoE when i not in mlp_only_layers and (i + 1) % decoder_sparse_step == 0."""
    step = optional(cfg, "decoder_sparse_step", 1)
    dense = set(optional(cfg, "mlp_only_layers", []))
    return [i for i in range(n_layers) if i not in dense and (i + 1) % step == 0]


def qwen2_moe(cfg: Config) -> Fields:
    """modeling_qwen2_moe.py: Qwen2 attention (q, k, v biases with `qkv_bias`, default true; o without);
    MoE blocks hold a router (gate), E experts of moe_intermediate_size, a shared expert of
    shared_expert_intermediate_size and its sigmoid gate Linear(d, 1); other blocks a dense MLP of intermediate_size."""
    L = required(cfg, "num_hidden_layers")
    max_window = optional(cfg, "max_window_layers", 28)
    moe = experts(
        cfg, optional(cfg, "num_experts", 60), optional(cfg, "num_experts_per_tok", 4), _qwen_moe_layers(cfg, L)
    )
    shared = optional(cfg, "shared_expert_intermediate_size", 5632)
    if moe:
        moe |= dict(d_expert=optional(cfg, "moe_intermediate_size", 1408))
        if not shared:  # a shared expert of width 0 keeps its gate Linear(d, 1): no ModelSpec says that
            not_native(cfg, "shared_expert_intermediate_size 0 (a shared-expert gate without an expert)")
        moe |= dict(d_shared_mlp=shared, shared_expert_gate=True)
    return (
        llama_like(cfg, kv=16)
        | moe
        | window_fields(cfg, L, _qwen_window(cfg), lambda i: bool((i + 1) % 2) and i < max_window)
        | dict(
            attn_qkv_bias=bool(optional(cfg, "qkv_bias", True)),
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
        )
    )


def qwen3_moe(cfg: Config) -> Fields:
    """modeling_qwen3_moe.py: Qwen3 attention (`attention_bias` on q, k, v, o; RMSNorm(head_dim) on q and k);
    MoE blocks hold a router and E experts of moe_intermediate_size, no shared expert."""
    L = required(cfg, "num_hidden_layers")
    bias = bool(optional(cfg, "attention_bias", False))
    moe = experts(
        cfg, optional(cfg, "num_experts", 128), optional(cfg, "num_experts_per_tok", 8), _qwen_moe_layers(cfg, L)
    )
    if moe:
        moe |= dict(d_expert=optional(cfg, "moe_intermediate_size", 768))
    return (
        llama_like(cfg, kv=4)
        | moe
        | window_fields(cfg, L, _qwen_window(cfg), every_layer, reads_layer_types=False)
        | dict(
            attn_qkv_bias=bias,
            attn_out_bias=bias,
            qk_norm="shared",
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
        )
    )


def phimoe(cfg: Config) -> Fields:
    """modeling_phimoe.py: nn.LayerNorm (scale and shift) before attention, before the MoE and at the end;
    q, k, v, o take `attention_bias`; lm_head takes `lm_head_bias`; a router Linear(d, E, bias=False) and
    E SwiGLU experts of intermediate_size (defaults: 16 experts, top-2)."""
    bias = bool(optional(cfg, "attention_bias", False))
    window = window_fields(
        cfg, required(cfg, "num_hidden_layers"), window_or(cfg, None), every_layer, reads_layer_types=False
    )
    return (
        llama_like(cfg, kv=8)
        | window
        | dict(
            n_experts=optional(cfg, "num_local_experts", 16),
            n_active_experts=optional(cfg, "num_experts_per_tok", 2),
            attn_qkv_bias=bias,
            attn_out_bias=bias,
            unembed_bias=bool(optional(cfg, "lm_head_bias", False)),
            norm="layernorm",
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
        )
    )


def granitemoe(cfg: Config) -> Fields:
    """modeling_granitemoe.py: Llama attention (`attention_bias` on q, k, v, o), every block a router and E
    SwiGLU experts of intermediate_size (defaults: 8 experts, top-2); the embedding/residual/logit multipliers
    are scalars, not parameters."""
    bias = bool(optional(cfg, "attention_bias", False))
    return llama_like(cfg) | dict(
        n_experts=optional(cfg, "num_local_experts", 8),
        n_active_experts=optional(cfg, "num_experts_per_tok", 2),
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        activation=activation(cfg.get("hidden_act"), "silu"),
        tied_embeddings=tied(cfg, False),
    )


def gpt_oss(cfg: Config) -> Fields:
    """modeling_gpt_oss.py: q, k, v, o with `attention_bias` (default true) and a learned sink logit per head;
    every block a router Linear(d, E) with bias and E SwiGLU experts with biases (gate_up_proj_bias,
    down_proj_bias); layer_types alternate sliding (window 128) and full attention by default; head_dim 64."""
    L = required(cfg, "num_hidden_layers")
    bias = bool(optional(cfg, "attention_bias", True))
    return (
        llama_like(cfg, head_dim=64, kv=8)
        | window_fields(cfg, L, window_or(cfg, 128), all_but_every(2))
        | dict(
            n_experts=optional(cfg, "num_local_experts", 128),
            n_active_experts=optional(cfg, "num_experts_per_tok", 4),
            attn_qkv_bias=bias,
            attn_out_bias=bias,
            attention_sinks=True,
            mlp_bias=True,
            router_bias=True,
            activation="silu",
            tied_embeddings=tied(cfg, False),
        )
    )


FAMILIES: dict[str, Mapper] = {
    "mixtral": Mapper("mixtral", mixtral, "mixtral/modeling_mixtral.py"),
    "qwen2_moe": Mapper("qwen2-moe", qwen2_moe, "qwen2_moe/modeling_qwen2_moe.py"),
    "qwen3_moe": Mapper("qwen3-moe", qwen3_moe, "qwen3_moe/modeling_qwen3_moe.py"),
    "phimoe": Mapper("phimoe", phimoe, "phimoe/modeling_phimoe.py"),
    "granitemoe": Mapper("granite-moe", granitemoe, "granitemoe/modeling_granitemoe.py"),
    "gpt_oss": Mapper("gpt-oss", gpt_oss, "gpt_oss/modeling_gpt_oss.py"),
}
