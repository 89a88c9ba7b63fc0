"""`llm-budget compute`: training FLOPs, time, GPU-hours, implied MFU of published runs, decode bounds.

Expected values are written here from papers, model cards and datasheets, and recomputed with
independent arithmetic in the test; none is pasted from the code's output.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.compute import (
    COMPUTE_PRECISIONS,
    estimate_compute,
    forward_flops_per_token,
    model_size,
    storage_bits,
    training_flops,
    training_flops_per_token,
    training_run,
)
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import load_gpu
from llm_budget.model.presets import resolve

runner = CliRunner()
A100_BF16 = 312e12  # A100 dense BF16 tensor peak, FLOP/s (NVIDIA A100 datasheet; the LLaMA papers' hardware)


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def run_json(*args: str) -> dict:
    r = run(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


# -- published runs: the MFU their GPU-hours imply ------------------------------------------------------------
#
# LLaMA (Touvron et al. 2023, arXiv 2302.13971): Table 2 gives 6.7B / 65.2B parameters trained on
# 1.0T / 1.4T tokens; Table 15 gives 82,432 / 1,022,362 GPU-hours on A100-80GB.
# Llama 2 (Meta, MODEL_CARD.md, github.com/meta-llama/llama): 7B / 70B on 2.0T tokens,
# 184,320 / 1,720,320 GPU-hours on A100-80GB.
# Nominal parameter counts as the papers state them; MFU = 6·N·D / (GPU-hours · 3600 · 312e12).
# The expected MFU (one decimal, in %) is that arithmetic done by hand (MFU = 6·N·D / (GPU-hours · 3600 · peak), Chowdhery et al. 2022 App. B).

PUBLISHED = [
    # name, N, D, GPU-hours, MFU % to one decimal
    ("LLaMA 7B", 6.7e9, 1.0e12, 82_432, 43.4),
    ("LLaMA 65B", 65.2e9, 1.4e12, 1_022_362, 47.7),
    ("Llama 2 7B", 7e9, 2.0e12, 184_320, 40.6),
    ("Llama 2 70B", 70e9, 2.0e12, 1_720_320, 43.5),
]


@pytest.mark.parametrize("name,N,D,hours,mfu_pct", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_runs_imply_a_plausible_mfu_and_round_trip(name, N, D, hours, mfu_pct):
    expected = 6 * N * D / (hours * 3600 * A100_BF16)
    data = run_json(
        "compute", "--params", f"{N:.0f}", "--tokens", f"{D:.0f}", "--gpu", "a100-80gb", "--gpu-hours", str(hours)
    )
    (r,) = data["runs"]
    assert r["peak_tflops"] == 312 and r["precision"] == "bf16"
    assert r["mfu"] == pytest.approx(expected, rel=1e-12)
    assert round(100 * r["mfu"], 1) == mfu_pct
    assert 0.30 < r["mfu"] < 0.60
    assert r["mfu_from"] == "gpu_hours"
    # Round trip: at that MFU the predicted GPU-hours are the published ones.
    data = run_json(
        "compute", "--params", f"{N:.0f}", "--tokens", f"{D:.0f}", "--gpu", "a100-80gb", "--mfu", repr(r["mfu"])
    )
    assert data["runs"][0]["gpu_hours"] == pytest.approx(hours, rel=1e-9)


@pytest.mark.parametrize(
    "preset,N,L,H,Q,hours",
    [
        # The presets' exact counts (published: 6,738,415,616 and 68,976,648,192; Llama 2 paper Table 1 /
        # HF safetensors) with the attention term at the 4,096-token context Llama 2 trained with.
        ("llama2-7b", 6_738_415_616, 32, 32, 128, 184_320),
        ("llama2-70b", 68_976_648_192, 80, 64, 128, 1_720_320),
    ],
)
def test_llama2_presets_with_attention_term(preset, N, L, H, Q, hours):
    D, T = 2 * 10**12, 4096
    per_token = 6 * N + 12 * L * H * Q * T  # chowdhery2022 Appendix B
    expected = per_token * D / (hours * 3600 * A100_BF16)
    est = estimate_compute(model_size(resolve(preset)), tokens=D, gpus=[load_gpu("a100-80gb")], gpu_hours=hours)
    assert est.training.model_flops == per_token * D
    assert est.runs[0].mfu == pytest.approx(expected, rel=1e-12)
    assert 0.30 < est.runs[0].mfu < 0.60
    again = estimate_compute(model_size(resolve(preset)), tokens=D, gpus=[load_gpu("a100-80gb")], mfu=est.runs[0].mfu)
    assert again.runs[0].gpu_hours == pytest.approx(hours, rel=1e-9)


def test_llama_65b_throughput_gives_21_days():
    # Touvron et al. 2023 §2.4: 65B processes ~380 tokens/s/GPU on 2048 A100-80GB, 1.4T tokens in ~21 days.
    N, D, n = 65.2e9, 1.4e12, 2048
    mfu = 6 * N * 380 / A100_BF16  # 148.7 TFLOP/s of 312: 47.6%
    data = run_json(
        "compute", "--params", "65.2b", "--tokens", "1.4t", "--gpu", "a100-80gb", "--gpus", "2048", "--mfu", repr(mfu)
    )
    r = data["runs"][0]
    assert r["days"] == pytest.approx(D / (380 * n) / 86400, rel=1e-9)
    assert round(r["days"], 1) == 20.8
    assert r["gpu_hours"] == pytest.approx(1_022_362, rel=0.002)  # Table 15


def test_megatron_gpt3_34_days_with_recompute():
    # Narayanan et al. 2021: GPT-3 175B on 300B tokens, 1024 A100 at X = 140 TFLOP/s (counting recompute):
    # 8·T·P / (n·X) = 8 · 300e9 · 175e9 / (1024 · 140e12) s = 33.9 days ("about 34 days").
    hfu = 140e12 / A100_BF16
    data = run_json(
        "compute",
        "--params",
        "175b",
        "--tokens",
        "300b",
        "--gpu",
        "a100-80gb",
        "--gpus",
        "1024",
        "--recompute",
        "--hfu",
        repr(hfu),
    )
    r = data["runs"][0]
    assert data["training"]["hardware_flops"] == 8 * 175 * 10**9 * 300 * 10**9
    assert data["training"]["model_flops"] == 6 * 175 * 10**9 * 300 * 10**9
    assert r["days"] == pytest.approx(8 * 300e9 * 175e9 / (1024 * 140e12) / 86400, rel=1e-9)
    assert round(r["days"], 1) == 33.9
    assert r["hfu"] == pytest.approx(hfu) and r["mfu"] == pytest.approx(hfu * 6 / 8)


# -- FLOP formulas -----------------------------------------------------------------------------------------------


def test_six_n_d_and_palm_attention_term():
    spec = resolve("llama3-8b")  # 32 layers, 32 heads of 128, context 8,192; 8,030,261,248 parameters
    f = training_flops(model_size(spec), 15 * 10**12, seq_len=8192)
    N, D = 8_030_261_248, 15 * 10**12
    assert f.flops_6nd == 6 * N * D
    assert f.attention_flops_per_token == 12 * 32 * 32 * 128 * 8192
    assert f.model_flops == (6 * N + 12 * 32 * 32 * 128 * 8192) * D
    assert sum(t.flops for t in f.terms) == f.model_flops


def test_recompute_is_eight_n_d_and_attention_four_thirds():
    f = training_flops(model_size(resolve("llama2-7b")), 10**9, seq_len=4096, recompute=True)
    N = 6_738_415_616
    assert f.hardware_flops == (8 * N + 16 * 32 * 32 * 128 * 4096) * 10**9
    assert f.hardware_flops * 3 == f.model_flops * 4


def test_moe_uses_active_parameters():
    # Mixtral 8x7B: 46,702,792,704 total, 12,879,925,248 active (2 of 8 experts; Jiang et al. 2024).
    est = estimate_compute(model_size(resolve("mixtral-8x7b")), tokens=10**12, seq_len=4096)
    assert est.params == 12_879_925_248 and est.params_total == 46_702_792_704
    assert est.training.flops_6nd == 6 * 12_879_925_248 * 10**12


def test_sliding_window_caps_the_attention_span():
    # Mistral 7B v0.1 attends within 4,096 tokens (Jiang et al. 2023); at T = 8,192 the span is the window.
    f = training_flops(model_size(resolve("mistral-7b")), 10**9, seq_len=8192)
    assert f.attention_span == 4096
    assert f.attention_flops_per_token == 12 * 32 * 32 * 128 * 4096


# The one FLOPs-per-token formula: what `compute` (and `fit`, ranking layouts) call.
#   Llama 3 8B: 8,030,261,248 parameters, 32 layers, 32 heads of 128 (Meta model card / config.json).
#   Mixtral 8x7B: 12,879,925,248 active of 46,702,792,704 (2 of 8 experts; Jiang et al. 2024), same attention shape.
#   Mistral 7B v0.1: 7,241,732,096 parameters, sliding window 4,096 (Jiang et al. 2023).
LLAMA3_8B, MIXTRAL_ACTIVE, MISTRAL_7B = 8_030_261_248, 12_879_925_248, 7_241_732_096
LHQ = 32 * 32 * 128


def test_training_flops_per_token_dense_moe_window_and_recompute():
    llama = model_size(resolve("llama3-8b"))
    assert training_flops_per_token(llama, seq_len=8192) == 6 * LLAMA3_8B + 12 * LHQ * 8192
    assert training_flops_per_token(llama, seq_len=8192, recompute=True) == 8 * LLAMA3_8B + 16 * LHQ * 8192
    mixtral = model_size(resolve("mixtral-8x7b"))  # active parameters, not the total
    assert training_flops_per_token(mixtral, seq_len=4096) == 6 * MIXTRAL_ACTIVE + 12 * LHQ * 4096
    mistral = model_size(resolve("mistral-7b"))  # T = 8,192 attends within the 4,096 window
    assert training_flops_per_token(mistral, seq_len=8192) == 6 * MISTRAL_7B + 12 * LHQ * 4096
    assert training_flops_per_token(model_size(params=7 * 10**9), seq_len=2048) == 42 * 10**9  # no architecture: 6·N


def test_one_formula_behind_training_prefill_and_the_report():
    size = model_size(resolve("llama2-7b"))
    N, T = 6_738_415_616, 4096
    forward = 2 * N + 4 * LHQ * T  # forward pass (kaplan2020: 2N; chowdhery2022: a third of 12·L·H·Q·T)
    assert forward_flops_per_token(size, seq_len=T) == forward
    f = training_flops(size, 10**9, seq_len=T, recompute=True)
    assert f.model_flops_per_token == training_flops_per_token(size, seq_len=T) == 3 * forward
    assert f.hardware_flops_per_token == training_flops_per_token(size, seq_len=T, recompute=True) == 4 * forward
    est = estimate_compute(size, seq_len=T, gpus=[load_gpu("a100-80gb")], batch_sizes=[1])
    assert est.inference.prefill_flops_per_token == est.inference.decode_flops_per_token == forward


def test_storage_bits_follow_the_number_formats():
    # IEEE 754 binary32 / binary16, bfloat16, OCP FP8, int8; TF32 math reads FP32 tensors (NVIDIA A100 whitepaper).
    expected = {"fp32": 32, "tf32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8}
    assert {p: storage_bits(p) for p in COMPUTE_PRECISIONS} == expected


# -- time, GPUs, cost ------------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n1=st.integers(1, 10_000), extra=st.integers(1, 10_000), mfu=st.floats(0.05, 1.0))
def test_time_falls_as_gpus_rise(n1, extra, mfu):
    flops = training_flops(model_size(params=7 * 10**9), 10**12, seq_len=2048)
    gpu = load_gpu("h100-sxm")
    a = training_run(flops, gpu, n_gpus=n1, mfu=mfu)
    b = training_run(flops, gpu, n_gpus=n1 + extra, mfu=mfu)
    assert b.time_s < a.time_s
    assert b.gpu_hours == pytest.approx(a.gpu_hours)  # the same work, spread wider


def test_cost_from_catalog_price_and_from_price_option():
    # 6·1e9·20e9 = 1.2e20 FLOPs; one A100 at 40% of 312 TFLOPS: 1.2e20 / 124.8e12 s = 267.1 GPU-hours.
    hours = 1.2e20 / (0.4 * A100_BF16) / 3600
    data = run_json("compute", "--params", "1e9", "--tokens", "20b", "--gpu", "a100-80gb", "--price", "2")
    r = data["runs"][0]
    assert r["mfu"] == 0.4 and r["mfu_from"] == "default"
    assert r["gpu_hours"] == pytest.approx(hours)
    assert r["cost_usd"] == pytest.approx(2 * hours) and r["price_source"] == "--price"
    catalog = load_gpu("a100-80gb").price_usd_per_hour
    data = run_json("compute", "--params", "1e9", "--tokens", "20b", "--gpu", "a100-80gb")
    assert data["runs"][0]["cost_usd"] == pytest.approx(catalog * hours)


def test_v100_vs_a100_side_by_side():
    # The lecture's comparison: same job, same MFU; the spec ratio is 312 / 125 = 2.5 (V100 SXM2 FP16 125 TFLOPS,
    # NVIDIA; A100 BF16 312 TFLOPS). V100 has no BF16, so its FP16 peak is used, with a note.
    data = run_json("compute", "--params", "1e9", "--tokens", "20b", "--gpu", "v100-32gb", "--vs", "a100-80gb")
    v100, a100 = data["runs"]
    assert (v100["precision"], v100["peak_tflops"]) == ("fp16", 125)
    assert v100["precision_note"] and "BF16" in v100["precision_note"]
    assert (a100["precision"], a100["peak_tflops"]) == ("bf16", 312)
    assert data["speedup"] == pytest.approx(312 / 125)
    assert (data["comparison"]["faster"], data["comparison"]["slower"]) == (1, 0)  # runs[1], the A100
    assert data["comparison"]["times_faster"] == pytest.approx(312 / 125)
    swapped = run_json("compute", "--params", "1e9", "--tokens", "20b", "--gpu", "a100-80gb", "--vs", "v100-32gb")
    assert swapped["speedup"] == pytest.approx(125 / 312)
    assert (swapped["comparison"]["faster"], swapped["comparison"]["times_faster"]) == (0, pytest.approx(312 / 125))
    assert v100["time_s"] == pytest.approx(1.2e20 / (0.4 * 125e12))
    r = run("compute", "--params", "1e9", "--tokens", "20b", "--gpu", "v100-32gb", "--vs", "a100-80gb")
    assert "2.50× faster" in r.stdout


# -- inference ---------------------------------------------------------------------------------------------------------


def test_decode_bound_weights_only():
    # Pope et al. 2022 §2 (decode reads every weight once per step): 7B fp16 (14e9 B) on A100-80 SXM (2,039 GB/s): 2039e9 / 14e9 = 145.6 tok/s;
    # 70B fp16 on H100 SXM (3,350 GB/s): 3350e9 / 140e9 = 23.9 tok/s.
    data = run_json("compute", "--params", "7e9", "--gpu", "a100-sxm4-80gb", "--precision", "fp16", "--batch", "1")
    d = data["inference"]["gpus"][0]["decode"][0]
    assert d["tokens_per_s_per_sequence"] == pytest.approx(2039e9 / 14e9)
    assert round(d["tokens_per_s"], 1) == 145.6
    data = run_json("compute", "--params", "70e9", "--gpu", "h100-sxm", "--precision", "fp16", "--batch", "1")
    d = data["inference"]["gpus"][0]["decode"][0]
    assert round(d["tokens_per_s"], 1) == 23.9
    assert d["fits"] is False and d["min_gpus"] == 2  # 140 GB of weights on an 80 GB card


OPT_13B = [
    "--d-embed",
    "5120",
    "--n-heads",
    "40",
    "--n-layers",
    "40",
    "--n-vocab",
    "50272",
    "--d-mlp",
    "20480",
    "--position",
    "learned",
    "--n-positions",
    "2048",
]


def test_kv_cache_per_token_matches_vllm_paper():
    # Kwon et al. 2023 §3: OPT-13B caches 2 (K, V) × 5120 × 40 layers × 2 bytes = 800 KB per token,
    # and up to 1.6 GB for a 2,048-token sequence.
    data = run_json("compute", *OPT_13B, "--gpu", "a100-40gb", "--precision", "fp16", "--seq", "2048")
    inf = data["inference"]
    assert inf["kv_bytes_per_token"] == 2 * 5120 * 40 * 2 == 819_200
    assert inf["kv_bytes_per_sequence"] == 819_200 * 2048
    assert round(inf["kv_bytes_per_sequence"] / 1e9, 1) == 1.7  # "as much as 1.6 GB" (1.6 GiB)


@pytest.mark.parametrize("preset,per_token", [("llama3-8b", 131_072), ("llama3-70b", 327_680)])
def test_kv_cache_gqa(preset, per_token):
    # Llama 3: 8 KV heads of 128 at 16 bits: 2 × 32 × 8 × 128 × 2 = 131,072 B; 70B: 2 × 80 × 8 × 128 × 2 = 327,680 B.
    data = run_json("compute", "--preset", preset, "--gpu", "h100-sxm", "--seq", "4096")
    assert data["inference"]["kv_bytes_per_token"] == per_token
    assert data["inference"]["kv_bytes_per_sequence"] == per_token * 4096


def test_batch_shares_the_weight_read():
    # Aggregate tokens/s ≤ B · bandwidth / (weights + B · KV per sequence) (pope2022): independent arithmetic.
    N, L, kv, Q = 6_738_415_616, 32, 32, 128  # Llama 2 7B, no GQA
    T, bw = 4096, 2039e9
    weights = 2 * N
    kv_seq = 2 * L * kv * Q * 2 * T
    data = run_json("compute", "--preset", "llama2-7b", "--gpu", "a100-sxm4-80gb", "--batch", "1,16")
    one, sixteen = data["inference"]["gpus"][0]["decode"]
    assert one["memory_bound_tokens_per_s"] == pytest.approx(bw / (weights + kv_seq))
    assert sixteen["memory_bound_tokens_per_s"] == pytest.approx(16 * bw / (weights + 16 * kv_seq))
    assert sixteen["tokens_per_s"] > one["tokens_per_s"] > sixteen["tokens_per_s_per_sequence"]
    # Prefill: 2·N + 4·L·H·Q·T per token (forward only).
    assert data["inference"]["prefill_flops_per_token"] == 2 * N + 4 * 32 * 32 * 128 * T


def test_compute_bound_takes_over_at_large_batch():
    # 1B parameters, no KV (--params only): memory bound B · 900e9 / 2e9 grows without limit,
    # the compute bound is 125e12 / 2e9 = 62,500 tok/s on a V100 (FP16).
    data = run_json("compute", "--params", "1b", "--gpu", "v100-32gb", "--batch", "1,1024")
    small, big = data["inference"]["gpus"][0]["decode"]
    assert small["limited_by"] == "memory bandwidth"
    assert big["limited_by"] == "compute" and big["tokens_per_s"] == pytest.approx(125e12 / 2e9)


def test_moe_decode_reads_only_active_experts_at_batch_one():
    data = run_json("compute", "--preset", "mixtral-8x7b", "--gpu", "h100-sxm", "--batch", "1", "--seq", "1")
    d = data["inference"]["gpus"][0]["decode"][0]
    assert d["weight_bytes_read"] == 2 * 12_879_925_248
    assert d["memory_needed_bytes"] >= 2 * 46_702_792_704


# -- CLI: JSON, table, errors ---------------------------------------------------------------------------------------------


def test_json_keys():
    data = run_json(
        "compute", "--preset", "llama3-8b", "--tokens", "15t", "--gpu", "h100-sxm", "--gpus", "1024", "--mfu", "0.4"
    )
    assert set(data) == {
        "model",
        "params",
        "params_total",
        "params_non_embedding",
        "params_note",
        "tokens",
        "seq_len",
        "training",
        "runs",
        "speedup",
        "comparison",
        "inference",
        "notes",
    }
    assert data["tokens"] == 15 * 10**12 and data["seq_len"] == 8192
    assert set(data["runs"][0]) >= {
        "gpu",
        "precision",
        "peak_tflops",
        "n_gpus",
        "mfu",
        "hfu",
        "time_s",
        "days",
        "gpu_hours",
        "cost_usd",
    }
    assert set(data["training"]) >= {"model_flops", "flops_6nd", "hardware_flops", "terms"}
    assert set(data["inference"]) >= {"prefill_flops_per_token", "kv_bytes_per_token", "gpus"}
    assert isinstance(data["training"]["model_flops"], int)


def test_table_output():
    r = run("compute", "--preset", "llama3-8b", "--tokens", "15t", "--gpu", "h100-sxm", "--gpus", "1024", "--explain")
    assert r.exit_code == 0, r.output
    for text in [
        "Training FLOPs",
        "6 × N × D",
        "12 × L × H × Q × T × D",
        "GPU-hours",
        "Decode upper bounds",
        "Sources",
        "arxiv.org/abs/2204.02311",
    ]:
        assert text in r.stdout, text


@pytest.mark.parametrize(
    "args,message",
    [
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--mfu", "0"], "--mfu must be positive"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--mfu", "1.5"], "MFU must be in (0, 1]"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--mfu", "-0.3"], "--mfu must be positive"),
        (["--params", "7b", "--tokens", "0", "--gpu", "a100"], "--tokens must be positive"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--gpus", "0"], "--gpus must be positive"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "v100", "--precision", "bf16"], "has no bf16 peak"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--precision", "fp8"], "has no fp8 peak"),
        (
            ["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--vs", "v100", "--precision", "bf16"],
            "has no bf16 peak",
        ),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--precision", "fp7"], "unknown compute precision"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a1000"], "unknown GPU"),
        (["--params", "7b", "--tokens", "1t", "--vs", "a100"], "--vs compares with --gpu"),
        (["--params", "7b", "--preset", "llama2-7b", "--tokens", "1t"], "exactly one"),
        (["--tokens", "1t"], "--params"),
        (["--params", "7b"], "nothing to estimate"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--hfu", "0.5"], "--recompute"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--recompute", "--mfu", "0.9"], "HFU"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--mfu", "0.4", "--gpu-hours", "100"], "one of --mfu"),
        (["--params", "7b", "--tokens", "1t", "--gpu", "a100", "--batch", "1,0"], "--batch must be positive"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = run("compute", *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.output


def test_api_rejects_bad_utilization():
    flops = training_flops(model_size(params=10**9), 10**9, seq_len=2048)
    with pytest.raises(LLMBudgetError):
        training_run(flops, load_gpu("a100"), mfu=0.0)
    with pytest.raises(LLMBudgetError):
        training_run(flops, load_gpu("a100"), mfu=float("nan"))


@pytest.mark.slow  # spawns a Python process (~1 s)
def test_compute_and_scale_do_not_import_torch():
    code = (
        "import sys, runpy\n"
        "for argv in (['llm-budget', 'compute', '--preset', 'llama2-7b', '--tokens', '2t', '--gpu', 'a100', '--json'],\n"
        "             ['llm-budget', 'scale', '--flops', '5.76e23', '--json']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        runpy.run_module('llm_budget', run_name='__main__')\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_gpu_hours_with_vs_carries_the_implied_mfu_over():
    data = run_json(
        "compute",
        "--params",
        "6.7b",
        "--tokens",
        "1t",
        "--gpu",
        "a100-80gb",
        "--vs",
        "v100-32gb",
        "--gpu-hours",
        "82432",
    )
    a100, v100 = data["runs"]
    assert v100["mfu"] == pytest.approx(a100["mfu"]) and v100["mfu_from"] == "gpu_hours"
    assert v100["gpu_hours"] == pytest.approx(82_432 * 312 / 125)  # same MFU, FP16 peak 125 vs 312
    assert any("assumes the MFU implied" in n for n in data["notes"])
