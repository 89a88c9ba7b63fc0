"""Limits on the requested GPUs: the largest micro-batch and the longest sequence that train, the longest
context that serves. Each is a binary search over the accountant, whose need grows with the quantity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from llm_budget.defaults import sequence_length
from llm_budget.fit.layouts import best_layout_on
from llm_budget.memory import InferSetup, Parallel, TrainSetup, inference_memory, training_peak
from llm_budget.model.spec import ModelSpec


def serving_tp(spec: Optional[ModelSpec], gpus: int, gpus_per_node: int) -> int:
    """Tensor-parallel degree for serving: all GPUs of a node, halved until it divides the query heads."""
    tp = min(gpus, gpus_per_node)
    while tp > 1 and spec is not None and spec.n_heads % tp:
        tp //= 2
    return tp


def largest(lo: int, hi: int, fits: Callable[[int], bool]) -> Optional[int]:
    """Largest x in [lo, hi] with fits(x), for a monotone predicate; None when even lo does not fit."""
    if not fits(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def training_limits(
    spec: ModelSpec, train: TrainSetup, usable: int, gpus: int, gpus_per_node: int, layout: Optional[Parallel] = None
) -> dict[str, Optional[int]]:
    """max_batch and max_seq on the user's layout, else the layout of `gpus` GPUs with the smallest per-GPU need."""
    par = layout if layout is not None else best_layout_on(spec, train, gpus, gpus_per_node, 0)[1]
    seq = sequence_length(train.seq, spec.context_window)

    def fits_batch(b: int) -> bool:
        return training_peak(spec, train.model_copy(update={"batch": b, "parallel": par})) <= usable

    def fits_seq(s: int) -> bool:
        return training_peak(spec, train.model_copy(update={"seq": s, "parallel": par})) <= usable

    # A model measured from transformers' class is probed at every length tried: search up to its context window
    # (learned position tables and causal-mask buffers end there, and each probe costs a fake-tensor run).
    longest = spec.context_window or seq if spec.tensors is not None else max(seq * 64, 1 << 20)
    return {"max_batch": largest(1, 4096, fits_batch), "max_seq": largest(1, longest, fits_seq)}


def serving_limits(
    spec: ModelSpec, infer: InferSetup, usable: int, gpus: int, gpus_per_node: int
) -> dict[str, Optional[int]]:
    """max_context (= max_context_memory) with the weights, KV cache and workspace split over the serving
    tensor-parallel GPUs, and the model's own context window beside it: memory may allow more than the model
    supports (Llama 3 70B: 8,192), and the two are reported, never one for the other."""
    tp = serving_tp(spec, gpus, gpus_per_node)

    def fits_ctx(c: int) -> bool:
        return (
            -(-inference_memory(spec, infer.model_copy(update={"context": c, "prompt": None})).total_bytes // tp)
            <= usable
        )

    # A measured model is probed at every context tried: search up to its context window (see training_limits).
    longest = largest(1, (spec.context_window or 1 << 24) if spec.tensors is not None else 1 << 24, fits_ctx)
    return {"max_context": longest, "max_context_memory": longest, "context_window": spec.context_window}


def limits(
    spec: ModelSpec,
    mode: str,
    train: TrainSetup,
    infer: InferSetup,
    usable: int,
    gpus: int,
    gpus_per_node: int,
    *,
    layout: Optional[Parallel] = None,
) -> dict[str, Optional[int]]:
    out: dict[str, Optional[int]] = {}
    if mode in ("train", "both"):
        out.update(training_limits(spec, train, usable, gpus, gpus_per_node, layout))
    if mode in ("infer", "both"):
        out.update(serving_limits(spec, infer, usable, gpus, gpus_per_node))
    return out
