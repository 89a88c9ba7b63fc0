"""The probe: measure, estimate, compare. Each row is one quantity both sides name the same way.

Training rows: weights, optimizer states, gradients (all exact up to allocator rounding), the
forward's live bytes (activations saved for backward, loss buffers, autocast weight copies),
and the step's peak. Inference rows: weights, KV cache (exact), and the prefill and decode
peaks. Peaks pass within --tolerance (default 5%); the exact rows within 512 bytes per tensor
on CUDA (the caching allocator's rounding) and to the byte elsewhere.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any, Literal, Optional

import torch
from pydantic import BaseModel, ConfigDict, Field

from llm_budget.defaults import sequence_length
from llm_budget.errors import LLMBudgetError
from llm_budget.memory import (
    CUDA_ROUND,
    InferSetup,
    MemoryReport,
    TrainSettings,
    TrainSetup,
    inference_memory,
    training_memory,
)
from llm_budget.model.inventory import parameter_tensors
from llm_budget.model.spec import ModelSpec
from llm_budget.probe.measure import (
    DECODE_STEPS,
    InferMeasurement,
    StepMeasurement,
    measure_inference,
    measure_training_step,
)
from llm_budget.units import MemoryUnit, format_bytes

Path = Literal["cuda", "cpu", "fake"]
EXACT = {"weights", "optimizer states", "gradients", "KV cache"}
DEFAULT_TOLERANCE = 0.05
"""Peaks within 5% of the measurement pass; the exact rows allow only the allocator's rounding."""


class ProbeRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    phase: Literal["train", "infer"]
    component: str
    estimate_bytes: int
    measured_bytes: Optional[int]  # None: out of memory
    error: Optional[float]  # (estimate - measured) / measured
    tolerance: float  # relative, or 0 for exact rows (see allowance_bytes)
    allowance_bytes: int = 0
    ok: bool


class ProbeReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    device: str
    path: Path
    torch_version: str
    model: str
    settings: dict[str, object]
    layers_probed: int
    layers_total: int
    extrapolated: bool = False
    rows: list[ProbeRow]
    passed: bool
    notes: list[str] = Field(default_factory=list)


def _row(phase: str, component: str, est: int, meas: Optional[int], tol: float, allowance: int = 0) -> ProbeRow:
    if meas is None:
        return ProbeRow(
            phase=phase,
            component=component,
            estimate_bytes=est,
            measured_bytes=None,
            error=None,
            tolerance=tol,
            allowance_bytes=allowance,
            ok=False,
        )  # type: ignore[arg-type]
    err = (est - meas) / meas if meas else (0.0 if est == 0 else float("inf"))
    ok = abs(est - meas) <= allowance if component in EXACT else abs(err) <= tol
    return ProbeRow(
        phase=phase,
        component=component,
        estimate_bytes=est,
        measured_bytes=meas,
        error=round(err, 6),
        tolerance=tol,
        allowance_bytes=allowance,
        ok=ok,
    )  # type: ignore[arg-type]


def _parts(report: MemoryReport) -> dict[str, int]:
    return {c.name: c.bytes for c in report.components}


def choose_path(fake: bool, device: Optional[str]) -> Path:
    if fake:
        return "fake"
    if device == "cpu":
        return "cpu"
    if device == "cuda" or device is None:
        if torch.cuda.is_available():
            return "cuda"
        if device == "cuda":
            raise RuntimeError("no CUDA device is available (use --fake to probe without one)")
        return "fake"  # no GPU: fake tensors (seconds, no memory); real CPU tensors only when asked (--device cpu)
    raise RuntimeError(f"unknown device {device!r}: use cuda, cpu or --fake")


