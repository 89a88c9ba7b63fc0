"""vLLM's start-up KV-cache arithmetic, worked by hand here from vLLM's own formulas (vllm/v1/core/kv_cache_utils.py,
vllm/v1/kv_cache_interface.py) and the models' config.json sizes; never the calculator's output pasted back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import load_gpu
from llm_budget.model.presets import resolve
from llm_budget.model.spec import ModelSpec
from llm_budget.serving import ServeSetup, engine_version, serve_capacity
from llm_budget.serving.vllm import group_layers

GiB = 2**30
H100 = load_gpu("h100-sxm5-80gb")  # 85,520,809,984 bytes as the driver reports it


def llama31_8b() -> ModelSpec:
    """Llama 3.1 8B: Llama 3 8B's sizes with max_position_embeddings 131,072 (meta-llama/Llama-3.1-8B config.json)."""
    return resolve("llama3-8b").with_overrides(context_window=131072)


def deepseek_v2_lite() -> ModelSpec:
    """DeepSeek-V2-Lite's attention sizes (deepseek-ai/DeepSeek-V2-Lite config.json): 27 layers, 16 heads,
    kv_lora_rank 512, qk_rope_head_dim 64, qk_nope_head_dim 128, v_head_dim 128, no q_lora; 163,840 positions."""
    return ModelSpec(
        d_embed=2048,
        n_heads=16,
        n_layers=27,
        n_vocab=102400,
        d_mlp=10944,
        mlp="gated",
        mla=dict(kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128),
        context_window=163840,
    )


def test_llama31_8b_blocks_tokens_concurrency_by_hand() -> None:
    # page_size_bytes = 2 (K, V) · 16 tokens · 8 kv heads · 128 · 2 bytes = 65,536; 32 layers share one group.
    available = 40 * GiB
    r = serve_capacity(llama31_8b(), H100, ServeSetup(kv_cache_memory_bytes=available, max_num_batched_tokens=8192))
    assert r.page_bytes == 2 * 16 * 8 * 128 * 2 == 65536
    assert r.group_size == 32
    assert r.num_blocks == available // 65536 // 32 == 20480
    assert r.kv_cache_tokens == 20480 * 16 == 327680  # 'GPU KV cache size: 327,680 tokens'
    # one 131,072-token request: cdiv(131072, 16) = 8,192 blocks -> 20480 / 8192 = 2.50x
    assert r.max_concurrency == pytest.approx(2.5)
    assert [c.concurrency for c in r.by_length] == [20480 / 128, 20480 / 512, 20480 / 2048, 20480 / 8192]
    assert r.starts and "GPU KV cache size: 327,680 tokens" in r.log_lines


def test_llama31_8b_budget_from_utilization() -> None:
    # requested = int(total × 0.9); weights = 8,030,261,248 parameters × 2 bytes (bf16), the rest subtracted
    r = serve_capacity(llama31_8b(), H100, ServeSetup(max_num_seqs=256, max_num_batched_tokens=8192))
    assert r.requested_bytes == int(85520809984 * 0.9)
    weights = next(b for b in r.budget if b.name == "weights")
    assert weights.bytes == 8_030_261_248 * 2
    assert r.available_kv_bytes == r.requested_bytes - sum(b.bytes for b in r.budget)
    assert r.num_blocks == r.available_kv_bytes // 65536 // 32
    # a checkpoint's stored bytes replace the spec's (e.g. an FP8 checkpoint of ~8.5 GB)
    q = serve_capacity(
        llama31_8b(), H100, ServeSetup(max_num_seqs=256, max_num_batched_tokens=8192, weights_bytes=8_500_000_000)
    )
    assert q.available_kv_bytes - r.available_kv_bytes == 8_030_261_248 * 2 - 8_500_000_000


def test_fp8_kv_cache_halves_the_page() -> None:
    r = serve_capacity(llama31_8b(), H100, ServeSetup(kv_cache_memory_bytes=40 * GiB, kv_cache_dtype="fp8"))
    assert r.page_bytes == 2 * 16 * 8 * 128 * 1
    assert r.num_blocks == 40 * GiB // 32768 // 32 == 40960


def test_refuses_when_one_request_does_not_fit() -> None:
    # 10 GiB: one 131,072-token request needs 32 · 65,536 · 8,192 B = 16 GiB; the longest that fits:
    # 32 · 65,536 · cdiv(n, 16) ≤ 10 GiB  ->  cdiv(n, 16) ≤ 5,120  ->  n ≤ 81,920
    r = serve_capacity(llama31_8b(), H100, ServeSetup(kv_cache_memory_bytes=10 * GiB))
    assert not r.starts
    assert r.error is not None
    assert "max seq len (131072), (16.00 GiB KV cache is needed" in r.error
    assert "available KV cache memory (10.00 GiB)" in r.error
    assert "the estimated maximum model length is 81920" in r.error


