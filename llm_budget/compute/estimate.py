"""`llm-budget compute`: training FLOPs, time and cost per GPU type, and the inference bounds, in one result.

The formulas live in their own modules: FLOPs per token in flops.py, time and cost in training.py,
the decode bounds in inference.py, peaks and utilization in peaks.py. This module only checks the
options against each other and puts the pieces together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from llm_budget.compute.flops import TrainingFlops, training_flops
from llm_budget.compute.frozen import Frozen
from llm_budget.compute.inference import DEFAULT_BATCH_SIZES, InferenceEstimate, inference_estimate
from llm_budget.compute.model_size import ModelSize, default_seq_len
from llm_budget.compute.peaks import resolve_peak
from llm_budget.compute.training import TrainingRun, training_run
from llm_budget.defaults import DEFAULT_MFU
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec


class Speedup(Frozen):
    """--gpu against --vs at the same MFU: which card finishes first, and by how much."""

    faster: int  # index into ComputeEstimate.runs
    slower: int
    times_faster: float  # ≥ 1: time on the slower card ÷ time on the faster one


class ComputeEstimate(Frozen):
    """`llm-budget compute`: training FLOPs, time and cost per GPU type, and inference bounds."""

    model: str
    params: int  # N used (active)
    params_total: int
    params_non_embedding: Optional[int]
    params_note: str
    tokens: Optional[int]
    seq_len: int
    training: Optional[TrainingFlops]  # None without --tokens
    runs: list[TrainingRun]  # one per GPU type: --gpu, then --vs
    speedup: Optional[float]  # time on --gpu ÷ time on --vs (> 1: the --vs card is faster)
    comparison: Optional[Speedup]  # the same, as faster / slower (None without --vs)
    inference: Optional[InferenceEstimate]  # None without --gpu
    notes: list[str]


def _check_options(
    *,
    tokens: Optional[int],
    gpus: Sequence[GpuSpec],
    n_gpus: int,
    mfu: Optional[float],
    hfu: Optional[float],
    gpu_hours: Optional[float],
    recompute: bool,
    price: Optional[float],
) -> None:
    """Options that only make sense together: one line each, naming the option the user typed."""
    if tokens is None and gpu_hours is not None:
        raise LLMBudgetError("--gpu-hours needs --tokens (the implied MFU compares FLOPs with GPU time)")
    if tokens is None and not gpus:
        raise LLMBudgetError("nothing to estimate: give --tokens (training FLOPs) and/or --gpu (time, cost, inference)")
    if (gpu_hours is not None or price is not None or mfu is not None or hfu is not None) and not gpus:
        raise LLMBudgetError("--mfu, --hfu, --gpu-hours and --price need --gpu")
    if hfu is not None and not recompute:
        raise LLMBudgetError(
            "--hfu counts recomputed FLOPs: use it with --recompute (without it, HFU = MFU: use --mfu)"
        )
    if n_gpus <= 0:
        raise LLMBudgetError(f"number of GPUs must be positive, got {n_gpus}")


def _training_runs(
    flops: TrainingFlops,
    gpus: Sequence[GpuSpec],
    *,
    n_gpus: int,
    mfu: Optional[float],
    hfu: Optional[float],
    gpu_hours: Optional[float],
    precision: Optional[str],
    price: Optional[float],
) -> tuple[list[TrainingRun], list[str]]:
    """The run on --gpu, then on --vs; published GPU-hours on --gpu carry their implied MFU over to --vs."""
    first = training_run(
        flops, gpus[0], n_gpus=n_gpus, mfu=mfu, hfu=hfu, gpu_hours=gpu_hours, precision=precision, price=price
    )
    runs, notes = [first], []
    for other in gpus[1:]:
        if gpu_hours is not None:
            runs.append(
                training_run(
                    flops, other, n_gpus=n_gpus, mfu=min(first.mfu, 1.0), precision=precision, mfu_from="gpu_hours"
                )
            )
            notes.append(f"{other.display_name}: assumes the MFU implied on {gpus[0].display_name} ({first.mfu:.1%})")
        else:
            runs.append(training_run(flops, other, n_gpus=n_gpus, mfu=mfu, hfu=hfu, precision=precision))
    if first.mfu_from == "gpu_hours" and not 0 < first.mfu <= 1:
        notes.append(f"the implied MFU {first.mfu:.1%} is above 100%: check the GPU type, tokens and GPU-hours")
    return runs, notes


def _speedup(runs: list[TrainingRun]) -> Optional[Speedup]:
    """Time on --gpu ÷ time on --vs, turned so that it reads "the faster card is k× faster"."""
    if len(runs) != 2:
        return None
    ratio = runs[0].time_s / runs[1].time_s
    return (
        Speedup(faster=1, slower=0, times_faster=ratio)
        if ratio >= 1
        else Speedup(faster=0, slower=1, times_faster=1 / ratio)
    )


def estimate_compute(
    size: ModelSize,
    *,
    tokens: Optional[int] = None,
    seq_len: Optional[int] = None,
    gpus: Sequence[GpuSpec] = (),
    n_gpus: int = 1,
    mfu: Optional[float] = None,
    hfu: Optional[float] = None,
    gpu_hours: Optional[float] = None,
    recompute: bool = False,
    precision: Optional[str] = None,
    price: Optional[float] = None,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
) -> ComputeEstimate:
    """Everything `llm-budget compute` prints. `gpus` is [--gpu] or [--gpu, --vs]; `price` applies to the first.

    With `gpu_hours` (published GPU-hours on the first GPU type), the implied MFU is used for every card.
    """
    _check_options(
        tokens=tokens, gpus=gpus, n_gpus=n_gpus, mfu=mfu, hfu=hfu, gpu_hours=gpu_hours, recompute=recompute, price=price
    )
    T = default_seq_len(size, seq_len)
    flops = training_flops(size, tokens, seq_len=T, recompute=recompute) if tokens is not None else None
    runs: list[TrainingRun] = []
    notes: list[str] = []
    if flops is not None and gpus:
        runs, notes = _training_runs(
            flops, gpus, n_gpus=n_gpus, mfu=mfu, hfu=hfu, gpu_hours=gpu_hours, precision=precision, price=price
        )
    notes += [
        f"no catalog price for {r.gpu_display_name}: give --price for a cost"
        for r in runs
        if r.price_usd_per_gpu_hour is None
    ]
    inference = None
    if gpus:
        inf_mfu = runs[0].mfu if runs and runs[0].mfu <= 1 else (mfu or DEFAULT_MFU)
        inference = inference_estimate(
            size, gpus, context_tokens=T, batch_sizes=batch_sizes, precision=precision, mfu=inf_mfu
        )
    return ComputeEstimate(
        model=size.label,
        params=size.params,
        params_total=size.params_total,
        params_non_embedding=size.params_non_embedding,
        params_note=size.params_note,
        tokens=tokens,
        seq_len=T,
        training=flops,
        runs=runs,
        speedup=runs[0].time_s / runs[1].time_s if len(runs) == 2 else None,
        comparison=_speedup(runs),
        inference=inference,
        notes=notes + _notes(size, T, gpus, precision),
    )


def _notes(size: ModelSize, T: int, gpus: Sequence[GpuSpec], precision: Optional[str]) -> list[str]:
    notes = []
    if size.spec is not None and size.spec.tensors is not None and size.spec.notes:
        notes.append(size.spec.notes)  # "measured from transformers' <Class> on the meta device: N s"
    if not size.has_architecture:
        notes.append(
            "--params only: attention FLOPs and the KV cache need the architecture (--preset, --hf-config or sizes)"
        )
    if size.sliding_window and size.sliding_window < T:
        notes.append(f"sliding window: attention spans {size.sliding_window:,} of the {T:,} tokens")
    if precision is None:
        for g in gpus:
            choice = resolve_peak(g, None)
            if choice.note:
                notes.append(choice.note)
    return notes