def probe_training(
    spec: ModelSpec,
    setup: TrainSetup,
    *,
    path: Path,
    tolerance: float = DEFAULT_TOLERANCE,
    layers: Optional[int] = None,
    hf_config: Optional[dict[str, Any]] = None,
) -> ProbeReport:
    """Measure a training step (of `layers` blocks, extrapolated to the full depth) and compare.

    With hf_config, the measured model is transformers' own, built from that config.json, and the
    estimate is the accountant's for transformers (implementation "hf"); else the reference model's.
    """
    dev = "cuda" if path == "cuda" else "cpu"
    impl = "hf" if hf_config is not None else "reference"
    est_setup = setup.model_copy(update={"device": dev, "implementation": impl})
    est = training_memory(spec, est_setup)
    notes: list[str] = []
    L = spec.n_layers
    if layers and layers < L:
        a = _measure_train(spec, est_setup.model_copy(update={"n_layers": layers}), path, hf_config)
        b = _measure_train(spec, est_setup.model_copy(update={"n_layers": layers + 1}), path, hf_config)
        meas = _extrapolate(a, b, layers, L)
        notes.append(
            f"Measured {layers} and {layers + 1} blocks; the full {L} are extrapolated per block (the difference × {L - layers})."
        )
    else:
        meas = _measure_train(spec, est_setup, path, hf_config)
    if hf_config is not None:
        notes.append("The model is Hugging Face transformers' own implementation, built from its config.")
    parts = _parts(est)
    s = est.settings
    assert isinstance(s, TrainSettings)
    n_tensors = sum(t.copies for t in parameter_tensors(spec))
    allowance = CUDA_ROUND * n_tensors if path == "cuda" else 0
    fwd_est = s.forward_end_bytes
    rows = [
        _row(
            "train",
            "weights",
            s.weight_bytes + parts.get("Master weights (FP32)", 0) + parts.get("Adapters", 0),
            meas.weights if not meas.oom else None,
            0.0,
            allowance,
        ),
        _row(
            "train", "optimizer states", s.optimizer_state_bytes, meas.states if not meas.oom else None, 0.0, allowance
        ),
        _row("train", "gradients", s.gradient_bytes, meas.gradients if not meas.oom else None, 0.0, allowance),
        _row("train", "forward (saved activations, loss)", fwd_est, meas.forward if not meas.oom else None, tolerance),
        _row("train", "peak", est.total_bytes, meas.peak if not meas.oom else None, tolerance),
    ]
    if meas.reserved is not None:
        notes.append(
            f"CUDA reserved at peak: {meas.reserved:,} bytes ({meas.reserved - meas.peak:+,} over allocated: the caching allocator's blocks)."
        )
    notes += meas.notes
    return ProbeReport(
        device=meas.device,
        path=path,
        torch_version=torch.__version__,
        model=spec.label,
        settings={
            **{k: v for k, v in s.model_dump(mode="json").items() if not k.endswith("_bytes")},
            "recipe": est.recipe,
            "precision": est.precision,
            "peak_phase": est.peak_phase,
            "implementation": impl,
        },
        layers_probed=layers or L,
        layers_total=L,
        extrapolated=bool(layers and layers < L),
        rows=rows,
        passed=all(r.ok for r in rows),
        notes=notes,
    )


def _measure_train(
    spec: ModelSpec, setup: TrainSetup, path: Path, hf_config: Optional[dict[str, Any]] = None
) -> StepMeasurement:
    try:
        if hf_config is not None:
            from llm_budget.probe.hf import measure_hf_step

            return measure_hf_step(hf_config, setup, path=path)
        return measure_training_step(spec, setup, path=path)
    except torch.OutOfMemoryError as e:  # CUDA only
        _release()
        m = StepMeasurement(path=path, device=torch.cuda.get_device_name(), oom=True)
        m.notes.append(f"out of memory: {str(e).splitlines()[0]}")
        return m


def _release() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _extrapolate(a: StepMeasurement, b: StepMeasurement, n: int, L: int) -> StepMeasurement:
    if a.oom or b.oom:
        return a if a.oom else b
    k = L - n

    def ex(x: int, y: int) -> int:
        return x + (y - x) * k

    return StepMeasurement(
        path=a.path,
        device=a.device,
        weights=ex(a.weights, b.weights),
        states=ex(a.states, b.states),
        forward=ex(a.forward, b.forward),
        gradients=ex(a.gradients, b.gradients),
        peak=ex(a.peak, b.peak),
        reserved=None,
        notes=a.notes,
    )


def probe_inference(
    spec: ModelSpec, setup: InferSetup, *, path: Path, tolerance: float = DEFAULT_TOLERANCE
) -> ProbeReport:
    dev = "cuda" if path == "cuda" else "cpu"
    # the measurement prefills the context less its decode steps (measure_inference): estimate that same prompt
    context = sequence_length(setup.context, spec.context_window)
    prompt = setup.prompt or max(context - DECODE_STEPS, 1)
    est_setup = setup.model_copy(update={"device": dev, "prompt": prompt})
    est = inference_memory(spec, est_setup)
    notes: list[str] = []
    try:
        m = measure_inference(spec, est_setup, path=path)
    except torch.OutOfMemoryError as e:
        _release()
        m = InferMeasurement(path=path, device=torch.cuda.get_device_name(), oom=True)
        notes.append(f"out of memory: {str(e).splitlines()[0]}")
    parts = est.components
    weights = parts[0].bytes
    kv = parts[1].bytes
    n_tensors = sum(t.copies for t in parameter_tensors(spec))
    allowance = CUDA_ROUND * n_tensors if path == "cuda" else 0
    ok_m = not m.oom
    rows = [
        _row("infer", "weights", weights, m.weights if ok_m else None, 0.0, allowance),
        _row(
            "infer",
            "KV cache",
            kv,
            m.kv_cache if ok_m else None,
            0.0,
            CUDA_ROUND * 2 * spec.n_layers if path == "cuda" else 0,
        ),
        _row("infer", "prefill peak", est.total_bytes, m.prefill_peak if ok_m else None, tolerance),
    ]
    return ProbeReport(
        device=m.device,
        path=path,
        torch_version=torch.__version__,
        model=spec.label,
        settings=est.settings.model_dump(mode="json"),
        layers_probed=spec.n_layers,
        layers_total=spec.n_layers,
        rows=rows,
        passed=all(r.ok for r in rows),
        notes=notes
        + [
            f"Decode peak measured: {format_bytes(m.decode_peak, MemoryUnit.gib, decimals=3)} (one new token per sequence)."
        ]
        if ok_m
        else notes,
    )


