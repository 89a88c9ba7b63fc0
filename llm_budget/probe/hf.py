"""The probe on a Hugging Face `transformers` model: an implementation llm-budget did not write.

The model is built from a config.json (transformers is an optional dependency of the probe, never of
the estimators) and trained for two steps like the reference model: `model(input_ids, labels=labels,
use_cache=False).loss` (transformers upcasts the logits to FP32 and keeps shifted labels), AdamW or SGD.

Under fake tensors transformers believes it is being traced and takes another path than a real run:
`masking_utils.find_packed_sequence_indices` returns an index tensor, which makes `create_causal_mask`
materialize a (b, 1, s, s) mask and SDPA repeat K/V for grouped-query attention. A real run with an
unpacked batch gets None there, so the probe patches it to return None (fake and real CPU runs then agree
byte for byte). torch's fake kernel for `_grouped_mm` (MoE experts) accepts only bf16, while the CPU kernel
runs FP32 and FP16 too: for unscaled same-dtype inputs the check is lifted and the kernel's own output
shape returned.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from llm_budget.defaults import sequence_length
from llm_budget.errors import LLMBudgetError
from llm_budget.memory import Recipe, TrainSetup
from llm_budget.model.spec import ModelSpec
from llm_budget.probe.measure import DTYPES, LiveBytes, StepMeasurement, _Meter, make_optimizer, measure_two_steps

# Small models built from the real configuration classes (the probe matrix's transformers side).
SMALL_CONFIGS: dict[str, dict[str, Any]] = {
    "hf-gpt2": dict(
        model_type="gpt2",
        n_embd=256,
        n_head=8,
        n_layer=4,
        n_inner=704,
        vocab_size=8000,
        n_positions=2048,
        resid_pdrop=0.1,
        embd_pdrop=0.1,
        attn_pdrop=0.1,
    ),
    "hf-llama-gqa": dict(
        model_type="llama",
        hidden_size=256,
        num_attention_heads=8,
        num_key_value_heads=2,
        num_hidden_layers=4,
        intermediate_size=704,
        vocab_size=8000,
        max_position_embeddings=2048,
    ),
    "hf-mixtral": dict(
        model_type="mixtral",
        hidden_size=256,
        num_attention_heads=8,
        num_key_value_heads=2,
        num_hidden_layers=4,
        intermediate_size=704,
        vocab_size=8000,
        max_position_embeddings=2048,
        num_local_experts=4,
        num_experts_per_tok=2,
    ),
}

SMALL = dict(hidden_size=256, num_attention_heads=8, num_hidden_layers=4, vocab_size=8000, max_position_embeddings=2048)
GQA = dict(num_key_value_heads=2, head_dim=32)

# The architectures of 2025-26 (issue 10), small, from the same configuration classes.
FAMILY_CONFIGS: dict[str, dict[str, Any]] = {
    "hf-qwen3-moe": dict(
        model_type="qwen3_moe", **SMALL, **GQA, intermediate_size=704, moe_intermediate_size=128, num_experts=4,
        num_experts_per_tok=2, norm_topk_prob=True,  # as Qwen3-30B-A3B's config.json
    ),
    "hf-qwen2-moe": dict(  # shared expert with its sigmoid gate
        model_type="qwen2_moe", **SMALL, num_key_value_heads=2, intermediate_size=704, moe_intermediate_size=128,
        shared_expert_intermediate_size=256, num_experts=4, num_experts_per_tok=2,
    ),
    "hf-deepseek-v3": dict(  # MLA, a dense first block, a shared expert
        model_type="deepseek_v3", **SMALL, num_key_value_heads=8, q_lora_rank=64, kv_lora_rank=64,
        qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32, first_k_dense_replace=1, n_routed_experts=4,
        num_experts_per_tok=2, n_shared_experts=1, moe_intermediate_size=128, intermediate_size=704, n_group=1,
        topk_group=1,
    ),
    "hf-gpt-oss": dict(  # attention sinks, sliding and full layers, expert biases
        model_type="gpt_oss", **SMALL, **GQA, intermediate_size=256, num_local_experts=4, num_experts_per_tok=2,
        sliding_window=64,
    ),
    "hf-gemma3": dict(  # 5 sliding : 1 full, QK-norm, sandwich norms
        model_type="gemma3_text", **{**SMALL, "num_hidden_layers": 6}, **GQA, intermediate_size=704,
        sliding_window=64,
    ),
    "hf-phi": dict(  # parallel block, partial rotary, unembedding bias
        model_type="phi", **SMALL, intermediate_size=1024, partial_rotary_factor=0.5,
    ),
    "hf-falcon": dict(  # multi-query, parallel block, one fused QKV
        model_type="falcon", hidden_size=256, num_attention_heads=8, num_hidden_layers=4, vocab_size=8000,
    ),
    "hf-gpt-bigcode": dict(  # multi-query, learned positions
        model_type="gpt_bigcode", n_embd=256, n_head=8, n_layer=4, n_inner=1024, vocab_size=8000, n_positions=512,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
    ),
    "hf-starcoder2": dict(
        model_type="starcoder2", **SMALL, num_key_value_heads=2, intermediate_size=1024,
    ),
    "hf-olmo2": dict(  # post-norm blocks, QK-norm over all heads
        model_type="olmo2", **SMALL, num_key_value_heads=2, intermediate_size=704,
    ),
    "hf-llama4": dict(  # 3 chunked : 1 full (NoPE) layers, MoE every 2nd block with a shared expert
        model_type="llama4_text", **SMALL, **GQA, intermediate_size=128, intermediate_size_mlp=704,
        num_local_experts=4, num_experts_per_tok=1, attention_chunk_size=64, interleave_moe_layer_step=2,
    ),
}  # fmt: skip
SMALL_CONFIGS.update(FAMILY_CONFIGS)

_BASE = dict(d_embed=256, n_heads=8, n_layers=4, n_vocab=8000, context_window=2048)
_ROPE_GQA = dict(n_kv_heads=2, d_head=32, mlp="gated")
SPEC_FIELDS: dict[str, dict[str, Any]] = {
    # The ModelSpec of each family config above written from the same sizes, for the model_types whose
    # config.json mapper is not native yet (tests check a native mapper gives the same spec).
    "hf-qwen3-moe": dict(
        **_BASE, **_ROPE_GQA, family="qwen3_moe", d_mlp=704, qk_norm="shared", n_experts=4, n_active_experts=2,
        d_expert=128,
    ),
    "hf-qwen2-moe": dict(
        **_BASE, n_kv_heads=2, mlp="gated", family="qwen2_moe", d_mlp=704, attn_qkv_bias=True, n_experts=4,
        n_active_experts=2, d_expert=128, d_shared_mlp=256, shared_expert_gate=True,
    ),
    "hf-deepseek-v3": dict(
        **_BASE, mlp="gated", family="deepseek_v3", d_mlp=704, n_experts=4, n_active_experts=2, d_expert=128,
        d_shared_mlp=128, first_dense_layers=1,
        mla=dict(q_lora_rank=64, kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32),
    ),
    "hf-gpt-oss": dict(
        **_BASE, **_ROPE_GQA, family="gpt_oss", d_mlp=256, attn_qkv_bias=True, attn_out_bias=True,
        attention_sinks=True, sliding_window=64, layer_pattern=("sliding_attention", "full_attention"), n_experts=4,
        n_active_experts=2, router_bias=True, mlp_bias=True,
    ),
    "hf-gemma3": dict(
        **{**_BASE, "n_layers": 6}, **_ROPE_GQA, family="gemma3_text", d_mlp=704, activation="gelu_tanh",
        qk_norm="shared", norms_per_layer=4, tied_embeddings=True, sliding_window=64,
        layer_pattern=("sliding_attention",) * 5 + ("full_attention",),
    ),
    "hf-phi": dict(
        **_BASE, family="phi", d_mlp=1024, activation="gelu_new", norm="layernorm", norms_per_layer=1,
        attn_qkv_bias=True, attn_out_bias=True, mlp_bias=True, unembed_bias=True, rotary_fraction=0.5,
    ),
    "hf-falcon": dict(
        **_BASE, family="falcon", d_mlp=1024, n_kv_heads=1, norm="layernorm", norms_per_layer=1,
        tied_embeddings=True,
    ),
    "hf-gpt-bigcode": dict(
        **_BASE, family="gpt_bigcode", d_mlp=1024, n_kv_heads=1, activation="gelu_tanh", norm="layernorm",
        position="learned", n_positions=512, attn_qkv_bias=True, attn_out_bias=True, mlp_bias=True,
        tied_embeddings=True,
    ),
    "hf-starcoder2": dict(
        **_BASE, family="starcoder2", d_mlp=1024, n_kv_heads=2, activation="gelu_tanh", norm="layernorm",
        attn_qkv_bias=True, attn_out_bias=True, mlp_bias=True, tied_embeddings=True,
    ),
    "hf-olmo2": dict(
        **_BASE, **_ROPE_GQA, family="olmo2", d_mlp=704, qk_norm="per_head",
    ),
    "hf-llama4": dict(
        **_BASE, **_ROPE_GQA, family="llama4_text", d_mlp=704, d_expert=128, d_shared_mlp=128, n_experts=4,
        n_active_experts=1, moe_every=2, attention_chunk=64,
        layer_pattern=("chunked_attention",) * 3 + ("full_attention",),
    ),
}  # fmt: skip


def _transformers():  # type: ignore[no-untyped-def]
    try:
        import transformers
    except ImportError:
        raise LLMBudgetError("probing a Hugging Face model needs transformers: pip install transformers") from None
    transformers.logging.set_verbosity_error()
    return transformers


def read_config(path: str | Path) -> dict[str, Any]:
    from llm_budget.model import read_hf_config

    return read_hf_config(path)


def spec_of(config: dict[str, Any], n_layers: int | None = None) -> ModelSpec:
    """The ModelSpec of the config as transformers completes it (its defaults included); for one of the
    family configs above whose model_type has no native mapper yet, the spec written from its sizes."""
    from llm_budget.model import spec_fields_from_hf
    from llm_budget.model.hf import UnsupportedModelType
    from llm_budget.model.presets import spec_from_mapping

    # transformers' to_dict() writes some keys under their canonical name (Qwen3-MoE's num_experts as
    # num_local_experts): the config's own keys, as its config.json spells them, are laid over it
    full = {**_config(config).to_dict(), **config}
    try:
        spec = spec_from_mapping(spec_fields_from_hf(full), f"{config.get('model_type')} config")
    except UnsupportedModelType:
        name = next((k for k, v in FAMILY_CONFIGS.items() if v == config), None)
        if name is None:
            raise
        spec = ModelSpec(**SPEC_FIELDS[name])
    return spec.with_overrides(n_layers=n_layers) if n_layers else spec


def _config(config: dict[str, Any], n_layers: int | None = None):  # type: ignore[no-untyped-def]
    t = _transformers()
    d = dict(config)
    model_type = d.pop("model_type")
    for key in ("torch_dtype", "dtype", "architectures", "_name_or_path", "transformers_version"):
        d.pop(key, None)
    if n_layers:
        d["n_layer" if model_type == "gpt2" else "num_hidden_layers"] = n_layers
    return t.AutoConfig.for_model(model_type, **d)


@contextlib.contextmanager
def real_run_paths() -> Iterator[None]:
    """Make transformers take the path of a real, unpacked run under fake tensors (see the module docstring)."""
    _transformers()
    from transformers import masking_utils

    orig_find = masking_utils.find_packed_sequence_indices
    masking_utils.find_packed_sequence_indices = lambda position_ids: None
    import torch._meta_registrations as meta

    orig_gmm = getattr(meta, "_meta_grouped_mm_common", None)
    if orig_gmm is not None:

        def grouped_mm(  # type: ignore[no-untyped-def]
            mat_a,
            mat_b,
            scale_a=None,
            scale_b=None,
            offs=None,
            bias=None,
            scale_result=None,
            out_dtype=None,
            use_fast_accum=False,
        ):  # type: ignore[no-untyped-def]
            if (
                scale_a is None
                and scale_b is None
                and mat_a.dtype == mat_b.dtype
                and mat_a.dtype in (torch.float32, torch.float16)
            ):
                return meta._create_grouped_mm_output_tensor(mat_a, mat_b, offs, out_dtype)
            return orig_gmm(
                mat_a,
                mat_b,
                scale_a=scale_a,
                scale_b=scale_b,
                offs=offs,
                bias=bias,
                scale_result=scale_result,
                out_dtype=out_dtype,
                use_fast_accum=use_fast_accum,
            )

        meta._meta_grouped_mm_common = grouped_mm
    try:
        yield
    finally:
        masking_utils.find_packed_sequence_indices = orig_find
        if orig_gmm is not None:
            meta._meta_grouped_mm_common = orig_gmm


def measure_hf_step(config: dict[str, Any], setup: TrainSetup, *, path: str) -> StepMeasurement:
    """Two training steps of the transformers model; the second is measured (like measure_training_step)."""
    t = _transformers()
    device = "cuda" if path == "cuda" else "cpu"
    amp = setup.resolved_recipe is Recipe.mixed
    dtype = DTYPES.get(setup.precision, torch.bfloat16)
    storage = dtype if setup.resolved_recipe is Recipe.pure else torch.float32
    cfg = _config(config, setup.n_layers)
    seq = sequence_length(setup.seq, None)
    m = StepMeasurement(path=path, device=torch.cuda.get_device_name() if path == "cuda" else "cpu")
    fake = contextlib.nullcontext()
    if path == "fake":
        from torch._subclasses.fake_tensor import FakeTensorMode

        fake = FakeTensorMode()  # type: ignore[assignment]
    if path == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    tracker = None if path == "cuda" else LiveBytes()
    meter = _Meter(path, tracker)
    with fake, real_run_paths():
        before = meter.now()
        with torch.device(device):
            model = t.AutoModelForCausalLM.from_config(cfg, attn_implementation=setup.attention, dtype=storage)
        model.train()
        if setup.checkpointing.value == "full":
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        elif setup.checkpointing.value != "none":
            raise LLMBudgetError("transformers models checkpoint whole blocks: use --checkpointing full or none")
        params = list(model.parameters())
        if tracker is not None:
            tracker.track(params)
            tracker.track(list(model.buffers()))
        m.weights = meter.now() - before
        opt = make_optimizer(model, setup)
        ids = torch.randint(0, cfg.vocab_size, (setup.batch, seq), device=device)
        labels = torch.randint(0, cfg.vocab_size, (setup.batch, seq), device=device)
        if tracker is not None:
            tracker.track([ids, labels])

        def forward() -> torch.Tensor:
            with torch.autocast(device, dtype=dtype) if amp else contextlib.nullcontext():
                return model(input_ids=ids, labels=labels, use_cache=False).loss  # noqa: F821 (deleted after the step)

        measure_two_steps(m, meter, opt, forward, tracker=tracker, cuda=path == "cuda")
        del model, opt, params
    return m


def config_from_file(path: str) -> dict[str, Any]:
    cfg = read_config(path)
    json.dumps(cfg)  # plain JSON
    return cfg
