"""The KV cache per layer kind equals what transformers' own cache holds after a prefill under fake tensors.

Tiny configs of gemma2 and gemma3_text (sliding + full), gpt_oss (sinks + sliding), deepseek_v3 (MLA) and
llama4_text (chunked + full) are built with transformers' configuration classes; a prefill with use_cache=True
runs under FakeTensorMode and the cache tensors' bytes are summed per layer. The ModelSpec of each is written
here from the same sizes (the attention fields are what the cache depends on).
"""

from __future__ import annotations

import pytest

from llm_budget.hardware import Precision
from llm_budget.memory.kv import kv_cache, kv_cache_bytes
from llm_budget.model.spec import MLA, ModelSpec

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

S, F = "sliding_attention", "full_attention"
BATCH = 2
COMMON = dict(hidden_size=64, num_attention_heads=4, intermediate_size=96, vocab_size=128)
GQA = dict(num_key_value_heads=2, head_dim=16)
BASE_SPEC = dict(d_embed=64, n_heads=4, n_vocab=128, d_mlp=96)


def _configs():  # type: ignore[no-untyped-def]
    t = transformers
    return {
        "gemma2": t.Gemma2Config(**COMMON, **GQA, num_hidden_layers=4, sliding_window=8),
        "gemma3_text": t.Gemma3TextConfig(**COMMON, **GQA, num_hidden_layers=7, sliding_window=8),
        "gpt_oss": t.GptOssConfig(
            **{**COMMON, "intermediate_size": 32}, **GQA, num_hidden_layers=3, sliding_window=8,
            num_local_experts=4, num_experts_per_tok=2,
        ),
        "deepseek_v3": t.DeepseekV3Config(
            **COMMON, num_key_value_heads=4, q_lora_rank=32, kv_lora_rank=16, qk_nope_head_dim=8,
            qk_rope_head_dim=4, v_head_dim=12, num_hidden_layers=3, first_k_dense_replace=1, n_routed_experts=4,
            num_experts_per_tok=2, n_shared_experts=1, moe_intermediate_size=32, n_group=1, topk_group=1,
        ),
        "llama4_text": t.Llama4TextConfig(
            **COMMON, **GQA, num_hidden_layers=5, intermediate_size_mlp=128, attention_chunk_size=8,
            num_local_experts=2, num_experts_per_tok=1,
        ),
    }  # fmt: skip


SPECS = {
    # the attention of each config above: heads, KV heads, head size, layer kinds and their window or chunk
    "gemma2": ModelSpec(**BASE_SPEC, n_layers=4, n_kv_heads=2, d_head=16, sliding_window=8, layer_pattern=(S, F)),
    "gemma3_text": ModelSpec(
        **BASE_SPEC, n_layers=7, n_kv_heads=2, d_head=16, sliding_window=8, layer_pattern=(S, S, S, S, S, F)
    ),
    "gpt_oss": ModelSpec(
        **BASE_SPEC, n_layers=3, n_kv_heads=2, d_head=16, sliding_window=8, layer_pattern=(S, F), attention_sinks=True
    ),
    "deepseek_v3": ModelSpec(
        **BASE_SPEC,
        n_layers=3,
        mla=MLA(q_lora_rank=32, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4, v_head_dim=12),
    ),
    "llama4_text": ModelSpec(
        **BASE_SPEC,
        n_layers=5,
        n_kv_heads=2,
        d_head=16,
        attention_chunk=8,
        layer_pattern=("chunked_attention",) * 3 + (F,),
    ),
}