def probe_model(
    spec: ModelSpec,
    *,
    train: TrainSetup,
    infer: InferSetup,
    mode: Literal["train", "infer", "both"],
    path: Path,
    tolerance: float = DEFAULT_TOLERANCE,
    layers: Optional[int] = None,
    hf_config: Optional[dict[str, Any]] = None,
    on_step: Optional[Callable[[str], None]] = None,
) -> list[ProbeReport]:
    """`llm-budget probe`: the training step, serving, or both (a transformers model is probed training only).

    `on_step` is told what is measured next ("training step", "serving"), for a progress display.
    """
    if hf_config is not None and mode == "infer":
        raise LLMBudgetError("serving is probed on the reference model: drop --hf-model, or use --mode train")
    if mode in ("train", "both"):
        check_shape(
            spec,
            batch=train.batch,
            tokens=sequence_length(train.seq, spec.context_window),
            what="--seq",
            eager=train.attention == "eager",
        )
    if mode in ("infer", "both") and hf_config is None:
        check_shape(
            spec, batch=infer.batch, tokens=sequence_length(infer.context, spec.context_window), what="--context"
        )
    if path == "cpu":
        need = training_memory(spec, train.model_copy(update={"device": "cpu", "n_layers": layers})).total_bytes
        spare = _spare_ram()
        if need > spare:
            raise LLMBudgetError(
                f"{spec.label} needs about {format_bytes(need, decimals=1)} to train for real here, over the {format_bytes(spare, decimals=1)} this "
                "machine can spare: use --fake (no memory used) or --layers N"
            )
    step = on_step or (lambda _: None)
    reports: list[ProbeReport] = []
    if mode in ("train", "both"):
        step("training step")
        reports.append(probe_training(spec, train, path=path, tolerance=tolerance, layers=layers, hf_config=hf_config))
    if mode in ("infer", "both") and hf_config is None:
        step("serving")
        reports.append(probe_inference(spec, infer, path=path, tolerance=tolerance))
    return reports


MAX_TENSOR_BYTES = 2**63 - 1
"""PyTorch sizes a tensor's storage in a signed 64-bit byte count (fake tensors included)."""


def check_shape(spec: ModelSpec, *, batch: int, tokens: int, what: str, eager: bool = False) -> None:
    """Refuse a batch × tokens whose largest tensor PyTorch cannot size, before building anything.

    The largest tensors of a step are the FP32 logits (batch × tokens × n_vocab), the MLP's hidden
    activations (batch × tokens × d_mlp × experts per token) and, with eager attention, the scores
    (batch × heads × tokens²); 8 bytes per element bounds every dtype the probe uses.
    """
    widest = max(spec.n_vocab, spec.d_embed, spec.d_mlp * spec.active_experts, spec.n_heads * tokens if eager else 0)
    if batch * tokens * widest * 8 > MAX_TENSOR_BYTES:
        raise LLMBudgetError(
            f"--batch {batch:,} × {what} {tokens:,} is beyond what PyTorch can size: the probe's largest tensor "
            f"(batch × tokens × {widest:,} elements) must stay under 2^63 bytes"
        )


def _spare_ram() -> int:
    """80% of the memory the OS reports available (8 GB when it cannot say)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") * 0.8)
    except (ValueError, OSError, AttributeError):
        return 8 * 10**9


def summarize(reports: list[ProbeReport]) -> dict[str, dict[str, float]]:
    """Max and median |error| per (phase, component) over many probes."""
    by: dict[str, list[float]] = {}
    for r in reports:
        for row in r.rows:
            if row.error is not None:
                by.setdefault(f"{row.phase}: {row.component}", []).append(abs(row.error))
    return {k: {"max": max(v), "median": statistics.median(v), "n": len(v)} for k, v in sorted(by.items())}
