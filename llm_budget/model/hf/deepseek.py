"""Mappers of the DeepSeek-style decoders: shared experts beside fine-grained routed experts, leading dense blocks.

DeepSeek-V2/V3 (and Kimi K2, a DeepSeek-V3 config) use multi-head latent attention (MLA, DeepSeek-V2 §2.1);
GLM-4.5 keeps grouped-query attention with partial rotary and optional QK-norm. Each follows
transformers/models/<model_type>/modeling_<model_type>.py and the defaults of its configuration file.
The routers' e_score_correction_bias (V3, GLM-4.5) is a buffer in transformers, not a parameter: it is
not counted (the checkpoints store it: E floats per MoE block).
"""

from __future__ import annotations

from typing import Any

from llm_budget.model.hf.attention import rotary_fraction
from llm_budget.model.hf.keys import Config, Fields, Mapper, activation, optional, required, tied
from llm_budget.model.hf.llama import llama_like
from llm_budget.model.hf.moe import experts, not_native


def _deepseek_moe(cfg: Config, defaults: dict[str, Any]) -> Fields:
    """DeepseekV{2,3}DecoderLayer: block i ≥ first_k_dense_replace is a MoE of n_routed_experts experts of
    moe_intermediate_size, a router, and one shared MLP of n_shared_experts × moe_intermediate_size;
    earlier blocks a dense MLP of intermediate_size (GLM-4.5 the same: modeling_glm4_moe.py)."""
    L = required(cfg, "num_hidden_layers")
    first = optional(cfg, "first_k_dense_replace", defaults["first_k_dense_replace"])
    width = optional(cfg, "moe_intermediate_size", defaults["moe_intermediate_size"])
    n_shared = optional(cfg, "n_shared_experts", defaults["n_shared_experts"])
    top_k = optional(cfg, "num_experts_per_tok", defaults["num_experts_per_tok"])
    moe = experts(cfg, optional(cfg, "n_routed_experts", defaults["n_routed_experts"]), top_k, range(first, L))
    if moe:
        moe |= dict(d_expert=width)
        if n_shared * width:
            moe |= dict(d_shared_mlp=n_shared * width)
    return (
        dict(
            d_embed=required(cfg, "hidden_size"),
            n_heads=required(cfg, "num_attention_heads"),
            n_layers=L,
            n_vocab=required(cfg, "vocab_size"),
            d_mlp=required(cfg, "intermediate_size"),
            mlp="gated",
            norm="rmsnorm",
            position="rotary",
            activation=activation(cfg.get("hidden_act"), "silu"),
            tied_embeddings=tied(cfg, False),
            context_window=cfg.get("max_position_embeddings"),
        )
        | moe
    )


def _mla(cfg: Config) -> Fields:
    """DeepseekV{2,3}Attention: q_a_proj (`attention_bias`) -> q_a_layernorm -> q_b_proj, or one q_proj
    when q_lora_rank is null; kv_a_proj_with_mqa (`attention_bias`) -> kv_a_layernorm -> kv_b_proj;
    o_proj (`attention_bias`). Defaults: q_lora_rank 1536, kv_lora_rank 512, nope 128, rope 64, v 128."""
    bias = bool(optional(cfg, "attention_bias", False))
    return dict(
        mla=dict(
            q_lora_rank=cfg.get("q_lora_rank", 1536),  # null: one q_proj
            kv_lora_rank=optional(cfg, "kv_lora_rank", 512),
            qk_nope_head_dim=optional(cfg, "qk_nope_head_dim", 128),
            qk_rope_head_dim=optional(cfg, "qk_rope_head_dim", 64),
            v_head_dim=optional(cfg, "v_head_dim", 128),
        ),
        attn_qkv_bias=bias,
        attn_out_bias=bias,
    )


def deepseek_v2(cfg: Config) -> Fields:
    """modeling_deepseek_v2.py: MLA; defaults 64 routed experts of 1407, 2 shared, no leading dense block.
    DeepseekV2MLP's `mlp_bias` reaches dense and shared MLPs but not the routed experts: not expressible."""
    if optional(cfg, "mlp_bias", False):
        not_native(cfg, "mlp_bias true (biases on dense and shared MLPs, none on routed experts)")
    defaults = dict(
        first_k_dense_replace=0, moe_intermediate_size=1407, n_shared_experts=2, n_routed_experts=64,
        num_experts_per_tok=None,
    )  # fmt: skip
    return _deepseek_moe(cfg, defaults) | _mla(cfg)


def deepseek_v3(cfg: Config) -> Fields:
    """modeling_deepseek_v3.py: MLA; defaults 256 routed experts of 2048, 1 shared, top-8, 3 leading dense
    blocks. num_nextn_predict_layers (transformers' num_mtp_layers, default 1) MTP blocks ship in the
    checkpoint but are not built by transformers: counted apart (n_mtp_layers)."""
    defaults = dict(
        first_k_dense_replace=3, moe_intermediate_size=2048, n_shared_experts=1, n_routed_experts=256,
        num_experts_per_tok=8,
    )  # fmt: skip
    return _deepseek_moe(cfg, defaults) | _mla(cfg) | dict(n_mtp_layers=optional(cfg, "num_nextn_predict_layers", 1))


def glm4_moe(cfg: Config) -> Fields:
    """modeling_glm4_moe.py: q, k, v take `attention_bias`, o none; RMSNorm(head_dim) on q and k with
    use_qk_norm; rotary on partial_rotary_factor (default 0.5) of each head; DeepSeek-V3's MoE layout
    (defaults 128 experts of 1408, 1 shared, top-8, 1 leading dense block) and MTP blocks counted apart."""
    defaults = dict(
        first_k_dense_replace=1, moe_intermediate_size=1408, n_shared_experts=1, n_routed_experts=128,
        num_experts_per_tok=8,
    )  # fmt: skip
    return (
        llama_like(cfg, kv=8)
        | _deepseek_moe(cfg, defaults)
        | dict(
            attn_qkv_bias=bool(optional(cfg, "attention_bias", False)),
            qk_norm="shared" if cfg.get("use_qk_norm") else "none",
            rotary_fraction=rotary_fraction(cfg, 0.5),
            n_mtp_layers=optional(cfg, "num_nextn_predict_layers", 1),
        )
    )


FAMILIES: dict[str, Mapper] = {
    "deepseek_v2": Mapper("deepseek", deepseek_v2, "deepseek_v2/modeling_deepseek_v2.py"),
    "deepseek_v3": Mapper("deepseek", deepseek_v3, "deepseek_v3/modeling_deepseek_v3.py"),
    "glm4_moe": Mapper("glm4-moe", glm4_moe, "glm4_moe/modeling_glm4_moe.py"),
}
