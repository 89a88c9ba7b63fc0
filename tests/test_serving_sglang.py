"""SGLang's token pool and the throughput bounds, worked by hand from SGLang's model_runner.py formulas, the
models' config.json sizes, the published parameter count and the GPU datasheet figures in presets/gpus.yaml."""

from __future__ import annotations

import pytest

from llm_budget.hardware import load_gpu
from llm_budget.model.presets import resolve
from llm_budget.serving import ServeSetup, serve_capacity
from llm_budget.serving.setup import NON_TORCH_AT_START
from llm_budget.serving.sglang import default_mem_fraction_static
from llm_budget.serving.throughput import throughput_bounds
from tests.test_serving_vllm import deepseek_v2_lite, llama31_8b

GiB = 2**30
H100 = load_gpu("h100-sxm5-80gb")
N_LLAMA3_8B = 8_030_261_248  # published parameter count


def test_sglang_pool_llama31_8b_by_hand() -> None:
    # cell_size = kv heads 8 · head_dim 128 · 32 layers · 2 (K, V) · 2 bytes = 131,072 bytes per token
    # rest (GiB) = (total − weights − other) / 2^30 − total / 2^30 · (1 − 0.88); tokens = int(rest · 2^30 // cell)
    r = serve_capacity(llama31_8b(), H100, ServeSetup(engine="sglang"))
    total, weights = 85520809984, 2 * N_LLAMA3_8B
    rest_gib = (total - weights - NON_TORCH_AT_START) / GiB - total / GiB * (1 - 0.88)
    assert r.page_bytes == 8 * 128 * 32 * 2 * 2 == 131072
    assert r.kv_cache_tokens == int(int(rest_gib * GiB) // 131072)
    assert r.log_lines[1] == f"max_total_num_tokens={r.kv_cache_tokens}"
    assert r.max_concurrency == pytest.approx(r.kv_cache_tokens / 131072)


def test_sglang_defaults_and_mla_cell() -> None:
    assert [default_mem_fraction_static(tp) for tp in (1, 2, 4, 8, 16)] == [0.88, 0.87, 0.85, 0.81, 0.79]
    # MLA: (kv_lora_rank 512 + qk_rope_head_dim 64) · 27 layers · 2 bytes, one latent (no separate K and V)
    r = serve_capacity(deepseek_v2_lite(), H100, ServeSetup(engine="sglang", max_model_len=32768))
    assert r.page_bytes == 576 * 27 * 2
    # TP 2: the latent is replicated; GQA heads split (Llama: 4 of 8 per rank)
    assert (
        serve_capacity(deepseek_v2_lite(), H100, ServeSetup(engine="sglang", tensor_parallel_size=2)).page_bytes
        == 31104
    )
    tp2 = serve_capacity(llama31_8b(), H100, ServeSetup(engine="sglang", tensor_parallel_size=2))
    assert tp2.page_bytes == 4 * 128 * 32 * 2 * 2


def test_decode_bounds_by_hand() -> None:
    # one sequence of 8,192 tokens, Llama 3 8B on an H100 SXM: read the weights and its KV cache every step
    spec = resolve("llama3-8b")
    r = serve_capacity(spec, H100, ServeSetup(kv_cache_memory_bytes=40 * GiB))
    weights = 2 * N_LLAMA3_8B
    assert r.weights_bytes_per_rank == weights
    peak = H100.peak_tflops("bf16")
    assert peak is not None
    b = throughput_bounds(spec, H100, r, concurrency=1, context=8192, prompt=8192, peak_tflops=peak)
    kv = 2 * 32 * 8 * 128 * 2 * 8192  # 1 GiB
    flops = 2 * N_LLAMA3_8B + 4 * 32 * 32 * 128 * 8192  # 2N + 4·L·H·Q·T
    bw = H100.bandwidth_gb_s * 1e9
    assert b.kv_bytes_per_sequence == kv
    assert b.memory_time_s == pytest.approx((weights + kv) / bw)
    assert b.compute_time_s == pytest.approx(flops / (peak * 1e12))
    assert b.bound == "memory" and b.decode_tokens_per_s_per_sequence == pytest.approx(bw / (weights + kv))
    assert b.prefill_time_s == pytest.approx(8192 * flops / (peak * 1e12))
    assert b.crossover_batch is None  # at 8k tokens each sequence's KV costs more time than its FLOPs
    short = throughput_bounds(spec, H100, r, concurrency=1, context=128, prompt=128, peak_tflops=peak)
    f128, kv128 = 2 * N_LLAMA3_8B + 4 * 32 * 32 * 128 * 128, 2 * 32 * 8 * 128 * 2 * 128
    assert short.crossover_batch == pytest.approx((weights / bw) / (f128 / (peak * 1e12) - kv128 / bw))


def test_changes_when_vllm_refuses() -> None:
    # Llama 3.1 8B at 131,072 on an L4 does not start; a shorter max_model_len is the engine's own estimate, and
    # an FP8 KV cache halves the page (blocks = the same budget // half the page // 32 layers)
    from llm_budget.serving import serve_view

    l4 = load_gpu("l4-pcie-24gb")
    view = serve_view(llama31_8b(), l4, ServeSetup())
    assert not view.capacity.starts and view.throughput is None
    assert view.capacity.error is not None
    estimate = int(view.capacity.error.split("maximum model length is ")[1].split(".")[0])
    shorter = view.changes[0]
    assert shorter.option == f"--max-model-len {estimate}" and shorter.starts
    fp8 = next(c for c in view.changes if c.option == "--kv-cache-dtype fp8")
    blocks = view.capacity.available_kv_bytes // (2 * 16 * 8 * 128 * 1) // 32
    assert fp8.kv_cache_tokens == blocks * 16
    tp2 = next(c for c in view.changes if c.option == "--tensor-parallel-size 2")
    assert tp2.starts