def _prefill_cache(cfg, prompt: int, per_head: list[int] | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    """Bytes of each layer's cache tensors after a bf16 prefill of BATCH × prompt tokens under fake tensors.
    per_head: filled with the bytes of MLA's up-projected keys and values per layer (DeepseekV3Attention.expand_kv)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    from llm_budget.probe.hf import real_run_paths

    attention = transformers.models.deepseek_v3.modeling_deepseek_v3.DeepseekV3Attention
    expand = attention.expand_kv

    def recording(self, kv_nope, k_rot):  # type: ignore[no-untyped-def]
        k, v = expand(self, kv_nope, k_rot)
        if per_head is not None:
            per_head.append(k.nbytes + v.nbytes)
        return k, v

    attention.expand_kv = recording
    try:
        with FakeTensorMode(), real_run_paths():
            model = transformers.AutoModelForCausalLM.from_config(
                cfg, dtype=torch.bfloat16, attn_implementation="eager"
            )
            with torch.no_grad():
                out = model(input_ids=torch.randint(0, 128, (BATCH, prompt)), use_cache=True)
            return [layer.keys.nbytes + layer.values.nbytes for layer in out.past_key_values.layers]
    finally:
        attention.expand_kv = expand


@pytest.fixture(scope="module")
def configs():  # type: ignore[no-untyped-def]
    transformers.logging.set_verbosity_error()
    return _configs()


@pytest.mark.slow  # a fake-tensor prefill per case: about a second
@pytest.mark.parametrize("family", sorted(SPECS))
def test_kv_cache_equals_transformers_cache_below_the_window(configs, family):
    spec, cfg = SPECS[family], configs[family]
    assert list(cfg.layer_types if hasattr(cfg, "layer_types") and cfg.layer_types else [F] * spec.n_layers) == [
        spec.layer_kind(i).value for i in range(spec.n_layers)
    ]
    measured = _prefill_cache(cfg, prompt=6)
    cache = kv_cache(spec, batch=BATCH, tokens=6, precision=Precision.bf16)
    assert cache.total_bytes == sum(measured)
    for row in cache.rows:
        layers = [i for i in range(spec.n_layers) if spec.layer_kind(i).value == row.kind]
        assert row.layers == len(layers)
        assert row.bytes == sum(measured[i] for i in layers)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gemma2", "gemma3_text", "gpt_oss", "llama4_text"])
def test_past_the_window_a_step_reads_the_window_transformers_keeps_one_less(configs, family):
    """DynamicSlidingWindowLayer keeps the last window − 1 positions and concatenates the new one: a decode step
    reads `window` positions per sliding (and chunked) layer, the row's figure; full layers hold all 20."""
    spec, cfg = SPECS[family], configs[family]
    measured = _prefill_cache(cfg, prompt=20)
    capped = [i for i in range(spec.n_layers) if spec.layer_kind(i).value != F]
    per_position = BATCH * 2 * 2 * 16 * 2  # batch × (K, V) × 2 KV heads × d_head 16 × 2 bytes
    for i in capped:
        assert measured[i] == 7 * per_position  # window 8 − 1
    for i in set(range(spec.n_layers)) - set(capped):
        assert measured[i] == 20 * per_position
    ours = kv_cache_bytes(spec, batch=BATCH, tokens=20, precision=Precision.bf16)
    assert ours == sum(measured) + len(capped) * per_position


@pytest.mark.slow
def test_mla_layouts_latent_as_transformers_caches_it_and_per_head_as_it_expands_it(configs):
    per_head: list[int] = []
    measured = _prefill_cache(configs["deepseek_v3"], prompt=6, per_head=per_head)
    spec = SPECS["deepseek_v3"]
    # transformers caches the normed latent (kv_lora_rank 16) and the rotated shared key (qk_rope_head_dim 4)
    assert measured == [BATCH * 6 * (16 + 4) * 2] * 3
    assert kv_cache_bytes(spec, batch=BATCH, tokens=6, precision=Precision.bf16, layout="latent") == sum(measured)
    # per head: keys of qk_head_dim 8 + 4 and values of v_head_dim 12 for each of the 4 heads
    assert per_head == [BATCH * 6 * 4 * (12 + 12) * 2] * 3
    cache = kv_cache(spec, batch=BATCH, tokens=6, precision=Precision.bf16, layout="per_head")
    assert cache.layout == "per_head" and cache.total_bytes == sum(per_head)


def test_rows_per_kind_and_what_grows():
    """Gemma 3's 5:1 pattern at 32k tokens: 52 of 62 layers capped at the 1,024 window (arithmetic here)."""
    spec = ModelSpec(
        d_embed=5376, n_heads=32, n_layers=62, n_vocab=262_208, d_mlp=21_504, n_kv_heads=16, d_head=128,
        sliding_window=1024, layer_pattern=(S,) * 5 + (F,),
    )  # fmt: skip
    cache = kv_cache(spec, batch=1, tokens=32_768, precision=Precision.bf16)
    rows = {r.kind: r for r in cache.rows}
    per_token_layer = 2 * 16 * 128 * 2
    assert rows[S].layers == 52 and rows[F].layers == 10
    assert rows[S].bytes == 52 * per_token_layer * 1024 and rows[S].cap == 1024
    assert rows[F].bytes == 10 * per_token_layer * 32_768 and rows[F].cap is None
    assert cache.bytes_per_token == 62 * per_token_layer


def test_mistral_all_sliding_and_gqa_unchanged():
    """Mistral 7B v0.1: every layer slides over 4,096 positions (32 layers, 8 KV heads of 128)."""
    m = ModelSpec(d_embed=4096, n_heads=32, n_layers=32, n_vocab=32000, d_mlp=14336, n_kv_heads=8, sliding_window=4096)
    assert kv_cache_bytes(m, batch=1, tokens=32768, precision=Precision.bf16) == 2 * 32 * 8 * 128 * 2 * 4096
    assert [r.kind for r in kv_cache(m, batch=1, tokens=10, precision=Precision.bf16).rows] == [S]