def test_mistral_sliding_window_needs_only_the_window() -> None:
    # Mistral 7B v0.1: every layer slides over 4,096 tokens; one group of 32 layers.
    # SlidingWindowSpec: cdiv(min(4096 − 1 + 8192, 32768), 16) + 1 = cdiv(12287, 16) + 1 = 769 blocks per request
    spec = resolve("mistral-7b")
    r = serve_capacity(spec, H100, ServeSetup(kv_cache_memory_bytes=40 * GiB, max_num_batched_tokens=8192))
    assert r.num_blocks == 40 * GiB // 65536 // 32 == 20480
    assert r.groups[0].kind == "sliding" and r.groups[0].blocks_per_request == 769
    assert r.max_concurrency == pytest.approx(20480 / 769)
    # before the hybrid manager (0.8) the one kind is still a sliding spec; in V0 (0.6) concurrency is tokens / len
    v0 = serve_capacity(spec, H100, ServeSetup(kv_cache_memory_bytes=40 * GiB, engine_version="0.6"))
    assert v0.max_concurrency == pytest.approx(20480 * 16 / 32768)
    assert v0.log_lines[0] == "# GPU blocks: 20480"


def test_hybrid_grouping_and_padding() -> None:
    # Gemma 3-like 5 sliding : 1 full over 12 layers -> 10 sliding, 2 full: group_size 2, 5 + 1 groups
    assert group_layers({"sliding": 10, "full": 2}, hybrid=True) == (2, {"sliding": (5, 10), "full": (1, 2)})
    # gpt-oss-like 12 : 13 (< 1.5×) -> group_size 13, one group each, the sliding one padded
    assert group_layers({"sliding": 12, "full": 13}, hybrid=True) == (13, {"sliding": (1, 12), "full": (1, 13)})
    # without the hybrid manager every layer is full attention, one group
    assert group_layers({"sliding": 10, "full": 2}, hybrid=False) == (12, {"full": (1, 12)})
    spec = ModelSpec(
        d_embed=1024,
        n_heads=8,
        n_kv_heads=4,
        n_layers=12,
        n_vocab=1000,
        d_mlp=4096,
        sliding_window=1024,
        layer_pattern=("sliding_attention",) * 5 + ("full_attention",),
        context_window=32768,
    )
    setup = ServeSetup(kv_cache_memory_bytes=GiB, max_num_batched_tokens=2048)
    r = serve_capacity(spec, H100, setup)
    page = 2 * 16 * 4 * 128 * 2  # 32,768
    assert r.num_blocks == GiB // page // 2 == 16384
    assert r.kv_cache_tokens == 16384 // 6 * 16  # num_blocks // len(groups) × block_size
    # per request: 5 sliding groups × (cdiv(min(1023 + 2048, 32768), 16) + 1 = 193) + 1 full × 2048
    assert r.max_concurrency == pytest.approx(16384 / (5 * 193 + 2048))


def test_mla_latent_page() -> None:
    # MLAAttentionSpec: block_size · 1 · (512 + 64) · 2 bytes = 18,432 per layer, 27 layers, not split by TP
    spec = deepseek_v2_lite()
    r = serve_capacity(spec, H100, ServeSetup(kv_cache_memory_bytes=10 * GiB, max_model_len=32768))
    assert r.page_bytes == 16 * 576 * 2 == 18432
    assert r.num_blocks == 10 * GiB // 18432 // 27
    assert r.kv_cache_tokens == r.num_blocks * 16
    assert r.max_concurrency == pytest.approx(r.num_blocks / 2048)
    tp2 = serve_capacity(spec, H100, ServeSetup(kv_cache_memory_bytes=10 * GiB, tensor_parallel_size=2))
    assert tp2.page_bytes == 18432  # the latent is replicated, not split
    ds = serve_capacity(spec, H100, ServeSetup(kv_cache_memory_bytes=10 * GiB, kv_cache_dtype="fp8_ds_mla"))
    assert ds.page_bytes == 16 * 656


def test_tensor_parallel_heads_per_rank() -> None:
    spec = llama31_8b()
    tp2 = serve_capacity(spec, H100, ServeSetup(kv_cache_memory_bytes=40 * GiB, tensor_parallel_size=2))
    assert tp2.page_bytes == 2 * 16 * 4 * 128 * 2  # 8 kv heads / 2 ranks
    assert tp2.num_blocks == 40 * GiB // 32768 // 32 == 40960
    # TP 16 > 8 kv heads: each rank keeps one (replicated) head
    tp16 = serve_capacity(spec, H100, ServeSetup(kv_cache_memory_bytes=40 * GiB, tensor_parallel_size=16))
    assert tp16.page_bytes == 2 * 16 * 1 * 128 * 2
    budget = serve_capacity(spec, H100, ServeSetup(tensor_parallel_size=2, max_num_batched_tokens=8192))
    assert next(b for b in budget.budget if b.name == "weights").bytes == 8_030_261_248 * 2 // 2
    with pytest.raises(LLMBudgetError, match="does not divide the 32 attention heads"):
        serve_capacity(spec, H100, ServeSetup(tensor_parallel_size=3))


