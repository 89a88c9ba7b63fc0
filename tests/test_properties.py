"""Invariant properties of the estimates, through the public APIs (issue 13, item 2).

No expected number here: each test states a relation that must hold between two answers.

- memory never decreases with batch, sequence, serving context or the width of a precision;
- a lighter optimizer (sgd <= sgd-momentum <= adamw) or more checkpointing (full <= selective <= none)
  never needs more;
- what `fit` says fits, `memory` with the same layout confirms (the same bytes, at most the usable memory);
- `compute`'s single-GPU verdict for serving equals `fit`'s;
- a change that `fit` suggests, applied, gives the need and the verdict it promised.

Sizes are drawn by hypothesis with a fixed seed (derandomize). Relations that are broken on main by an
open issue-13 bug are strict xfails listed in KNOWN_BUGS: when the fix lands they turn into failures and
the mark is removed.
"""

from __future__ import annotations

from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from llm_budget.compute import estimate_compute
from llm_budget.compute.model_size import model_size
from llm_budget.fit import FitReport, advise
from llm_budget.hardware import Precision, load_gpu, parse_precision
from llm_budget.memory import (
    Checkpointing,
    InferSetup,
    Optimizer,
    TrainSetup,
    inference_memory,
    training_memory,
    training_peak,
)
from llm_budget.model.presets import load_preset
from llm_budget.model.spec import ModelSpec

PRESETS = ["gpt2-124m", "llama3-8b", "mixtral-8x7b", "mistral-7b"]
SPECS: dict[str, ModelSpec] = {name: load_preset(name) for name in PRESETS}
GPUS = ["h100-sxm5-80gb", "a100-sxm4-40gb", "rtx-4090-24gb", "t4-pcie-16gb"]

