"""The fit advisor, with expectations from arithmetic written here and from datasheets."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.errors import LLMBudgetError, UnknownNameError
from llm_budget.fit import advise, usable_memory
from llm_budget.hardware import gpu_catalog, load_gpu
from llm_budget.memory import InferSetup, Parallel, TrainSetup, training_memory
from llm_budget.model.counter import count_params
from llm_budget.model.presets import load_preset

MiB = 2**20
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_usable_memory_subtracts_context_and_fragmentation():
    # A100 80GB: the driver reports 81920 MiB (nvidia-smi totals: https://github.com/modal-labs/modal-client/pull/2797).
    u = usable_memory(load_gpu("a100-80gb"), cuda_context=512 * MiB, fragmentation=0.05)
    assert u.total_bytes == 81920 * MiB
    assert u.usable_bytes == (81920 - 512) * MiB - int((81920 - 512) * MiB * 0.05)


def test_gpu_names_people_type():
    assert load_gpu("a100-80gb").memory_gb_marketed == 80
    assert load_gpu("V100_32GB").name == "v100-sxm2-32gb"
    assert load_gpu("h100-sxm").name == "h100-sxm5-80gb"
    with pytest.raises(UnknownNameError, match="did you mean"):
        load_gpu("a100-80")


def test_catalog_facts():
    # Datasheet facts the advisor's warnings rely on: V100 has no BF16 or INT8 tensor cores, A100 no FP8.
    v100, a100, h100 = load_gpu("v100-32gb"), load_gpu("a100-80gb"), load_gpu("h100-sxm")
    assert v100.peak_tflops("bf16") is None and v100.peak_tflops("int8") is None and v100.peak_tflops("fp16") == 125
    assert a100.peak_tflops("bf16") == 312 and a100.peak_tflops("fp8") is None
    assert h100.peak_tflops("fp8") is not None
    assert not v100.has_flash_attention and a100.has_flash_attention
    for g in gpu_catalog().values():
        assert g.source and g.memory_bytes > 0


def test_one_billion_fits_on_a100_lecture_rule():
    r = advise(None, load_gpu("a100-80gb"), n_params=10**9, train=TrainSetup(precision="bf16"))
    verdict = {v.mode: v for v in r.verdicts}
    assert verdict["infer"].required_bytes_per_gpu == 2 * 10**9  # bf16 weights
    assert verdict["train"].required_bytes_per_gpu == 16 * 10**9  # 2 + 8 + 2 + 4 bytes/param
    assert r.fits and r.gpus_needed == 1


def test_70b_at_16_bytes_per_param_needs_zero3_arithmetic():
    spec = load_preset("llama3-70b")
    n = count_params(spec).total
    gpu = load_gpu("a100-80gb")
    usable = usable_memory(gpu).usable_bytes
    # Model states at 16 bytes/param (FP32 weights + grads + Adam) cannot fit one card ...
    assert 16 * n > usable
    setup = TrainSetup(batch=1, seq=128, checkpointing="full", optimizer_impl="fused")
    r = advise(spec, gpu, mode="train", gpus=1, train=setup)
    assert not r.fits
    # ... and under ZeRO-3 each of k GPUs holds 16·N/k plus small activations: the fewest GPUs in the
    # search's counts (1, 2, 4, 8, 16, 32 ...) with 16·N/k under the usable memory.
    bound = math.ceil(16 * n / usable)  # 14-15 GPUs' worth of model states
    expected = 1 << (bound - 1).bit_length()  # the next count the search tries: 16
    assert expected == 16 and r.gpus_needed == expected
    assert all(p.zero == 3 and p.gpus == 16 for p in r.plans)


def test_requested_layout_per_gpu_matches_accountant():
    spec = load_preset("llama2-7b")
    setup = TrainSetup(batch=1, seq=1024)
    r = advise(spec, load_gpu("a100-80gb"), mode="train", gpus=8, train=setup)
    best = min(
        training_memory(
            spec, setup.model_copy(update={"parallel": Parallel(dp=8 // (tp * pp), tp=tp, pp=pp, zero=z)})
        ).total_bytes
        for tp in (1, 2, 4, 8)
        for pp in (1, 2, 4, 8)
        if 8 % (tp * pp) == 0
        for z in ((0, 1, 2, 3) if 8 // (tp * pp) > 1 else (0,))
    )
    assert r.required_bytes_per_gpu == best


def test_zero_stages_never_increase_per_gpu_memory():
    spec = load_preset("llama2-7b")
    base = TrainSetup(batch=1, seq=512, optimizer_impl="fused")
    needs = [
        training_memory(spec, base.model_copy(update={"parallel": Parallel(dp=8, zero=z)})).total_bytes
        for z in (0, 1, 2, 3)
    ]
    assert needs == sorted(needs, reverse=True) and needs[3] < needs[0]
    more = [
        training_memory(spec, base.model_copy(update={"parallel": Parallel(dp=d, zero=3)})).total_bytes
        for d in (2, 4, 8, 16)
    ]
    assert more == sorted(more, reverse=True)


def test_when_it_does_not_fit_changes_are_ranked_and_real():
    r = advise(
        load_preset("llama2-13b"), load_gpu("a100-80gb"), mode="train", gpus=1, train=TrainSetup(batch=4, seq=4096)
    )
    assert not r.fits and r.changes
    fitting = [c for c in r.changes if c.fits]
    assert fitting and r.changes[: len(fitting)] == fitting  # fitting changes first
    # no single change fits one card here (13B, batch 4 × 4096): more GPUs do, and so do changes together
    combined = [c for c in r.changes if c.change.startswith("together:")]
    assert combined and combined[0].fits and combined[0].gpus == 1
    for c in r.changes:
        assert c.fits == (c.required_bytes_per_gpu <= r.usable_bytes_per_gpu or c.gpus > 1 or "gpu" in c.settings)


def test_max_batch_and_context_are_limits():
    spec = load_preset("llama2-7b")
    gpu = load_gpu("a100-80gb")
    r = advise(
        spec,
        gpu,
        mode="both",
        gpus=1,
        train=TrainSetup(batch=1, seq=1024, precision="bf16", recipe="pure", optimizer_impl="fused"),
    )
    assert r.max_batch and r.max_context
    usable = r.usable_bytes_per_gpu
    fits = lambda b: (
        training_memory(
            spec, TrainSetup(batch=b, seq=1024, precision="bf16", recipe="pure", optimizer_impl="fused")
        ).total_bytes
        <= usable
    )
    assert fits(r.max_batch) and not fits(r.max_batch + 1)


def test_hardware_truths():
    r = advise(load_preset("llama2-7b"), load_gpu("v100-32gb"), mode="both", train=TrainSetup(precision="bf16"))
    assert any("no BF16 tensor cores" in w for w in r.warnings)
    assert any("FlashAttention" in w for w in r.warnings)
    with pytest.raises(LLMBudgetError, match="no FP8 tensor cores"):
        from llm_budget.memory import InferSetup

        advise(load_preset("llama2-7b"), load_gpu("a100-80gb"), mode="infer", infer=InferSetup(precision="fp8-e4m3"))


def test_cli_fit_json_and_check():
    r = run("fit", "--params", "1e9", "--gpu", "a100-80gb", "--precision", "bf16", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["fits"] is True and data["gpus_needed"] == 1
    assert isinstance(data["usable_bytes_per_gpu"], int) and isinstance(data["required_bytes_per_gpu"], int)
    assert isinstance(data["plans"], list)
    r = run(
        "fit",
        "--preset",
        "llama3-70b",
        "--gpu",
        "a100-80gb",
        "--gpus",
        "8",
        "--mode",
        "train",
        "--seq",
        "4096",
        "--batch",
        "1",
    )
    assert r.exit_code == 0 and "does not fit" in r.stdout
    r = run("fit", "--preset", "llama3-70b", "--gpu", "a100-80gb", "--mode", "train", "--check")
    assert r.exit_code == 1
    r = run("fit", "--preset", "mixtral-8x7b", "--gpu", "v100-32gb", "--mode", "infer", "--precision", "fp16")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--params", "1e9", "--gpu", "a100-80"], "unknown GPU 'a100-80'; did you mean"),
        (["--params", "1e9", "--gpu", "a100-80gb", "--gpus", "0"], "--gpus must be positive"),
        (
            ["--preset", "llama2-7b", "--gpu", "a100-80gb", "--precision", "fp8", "--mode", "infer"],
            "no FP8 tensor cores",
        ),
        (
            ["--preset", "llama2-7b", "--gpu", "a100-80gb", "--mode", "fly"],
            "Invalid value for '--mode': 'fly' is not one of 'train', 'infer', 'both'",
        ),
        (["--gpu", "a100-80gb"], "give a model"),
    ],
)
def test_cli_fit_bad_input(args, message):
    r = run("fit", *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cli_gpus():
    r = run("gpus")
    assert r.exit_code == 0 and "a100-sxm4-80gb" in r.stdout
    data = json.loads(run("gpus", "--json").stdout)
    assert len(data["gpus"]) == len(gpu_catalog())


def test_changes_are_option_values_and_the_renderer_makes_the_flags():
    from llm_budget.render.fit import fit_json

    r = advise(
        load_preset("llama3-70b"), load_gpu("a100-80gb"), mode="train", gpus=8, train=TrainSetup(batch=1, seq=4096)
    )
    by_name = {c.change: c for c in r.changes}
    assert by_name["QLoRA: NF4 base, rank-16 adapters"].settings == {"precision": "nf4", "lora_rank": 16}
    assert by_name["full activation checkpointing"].settings == {"checkpointing": "full"}
    more = next(c for c in r.changes if "gpus" in c.settings)
    assert more.gpus == more.settings["gpus"] > 8
    # the JSON keeps "option", written from the settings at render time
    data = json.loads(fit_json(r))
    options = {c["change"]: c["option"] for c in data["changes"]}
    assert options["QLoRA: NF4 base, rank-16 adapters"] == "--precision nf4 --lora-rank 16"
    assert options[more.change] == f"--gpus {more.gpus}" + (
        " --checkpointing full" if "checkpointing" in more.settings else ""
    )
    assert all(c["settings"] == ch.settings for c, ch in zip(data["changes"], r.changes, strict=True))


def test_changes_together_merge_their_settings():
    r = advise(
        load_preset("llama2-13b"), load_gpu("a100-80gb"), mode="train", gpus=1, train=TrainSetup(batch=4, seq=4096)
    )
    together = next(c for c in r.changes if c.change.startswith("together:"))
    parts = together.change.removeprefix("together: ").split(" + ")
    singles = {c.change: c.settings for c in r.changes}
    merged: dict = {}
    for part in parts:
        merged.update(singles[part])
    assert together.settings == merged and len(parts) > 1


# -- issue 13: usable memory is never negative ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--cuda-context", "1e30"],
        ["--cuda-context", "81920"],  # MiB: the A100 80GB's whole 81920 MiB
    ],
)
def test_a_context_that_leaves_nothing_usable_is_one_line(args):
    r = run("fit", "--params", "7b", "--gpu", "a100-80gb", *args)
    assert r.exit_code == 2, r.output
    assert "nothing usable" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.output


def test_usable_memory_refuses_a_context_larger_than_the_card():
    gpu = load_gpu("a100-80gb")
    with pytest.raises(LLMBudgetError, match="nothing usable"):
        usable_memory(gpu, cuda_context=81920 * MiB)  # exactly the driver's total: 0 bytes left
    u = usable_memory(gpu, cuda_context=81920 * MiB - 100, fragmentation=0.0)
    assert u.usable_bytes == 100


# -- issue 13: every offered change, applied, gives the need and verdict it promised ---------------------------------------

_QUANTIZED = {"int8", "int4", "nf4"}


def _apply(case: dict, settings: dict) -> dict:
    """The advise() call that the change's options make, built as the command line builds it (written here,
    independently of the advisor): --precision sets the served weights and, where it can be trained (not a
    quantized base without adapters), the training precision; --batch both batches."""
    train = dict(case.get("train", {}))
    infer = dict(case.get("infer", {}))
    for key in ("recipe", "optimizer", "checkpointing", "lora_rank"):
        if key in settings:
            train[key] = settings[key]
    if "batch" in settings:
        train["batch"] = infer["batch"] = settings["batch"]
    if "kv_precision" in settings:
        infer["kv_precision"] = {"fp8": "fp8-e4m3"}.get(settings["kv_precision"], settings["kv_precision"])
    if "precision" in settings:
        p = settings["precision"]
        infer["precision"] = p
        train["precision"] = "bf16" if p in _QUANTIZED and not train.get("lora_rank") else p
    return dict(
        gpu=load_gpu(settings.get("gpu", case["gpu"])),
        gpus=settings.get("gpus", case.get("gpus", 1)),
        train=TrainSetup(**train),
        infer=InferSetup(**infer),
    )


_CASES = [
    dict(params=70_000_000_000, gpu="a100-40gb", mode="infer"),
    dict(params=13_000_000_000, gpu="t4", mode="both"),
    dict(params=13_000_000_000, gpu="rtx4090", mode="infer"),
    dict(preset="llama3-70b", gpu="a100-40gb", mode="infer"),
    dict(preset="llama3-8b", gpu="rtx4090", mode="train", train=dict(batch=4, seq=4096)),
    dict(preset="llama2-13b", gpu="a100-80gb", mode="train", train=dict(batch=4, seq=4096)),
    dict(preset="llama3-8b", gpu="t4", mode="both", train=dict(batch=2, seq=2048), infer=dict(batch=2, context=2048)),
    dict(preset="llama3-70b", gpu="a100-80gb", gpus=8, mode="train", train=dict(batch=1, seq=4096)),
]


def _advise(case: dict, **setups):
    spec = load_preset(case["preset"]) if "preset" in case else None
    return advise(spec, mode=case["mode"], n_params=case.get("params"), **setups)


@pytest.mark.parametrize("case", _CASES, ids=lambda c: f"{c.get('preset', c.get('params'))}-{c['gpu']}-{c['mode']}")
def test_each_change_applied_gives_what_it_promised(case):
    r = _advise(case, **_apply(case, {}))
    assert not r.fits and r.changes
    here = r.usable_bytes_per_gpu
    for c in r.changes:
        applied = _advise(case, **_apply(case, c.settings))
        assert (applied.required_bytes_per_gpu, applied.fits) == (c.required_bytes_per_gpu, c.fits), c.change
        assert c.required_bytes_per_gpu > 0, c.change
        if "gpu" in c.settings:  # a bigger card: more usable memory than this one, and it fits
            assert applied.usable_bytes_per_gpu > here and c.fits, c.change
        elif "gpus" not in c.settings:  # on the same GPUs, a change is offered only when it lowers the need
            assert c.required_bytes_per_gpu < r.required_bytes_per_gpu, c.change


def test_changes_that_do_not_lower_the_need_are_not_offered():
    # --params only: the rule of thumb (16 bytes per parameter: 13e9 × 16 = 208 GB) knows no recipe or optimizer.
    r = advise(None, load_gpu("t4"), mode="both", n_params=13_000_000_000)
    assert r.required_bytes_per_gpu == 13_000_000_000 * 16
    assert not any(set(c.settings) & {"recipe", "optimizer"} for c in r.changes), r.changes


def test_serving_changes_are_never_zero_and_a_bigger_card_is_bigger():
    # 70B weights in bf16: 140 GB; on 2 A100 40GB cards 70 GB each does not fit (39.1 GB usable), on 4 it does.
    r = advise(None, load_gpu("a100-40gb"), mode="infer", n_params=70_000_000_000)
    by_gpus = {c.settings.get("gpus"): c for c in r.changes}
    assert 2 not in by_gpus and by_gpus[4].required_bytes_per_gpu == 140_000_000_000 // 4
    card = next(c for c in r.changes if "gpu" in c.settings)
    assert card.required_bytes_per_gpu == 140_000_000_000 and card.fits
    # an RTX 4090 (24 GiB) is not offered an RTX 3090 (24 GiB) for 13B weights (26 GB)
    r = advise(None, load_gpu("rtx4090"), mode="infer", n_params=13_000_000_000)
    card = next(c for c in r.changes if "gpu" in c.settings)
    assert card.settings["gpu"] != "rtx-3090-24gb"
    assert usable_memory(load_gpu(card.settings["gpu"])).usable_bytes >= 26_000_000_000


def test_serving_context_reports_memory_and_the_models_window():
    # Llama 3 70B's config.json: max_position_embeddings 8192. In bf16 on 8 H100s memory allows far more.
    r = advise(load_preset("llama3-70b"), load_gpu("h100"), mode="infer", gpus=8)
    assert r.context_window == 8192
    assert r.max_context_memory == r.max_context and r.max_context_memory > 8192
    data = json.loads(
        run("fit", "--preset", "llama3-70b", "--gpu", "h100", "--gpus", "8", "--mode", "infer", "--json").stdout
    )
    assert data["context_window"] == 8192 and data["max_context_memory"] == data["max_context"]
