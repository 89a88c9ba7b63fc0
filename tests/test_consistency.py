"""Commands held to each other (issue 9): where two commands report the same quantity, they agree.

Each test runs the commands as a user does (the typer app, --json) and states the expected relation
as arithmetic here: a ratio band, an equality, a KV-cache formula written out.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.defaults import DEFAULT_MFU
from llm_budget.fit import advise, usable_memory
from llm_budget.hardware import load_gpu
from llm_budget.memory import Checkpointing, Parallel, TrainSetup, training_memory
from llm_budget.model.presets import load_preset

runner = CliRunner()


def run_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- (a) fit's time per 1M tokens against compute's time for 1M tokens --------------------------------------


@pytest.mark.parametrize("preset", ["llama3-8b", "mixtral-8x7b"])  # dense, and a mixture of experts (2 of 8 active)
def test_fit_time_per_million_tokens_agrees_with_compute(preset):
    fit = run_json(
        "fit",
        "--preset",
        preset,
        "--gpu",
        "h100-sxm",
        "--gpus",
        "16",
        "--mode",
        "train",
        "--seq",
        "4096",
        "--precision",
        "bf16",
    )
    best = fit["plans"][0]
    compute = run_json(
        "compute",
        "--preset",
        preset,
        "--tokens",
        "1e6",
        "--gpu",
        "h100-sxm",
        "--gpus",
        str(best["gpus"]),
        "--seq",
        "4096",
        "--precision",
        "bf16",
    )
    run = compute["runs"][0]
    assert run["mfu"] == DEFAULT_MFU and run["n_gpus"] == best["gpus"]
    # fit adds what compute leaves out, never less: recomputation (×4/3 with full checkpointing), the
    # pipeline bubble (≤ ×1.25) and tensor-parallel traffic; its best layout stays within ×1.5.
    ratio = best["seconds_per_million_tokens"] / run["time_s"]
    assert 1.0 <= ratio <= 1.5, (preset, best, run["time_s"])


def test_fit_time_counts_active_parameters_of_a_mixture_of_experts():
    # Mixtral 8x7B: 2 of 8 experts per token. A layout without tensor or pipeline parallelism and without
    # recomputation adds nothing to compute's (6·N_active + 12·L·H·Q·T)·D / (GPUs · peak · MFU).
    from llm_budget.compute import model_size, training_flops
    from llm_budget.fit import seconds_per_million_tokens

    spec, gpu = load_preset("mixtral-8x7b"), load_gpu("h100-sxm")
    size = model_size(spec)
    assert size.params < size.params_total / 2  # active, not total
    seconds = seconds_per_million_tokens(size, spec, gpu, TrainSetup().precision, Parallel(dp=16, zero=3), "none", 4096)
    flops = training_flops(size, 1_000_000, seq_len=4096).model_flops
    assert seconds == pytest.approx(flops / (16 * gpu.peak_tflops("bf16") * 1e12 * DEFAULT_MFU), rel=1e-12)


# -- (b) the KV cache memory serves with against compute's KV bytes -----------------------------------------


@pytest.mark.parametrize(
    "preset, context, batch",
    [
        ("llama3-8b", 8192, 4),  # grouped-query attention: 8 KV heads for 32 query heads
        ("mistral-7b", 16384, 2),  # a 4,096-token sliding window caps the tokens held
    ],
)
def test_memory_kv_row_equals_compute_kv_bytes(preset, context, batch):
    spec = load_preset(preset)
    memory = run_json("memory", "--preset", preset, "--mode", "infer", "--context", str(context), "--batch", str(batch))
    kv_row = next(c["bytes"] for c in memory["components"] if c["name"].startswith("KV cache"))
    compute = run_json(
        "compute",
        "--preset",
        preset,
        "--tokens",
        "1e6",
        "--gpu",
        "h100-sxm",
        "--seq",
        str(context),
        "--batch",
        str(batch),
    )
    inference = compute["inference"]
    # 2 (K and V) · layers · KV heads · head size · 2 bytes (bf16), per token held
    per_token = 2 * spec.n_layers * spec.kv_heads * spec.head_dim * 2
    held = min(context, spec.sliding_window) if spec.sliding_window else context
    assert inference["kv_bytes_per_token"] == per_token
    assert inference["kv_bytes_per_sequence"] == per_token * held
    decode = next(d for d in inference["gpus"][0]["decode"] if d["batch_size"] == batch)
    assert kv_row == decode["kv_bytes_read"] == per_token * held * batch


# -- (c) fit's per-GPU need for a layout against the accountant with the same layout ------------------------


def test_fit_need_per_layout_equals_training_memory():
    spec = load_preset("llama2-7b")
    setup = TrainSetup(batch=2, seq=2048)
    r = advise(spec, load_gpu("a100-40gb"), mode="train", gpus=8, train=setup)
    assert r.plans
    for plan in r.plans:
        same = setup.model_copy(
            update={
                "batch": plan.micro_batch,
                "checkpointing": Checkpointing(plan.checkpointing),
                "parallel": Parallel(dp=plan.dp, tp=plan.tp, pp=plan.pp, zero=plan.zero),
            }
        )
        assert plan.required_bytes_per_gpu == training_memory(spec, same).total_bytes, plan
    verdict = next(v for v in r.verdicts if v.mode == "train")
    layout = Parallel(dp=verdict.dp, tp=verdict.tp, pp=verdict.pp, zero=verdict.zero)
    assert verdict.dp * verdict.tp * verdict.pp == 8
    assert (
        verdict.required_bytes_per_gpu
        == training_memory(spec, setup.model_copy(update={"parallel": layout})).total_bytes
    )


# -- (d) fit's one-GPU verdict against memory and the usable memory -----------------------------------------


@pytest.mark.parametrize("gpu", ["a100-80gb", "h100-sxm"])
def test_fit_single_gpu_verdict_is_memory_against_usable(gpu):
    args = ("--preset", "llama3-8b", "--seq", "4096", "--batch", "1", "--precision", "bf16")
    fit = run_json("fit", *args, "--gpu", gpu, "--gpus", "1", "--mode", "both")
    usable = usable_memory(load_gpu(gpu)).usable_bytes
    assert fit["usable_bytes_per_gpu"] == usable
    verdicts = {v["mode"]: v for v in fit["verdicts"]}
    for mode in ("train", "infer"):
        need = run_json("memory", *args, "--mode", mode)["total_bytes"]
        assert verdicts[mode]["required_bytes_per_gpu"] == need
        assert verdicts[mode]["fits"] == (need <= usable)
        assert verdicts[mode]["headroom_bytes"] == usable - need
    # 8B parameters at 16 bytes each (weights, gradients, Adam) exceed one 80 GB card; serving in bf16 does not
    assert verdicts["train"]["fits"] is False and verdicts["infer"]["fits"] is True
    assert fit["fits"] is False


# -- issue 13: compute's single-GPU verdict equals fit's ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "gpu", "batch", "precision"),
    [
        (["--preset", "llama3-8b"], "h100", 64, "bf16"),  # the case: 142.8 GB, not "fits"
        (["--preset", "llama3-8b"], "h100", 8, "bf16"),
        (["--preset", "llama3-8b"], "l4", 1, "bf16"),
        (["--preset", "mixtral-8x7b"], "h100", 1, "fp8"),
        (["--params", "70e9"], "h100", 1, "fp16"),
        (["--params", "7e9"], "a100-40gb", 1, "bf16"),
    ],
)
def test_compute_single_gpu_verdict_equals_fit(model, gpu, batch, precision):
    seq = "8192" if model[1] != "mixtral-8x7b" else "4096"
    comp = run_json("compute", *model, "--gpu", gpu, "--batch", str(batch), "--seq", seq, "--precision", precision)
    d = comp["inference"]["gpus"][0]["decode"][0]
    context = ["--context", seq] if model[0] == "--preset" else []
    fit_precision = {"fp8": "fp8-e4m3"}.get(precision, precision)
    f = run_json(
        "fit", *model, "--gpu", gpu, "--mode", "infer", "--batch", str(batch), *context, "--precision", fit_precision
    )
    assert d["serving_need_bytes"] == f["required_bytes_per_gpu"]
    assert d["usable_bytes"] == f["usable_bytes_per_gpu"]
    assert d["fits"] is f["fits"]
    # the GPUs it reports are a lower bound on fit's: ceil(need / usable)
    assert d["min_gpus"] == -(-f["required_bytes_per_gpu"] // f["usable_bytes_per_gpu"])
