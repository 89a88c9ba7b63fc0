"""The one Hugging Face name -> counter row mapping, held to transformers' own models on the meta device:
grouping a model's named parameters by row gives our counter's rows (fused tensors = the sum of their rows)."""

from __future__ import annotations

from collections import Counter

import pytest

from llm_budget.model.counter import count_params
from llm_budget.model.hf import spec_fields_from_hf
from llm_budget.model.hf.names import FUSED, component_of
from llm_budget.model.spec import ModelSpec

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TINY = dict(hidden_size=64, num_attention_heads=4, num_hidden_layers=2, intermediate_size=96, vocab_size=300)

NATIVE_CONFIGS = {
    "llama": dict(model_type="llama", num_key_value_heads=2, **TINY),
    "gpt2": dict(model_type="gpt2", n_embd=64, n_head=4, n_layer=2, vocab_size=300, n_positions=128),
    "gpt_neox": dict(model_type="gpt_neox", **TINY),
    "bloom": dict(model_type="bloom", hidden_size=64, n_head=4, n_layer=2, vocab_size=300),
    "gemma2": dict(model_type="gemma2", num_key_value_heads=2, head_dim=16, **TINY),
    "qwen2": dict(model_type="qwen2", num_key_value_heads=2, **TINY),
    "qwen3": dict(model_type="qwen3", num_key_value_heads=2, head_dim=16, **TINY),
    "cohere": dict(model_type="cohere", num_key_value_heads=2, use_qk_norm=True, **TINY),
    "phi3": dict(model_type="phi3", num_key_value_heads=2, pad_token_id=0, **TINY),
    "mixtral": dict(model_type="mixtral", num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, **TINY),
}


def hf_rows(cfg) -> Counter:
    """transformers' own parameters on the meta device, summed by component_of(name); tied weights once."""
    config = _config(cfg)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    rows: Counter = Counter()
    for name, p in model.named_parameters():
        rows[component_of(name)] += p.numel()
    return rows


def _config(cfg):
    cfg = dict(cfg)
    return transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)


def our_rows(spec: ModelSpec, fused_in_hf: set) -> Counter:
    """The counter's rows, with the rows of each fused tensor transformers keeps added into the fused row."""
    rows = Counter({c.name: c.count for c in count_params(spec).components if c.count})
    for fused, parts in FUSED.items():
        if fused in fused_in_hf:
            rows[fused] = sum(rows.pop(p, 0) for p in parts)
    return rows


@pytest.mark.parametrize("family", sorted(NATIVE_CONFIGS))
def test_rows_equal_transformers_by_name(family):
    cfg = NATIVE_CONFIGS[family]
    hf = hf_rows(cfg)
    spec = ModelSpec.model_validate(spec_fields_from_hf(cfg))
    assert our_rows(spec, set(hf)) == hf


def test_latent_attention_and_shared_experts_by_name():
    """DeepSeek-V3's MLA, dense leading blocks, shared experts (a spec written from the same sizes)."""
    cfg = dict(
        model_type="deepseek_v3",
        vocab_size=300,
        hidden_size=64,
        intermediate_size=160,
        moe_intermediate_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        n_shared_experts=2,
        n_routed_experts=8,
        num_experts_per_tok=2,
        first_k_dense_replace=1,
        q_lora_rank=24,
        kv_lora_rank=16,
        qk_nope_head_dim=8,
        qk_rope_head_dim=4,
        v_head_dim=12,
        n_group=2,
        topk_group=1,
    )
    spec = ModelSpec(
        d_embed=64, n_heads=4, n_layers=4, n_vocab=300, d_mlp=160, mlp="gated", n_experts=8, n_active_experts=2,
        d_expert=32, d_shared_mlp=2 * 32, first_dense_layers=1,
        mla=dict(q_lora_rank=24, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=12),
    )  # fmt: skip
    hf = hf_rows(cfg)
    assert our_rows(spec, set(hf)) == hf
    assert {"Query down-projection", "KV up-projection", "Shared experts", "Router", "Experts"} <= set(hf)


def test_sinks_and_expert_biases_by_name():
    """gpt-oss: attention sinks, biases on attention, router and experts."""
    cfg = dict(
        model_type="gpt_oss", vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=8, num_key_value_heads=2, head_dim=16, num_local_experts=4, num_experts_per_tok=2,
    )  # fmt: skip
    spec = ModelSpec(
        d_embed=64, n_heads=8, n_kv_heads=2, d_head=16, n_layers=2, n_vocab=300, d_mlp=96, mlp="gated", n_experts=4,
        n_active_experts=2, mlp_bias=True, router_bias=True, attn_qkv_bias=True, attn_out_bias=True,
        attention_sinks=True, sliding_window=128, layer_pattern=["sliding_attention", "full_attention"],
    )  # fmt: skip
    hf = hf_rows(cfg)
    assert our_rows(spec, set(hf)) == hf


@pytest.mark.parametrize(
    "name, row",
    [
        ("model.layers.3.self_attn.q_proj.weight", "Query"),
        ("transformer.h.0.attn.c_proj.weight", "Output"),
        ("transformer.h.0.mlp.c_proj.weight", "Down-projection"),
        ("gpt_neox.layers.0.attention.dense.bias", "Biases"),
        ("model.layers.0.mlp.gate.weight", "Router"),
        ("model.layers.0.mlp.gate_proj.weight", "Gate"),
        ("transformer.blocks.0.ffn.router.layer.weight", "Router"),
        ("transformer.blocks.0.norm_attn_norm.norm_1.weight", "Norms"),
        ("model.layers.0.input_layernorm.bias", "Norms"),
        ("lm_head.bias", "Biases"),
        ("model.decoder.project_in.weight", "Other"),
    ],
)
def test_names_people_meet(name, row):
    assert component_of(name) == row