PROPERTY = settings(
    derandomize=True, max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

presets = st.sampled_from(PRESETS)
batches = st.integers(min_value=1, max_value=64)


def _seqs(spec: ModelSpec) -> st.SearchStrategy[int]:
    return st.integers(min_value=1, max_value=min(spec.context_window or 2048, 8192))


def _window(spec: ModelSpec) -> int:
    return min(spec.context_window or 2048, 8192)


# ---------------------------------------------------------------------------------------------------------
# Known bugs (issue 13): test id -> reason, each a strict xfail. The lead removes an entry when its fix lands.
# ---------------------------------------------------------------------------------------------------------

CALC = "fit-compute-memory-oom"
_GPUS_LAYOUT = (
    "the 'N GPUs: <layout>' change promises that layout's need, but `fit --gpus N` judges another layout "
    "that does not fit (fit/changes.py vs fit/advisor.py)"
)
KNOWN: dict[str, tuple[str, str]] = {}  # the 7 properties that failed on the first run (issue 13) now hold
KNOWN_BUGS: dict[str, str] = {k: f"issue 13 [{area}]: {bug}" for k, (bug, area) in KNOWN.items()}


def known(test_id: str) -> list[Any]:
    """The strict xfail mark of a KNOWN_BUGS entry, as a list of marks (empty otherwise)."""
    if test_id in KNOWN_BUGS:
        return [pytest.mark.xfail(strict=True, raises=AssertionError, reason=KNOWN_BUGS[test_id])]
    return []


def xfail_if_known(test_id: str) -> Any:
    """A decorator: the strict xfail of a KNOWN_BUGS entry, or nothing."""

    def wrap(f: Any) -> Any:
        for mark in known(test_id):
            f = mark(f)
        return f

    return wrap


# ---------------------------------------------------------------------------------------------------------
# Monotonicity
# ---------------------------------------------------------------------------------------------------------


@PROPERTY
@given(data=st.data(), name=presets, b1=batches, b2=batches)
def test_training_memory_monotone_in_batch(data: st.DataObject, name: str, b1: int, b2: int) -> None:
    spec = SPECS[name]
    seq = data.draw(_seqs(spec))
    lo, hi = sorted((b1, b2))
    assert training_peak(spec, TrainSetup(batch=lo, seq=seq)) <= training_peak(spec, TrainSetup(batch=hi, seq=seq))


@PROPERTY
@given(data=st.data(), name=presets, batch=batches)
def test_training_memory_monotone_in_sequence(data: st.DataObject, name: str, batch: int) -> None:
    spec = SPECS[name]
    lo, hi = sorted((data.draw(_seqs(spec)), data.draw(_seqs(spec))))
    assert training_peak(spec, TrainSetup(batch=batch, seq=lo)) <= training_peak(spec, TrainSetup(batch=batch, seq=hi))


@PROPERTY
@given(data=st.data(), name=presets, b1=batches, b2=batches)
def test_serving_memory_monotone_in_batch(data: st.DataObject, name: str, b1: int, b2: int) -> None:
    spec = SPECS[name]
    context = data.draw(_seqs(spec))
    lo, hi = sorted((b1, b2))
    low = inference_memory(spec, InferSetup(batch=lo, context=context)).total_bytes
    assert low <= inference_memory(spec, InferSetup(batch=hi, context=context)).total_bytes


@PROPERTY
@given(data=st.data(), name=presets, batch=batches)
def test_serving_memory_monotone_in_context(data: st.DataObject, name: str, batch: int) -> None:
    spec = SPECS[name]
    lo, hi = sorted((data.draw(_seqs(spec)), data.draw(_seqs(spec))))
    low = inference_memory(spec, InferSetup(batch=batch, context=lo)).total_bytes
    assert low <= inference_memory(spec, InferSetup(batch=batch, context=hi)).total_bytes


# Weight formats from widest to narrowest (bits 32 >= 16 >= 8 >= 4).
WEIGHT_ORDERS = [
    [Precision.fp32, Precision.bf16, Precision.int8, Precision.nf4],
    [Precision.fp32, Precision.fp16, Precision.fp8_e4m3, Precision.int4],
]
KV_ORDER = [Precision.fp32, Precision.bf16, Precision.fp8_e4m3]


@PROPERTY
@given(data=st.data(), name=presets, batch=batches, order=st.sampled_from(WEIGHT_ORDERS))
def test_serving_memory_monotone_in_weight_width(
    data: st.DataObject, name: str, batch: int, order: list[Precision]
) -> None:
    spec = SPECS[name]
    context = data.draw(_seqs(spec))
    for kv in (None, Precision.bf16):  # the default KV format (follows the weights), and a fixed one
        needs = [
            inference_memory(spec, InferSetup(precision=p, kv_precision=kv, batch=batch, context=context)).total_bytes
            for p in order
        ]
        assert needs == sorted(needs, reverse=True), f"{[p.value for p in order]} (kv {kv}): {needs}"


@PROPERTY
@given(data=st.data(), name=presets, batch=batches)
def test_serving_memory_monotone_in_kv_width(data: st.DataObject, name: str, batch: int) -> None:
    spec = SPECS[name]
    context = data.draw(_seqs(spec))
    needs = [
        inference_memory(spec, InferSetup(kv_precision=kv, batch=batch, context=context)).total_bytes for kv in KV_ORDER
    ]
    assert needs == sorted(needs, reverse=True), needs


@PROPERTY
@given(data=st.data(), name=presets, batch=batches, precision=st.sampled_from(["bf16", "fp32"]))
def test_lighter_optimizer_never_needs_more(data: st.DataObject, name: str, batch: int, precision: str) -> None:
    spec = SPECS[name]
    seq = data.draw(_seqs(spec))
    p = parse_precision(precision)
    needs = [
        training_peak(spec, TrainSetup(precision=p, optimizer=o, batch=batch, seq=seq))
        for o in (Optimizer.sgd, Optimizer.sgd_momentum, Optimizer.adamw)
    ]
    assert needs == sorted(needs), f"sgd, sgd-momentum, adamw: {needs}"


@PROPERTY
@given(data=st.data(), name=presets, batch=batches, attention=st.sampled_from(["sdpa", "eager"]))
def test_more_checkpointing_never_needs_more(data: st.DataObject, name: str, batch: int, attention: str) -> None:
    spec = SPECS[name]
    seq = data.draw(_seqs(spec))
    needs = [
        training_peak(spec, TrainSetup(checkpointing=c, attention=attention, batch=batch, seq=seq))  # type: ignore[arg-type]
        for c in (Checkpointing.full, Checkpointing.selective, Checkpointing.none)
    ]
    assert needs == sorted(needs), f"full, selective, none: {needs}"


# ---------------------------------------------------------------------------------------------------------
# fit against memory and compute
# ---------------------------------------------------------------------------------------------------------

FIT = settings(PROPERTY, max_examples=15)
# fit's layout search is the slow part: the drawn change test does not shrink (its failure message names the
# change, the promise and the result; the case is in hypothesis' "Failing test case" report).
NO_SHRINK = settings(PROPERTY, max_examples=8, phases=[Phase.explicit, Phase.reuse, Phase.generate])


def _verdict(report: FitReport, mode: str) -> Any:
    return next(v for v in report.verdicts if v.mode == mode)


@FIT
@given(data=st.data(), name=presets, gpu=st.sampled_from(["h100-sxm5-80gb", "a100-sxm4-80gb"]), batch=batches)
def test_fit_training_verdict_is_memorys_answer(data: st.DataObject, name: str, gpu: str, batch: int) -> None:
    """One GPU: fit's training need is memory's peak for the same setup; what fits is within the usable memory."""
    spec = SPECS[name]
    setup = TrainSetup(batch=batch, seq=data.draw(_seqs(spec)))
    report = advise(spec, load_gpu(gpu), mode="train", gpus=1, train=setup)
    v = _verdict(report, "train")
    need = training_memory(spec, setup).total_bytes
    assert v.required_bytes_per_gpu == need
    if v.fits:
        assert need <= report.usable_bytes_per_gpu
    assert v.fits == (need <= report.usable_bytes_per_gpu)


@FIT
@given(data=st.data(), name=presets, gpu=st.sampled_from(GPUS), batch=batches)
def test_fit_serving_verdict_is_memorys_answer(data: st.DataObject, name: str, gpu: str, batch: int) -> None:
    spec = SPECS[name]
    setup = InferSetup(batch=batch, context=data.draw(_seqs(spec)))
    report = advise(spec, load_gpu(gpu), mode="infer", gpus=1, infer=setup)
    v = _verdict(report, "infer")
    need = inference_memory(spec, setup).total_bytes
    assert v.required_bytes_per_gpu == need
    assert v.fits == (need <= report.usable_bytes_per_gpu)


@xfail_if_known("test_compute_single_gpu_verdict_equals_fits")
@FIT
@given(data=st.data(), name=presets, gpu=st.sampled_from(GPUS), batch=batches)
def test_compute_single_gpu_verdict_equals_fits(data: st.DataObject, name: str, gpu: str, batch: int) -> None:
    """`compute --gpu G --batch B --seq S` says whether serving fits one GPU; `fit --mode infer` must agree."""
    spec = SPECS[name]
    context = data.draw(_seqs(spec))
    card = load_gpu(gpu)
    est = estimate_compute(model_size(spec), seq_len=context, gpus=[card], precision="fp16", batch_sizes=[batch])
    assert est.inference is not None
    compute_fits = est.inference.gpus[0].decode[0].fits
    report = advise(
        spec, card, mode="infer", gpus=1, infer=InferSetup(precision=Precision.fp16, batch=batch, context=context)
    )
    assert compute_fits == report.fits, (
        f"{name} on {gpu}, batch {batch} x {context}: compute says fits={compute_fits} "
        f"({est.inference.gpus[0].decode[0].memory_needed_bytes:,} B), fit says fits={report.fits} "
        f"({report.required_bytes_per_gpu:,} B of {report.usable_bytes_per_gpu:,} usable)"
    )


# ---------------------------------------------------------------------------------------------------------
# Suggested changes, applied
# ---------------------------------------------------------------------------------------------------------

TRAIN_KEYS = {"precision", "recipe", "optimizer", "checkpointing", "batch", "lora_rank"}
INFER_KEYS = {"precision", "kv_precision", "batch"}


def _apply(report_args: dict[str, Any], change_settings: dict[str, Any]) -> dict[str, Any]:
    """The arguments of `advise` with a change's option values applied."""
    args = dict(report_args)
    train: TrainSetup = args["train"]
    infer: InferSetup = args["infer"]
    t_upd: dict[str, Any] = {}
    i_upd: dict[str, Any] = {}
    for key, value in change_settings.items():
        if key == "gpus":
            args["gpus"] = int(value)
        elif key == "gpu":
            args["gpu"] = load_gpu(str(value))
        else:
            if key in ("precision", "kv_precision"):
                value = parse_precision(str(value))
            if key in TRAIN_KEYS and args["mode"] != "infer":
                t_upd[key] = value
            if key in INFER_KEYS and args["mode"] == "infer":
                i_upd[key] = value
            assert key in TRAIN_KEYS | INFER_KEYS, f"unknown setting {key}"
    # Only what the user set plus the change, as on the command line: options left unset keep their defaults
    # (and fit may still choose them, e.g. eager attention on a card without flash attention).
    if t_upd:
        if "precision" in t_upd and "recipe" not in t_upd:
            t_upd["recipe"] = None
        args["train"] = TrainSetup.model_validate({**_given(train), **t_upd})
    if i_upd:
        args["infer"] = InferSetup.model_validate({**_given(infer), **i_upd})
    return args


def _given(setup: TrainSetup | InferSetup) -> dict[str, Any]:
    return {k: v for k, v in setup.model_dump().items() if k in setup.model_fields_set}


def _broken_promises(spec: Optional[ModelSpec], args: dict[str, Any]) -> list[str]:
    """Each suggested change applied: the per-GPU need and the verdict it promised, or what differs."""
    report = advise(spec, **args)
    assert not report.fits
    mode = "infer" if args["mode"] == "infer" else "train"
    broken = []
    for change in report.changes:
        applied = advise(spec, **_apply(args, change.settings))
        got = _verdict(applied, mode)
        what = f"{change.change} {change.settings}"
        if got.required_bytes_per_gpu != change.required_bytes_per_gpu:
            broken.append(
                f"{what}: promised {change.required_bytes_per_gpu:,} B per GPU, applied {got.required_bytes_per_gpu:,}"
            )
        if applied.fits != change.fits:
            broken.append(f"{what}: promised fits={change.fits}, applied fits={applied.fits}")
    return broken


def _useless_changes(spec: Optional[ModelSpec], args: dict[str, Any]) -> list[str]:
    """Changes on the same card that do not lower the per-GPU need (a bigger card may keep it)."""
    report = advise(spec, **args)
    mode = "infer" if args["mode"] == "infer" else "train"
    need = _verdict(report, mode).required_bytes_per_gpu
    return [
        f"{c.change} {c.settings}: {c.required_bytes_per_gpu:,} B per GPU, not below the current {need:,}"
        for c in report.changes
        if "gpu" not in c.settings and c.required_bytes_per_gpu >= need
    ]


CHANGE_CASES: list[tuple[str, Optional[str], Optional[int], str, str, int, int]] = [
    # id, preset, --params, gpu, mode, batch, seq/context
    ("llama3-8b-a100-40-train", "llama3-8b", None, "a100-sxm4-40gb", "train", 8, 4096),
    ("mistral-7b-4090-train", "mistral-7b", None, "rtx-4090-24gb", "train", 4, 2048),
    ("gpt2-t4-train", "gpt2-124m", None, "t4-pcie-16gb", "train", 64, 1024),
    ("mixtral-h100-infer", "mixtral-8x7b", None, "h100-sxm5-80gb", "infer", 8, 32768),
    ("llama3-8b-4090-infer", "llama3-8b", None, "rtx-4090-24gb", "infer", 32, 8192),
    ("params-13b-t4-train", None, 13_000_000_000, "t4-pcie-16gb", "train", 1, 2048),
    ("params-70b-a100-40-infer", None, 70_000_000_000, "a100-sxm4-40gb", "infer", 1, 2048),
]


def _change_args(gpu: str, mode: str, batch: int, length: int, n_params: Optional[int] = None) -> dict[str, Any]:
    return dict(
        gpu=load_gpu(gpu),
        mode=mode,
        gpus=1,
        n_params=n_params,
        train=TrainSetup(batch=batch, seq=length),
        infer=InferSetup(batch=batch, context=length),
    )


def _change_cases(test: str) -> list[Any]:
    return [pytest.param(*c[1:], id=c[0], marks=known(f"{test}[{c[0]}]")) for c in CHANGE_CASES]


CASE_ARGS = ("preset", "n_params", "gpu", "mode", "batch", "length")


@pytest.mark.parametrize(CASE_ARGS, _change_cases("test_suggested_changes_keep_their_promise"))
def test_suggested_changes_keep_their_promise(
    preset: Optional[str], n_params: Optional[int], gpu: str, mode: str, batch: int, length: int
) -> None:
    spec = SPECS[preset] if preset else None
    broken = _broken_promises(spec, _change_args(gpu, mode, batch, length, n_params))
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize(CASE_ARGS, _change_cases("test_suggested_changes_lower_the_need"))
def test_suggested_changes_lower_the_need(
    preset: Optional[str], n_params: Optional[int], gpu: str, mode: str, batch: int, length: int
) -> None:
    spec = SPECS[preset] if preset else None
    useless = _useless_changes(spec, _change_args(gpu, mode, batch, length, n_params))
    assert not useless, "\n".join(useless)


@xfail_if_known("test_suggested_changes_keep_their_promise_drawn")
@NO_SHRINK
@given(data=st.data(), name=presets, gpu=st.sampled_from(GPUS), mode=st.sampled_from(["train", "infer"]), batch=batches)
def test_suggested_changes_keep_their_promise_drawn(
    data: st.DataObject, name: str, gpu: str, mode: str, batch: int
) -> None:
    spec = SPECS[name]
    args = _change_args(gpu, mode, batch, _window(spec))
    if advise(spec, **args).fits:
        return
    broken = _broken_promises(spec, args)
    assert not broken, "\n".join(broken)