def test_pipeline_parallel_takes_the_fullest_stage() -> None:
    # 32 layers over 3 stages: 11, 11, 10 (get_pp_indices); the 11-layer stage sets the blocks
    r = serve_capacity(llama31_8b(), H100, ServeSetup(kv_cache_memory_bytes=40 * GiB, pipeline_parallel_size=3))
    assert r.group_size == 11
    assert r.num_blocks == 40 * GiB // 65536 // 11


def test_bad_input() -> None:
    with pytest.raises(ValidationError):
        ServeSetup(gpu_memory_utilization=0)
    with pytest.raises(ValidationError):
        ServeSetup(gpu_memory_utilization=1.2)
    with pytest.raises(LLMBudgetError, match="VLLM_ALLOW_LONG_MAX_MODEL_LEN"):
        serve_capacity(resolve("llama3-8b"), H100, ServeSetup(max_model_len=16384))
    ok = serve_capacity(
        resolve("llama3-8b"),
        H100,
        ServeSetup(max_model_len=16384, allow_long_max_model_len=True, kv_cache_memory_bytes=GiB),
    )
    assert ok.max_model_len == 16384
    with pytest.raises(LLMBudgetError, match="older than any modelled release"):
        engine_version("vllm", "0.5")
    with pytest.raises(LLMBudgetError, match="not a vllm release"):
        engine_version("vllm", "latest")
    assert engine_version("vllm", "v0.11.2").version == "0.10"


def test_release_budgets_differ_as_the_worker_code_does() -> None:
    spec, setup = llama31_8b(), dict(max_num_seqs=256, max_num_batched_tokens=8192)
    v010 = serve_capacity(spec, H100, ServeSetup(engine_version="0.10", **setup))
    v019 = serve_capacity(spec, H100, ServeSetup(engine_version="0.19", **setup))
    eager = serve_capacity(spec, H100, ServeSetup(engine_version="0.19", enforce_eager=True, **setup))
    graphs = next(b.bytes for b in v019.budget if b.name == "CUDA graphs")
    assert v010.available_kv_bytes - v019.available_kv_bytes == graphs  # 0.19 also subtracts the graphs
    assert eager.available_kv_bytes == v010.available_kv_bytes  # --enforce-eager captures none
    assert "Available KV cache memory" in v010.log_lines[0]
    assert serve_capacity(spec, H100, ServeSetup(engine_version="0.6", **setup)).log_lines[0].startswith("# GPU blocks")


def test_gpt_oss_like_hybrid_refusal_by_hand() -> None:
    # gpt-oss-120b's attention: 36 layers alternating sliding (128) and full, 8 kv heads of 64; 18 + 18 layers
    # -> group_size 18, one group each; page = 2 · 16 · 8 · 64 · 2 = 32,768 B.
    # one 131,072-token request: full cdiv(131072, 16) = 8,192 blocks; sliding cdiv(min(127 + 1024, 131072), 16)
    # + 1 = 73 -> needed = 18 · 32,768 · (8,192 + 73) = 4,874,895,360 B = 4.54 GiB > 1.71 GiB (vllm#27508's log)
    spec = ModelSpec(
        d_embed=2880,
        n_heads=64,
        n_kv_heads=8,
        d_head=64,
        n_layers=36,
        n_vocab=201088,
        d_mlp=2880,
        sliding_window=128,
        layer_pattern=("sliding_attention", "full_attention"),
        context_window=131072,
    )
    available = int(1.71 * GiB)
    r = serve_capacity(spec, H100, ServeSetup(kv_cache_memory_bytes=available, max_num_batched_tokens=1024))
    assert r.group_size == 18 and {g.kind: g.blocks_per_request for g in r.groups} == {"sliding": 73, "full": 8192}
    assert not r.starts and r.error is not None
    assert f"({18 * 32768 * (8192 + 73) / GiB:.2f} GiB KV cache is needed" in r.error
    # the longest that fits: 18 · 32,768 · (cdiv(n, 16) + 73) ≤ available (n ≥ 1,151, where the window is full)
    longest = (available // (18 * 32768) - 73) * 16
    assert f"the estimated maximum model length is {longest}." in r.error
