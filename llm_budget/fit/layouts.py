"""The training layout search: data parallelism with ZeRO stages 0-3, tensor parallelism within a node,
pipeline parallelism and activation checkpointing, ranked by GPUs needed, then by time per 1M tokens."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple, Optional

from llm_budget.compute import ModelSize, model_size
from llm_budget.defaults import sequence_length
from llm_budget.fit.results import Plan
from llm_budget.fit.timing import seconds_per_million_tokens
from llm_budget.hardware import GpuSpec, Precision
from llm_budget.memory import (
    GRADIENTS,
    OPTIMIZER_STATES,
    WEIGHTS,
    Checkpointing,
    Parallel,
    TrainSetup,
    rule_of_thumb,
    sharded_bytes,
    training_peak,
)
from llm_budget.model.counter import count_params
from llm_budget.model.spec import ModelSpec


def _tp_options(spec: Optional[ModelSpec], gpus_per_node: int) -> list[int]:
    """Tensor-parallel degrees within a node that divide the query heads (and the KV heads, or are divided by them)."""
    out = []
    for tp in (1, 2, 4, 8, 16):
        if tp > gpus_per_node:
            break
        if spec is None or (spec.n_heads % tp == 0 and (spec.kv_heads % tp == 0 or tp % spec.kv_heads == 0)):
            out.append(tp)
    return out


def _pp_options(spec: Optional[ModelSpec]) -> list[int]:
    L = spec.n_layers if spec is not None else 1
    return [pp for pp in (1, 2, 4, 8, 16, 32, 64) if pp <= L]


def _gpu_counts(limit: int) -> list[int]:
    """1, 2, 4, 8, 16, 32 … up to the limit, and the limit itself."""
    counts = [1, 2, 4, 8]
    n = 16
    while n <= limit:
        counts.append(n)
        n *= 2
    out = [c for c in counts if c <= limit]
    if limit not in out:
        out.append(limit)
    return sorted(set(out))


def layouts_on(spec: Optional[ModelSpec], gpus: int, gpus_per_node: int) -> Iterator[Parallel]:
    """Every (tp, pp, ZeRO stage) with dp = gpus / (tp·pp) on exactly `gpus` GPUs. A model measured from
    transformers' class (spec.tensors) is measured on one GPU: data parallel with ZeRO 0-1 only."""
    if spec is not None and spec.tensors is not None:
        yield from (Parallel(dp=gpus, zero=z) for z in ((0, 1) if gpus > 1 else (0,)))
        return
    for tp in _tp_options(spec, gpus_per_node):
        for pp in _pp_options(spec):
            if gpus % (tp * pp):
                continue
            dp = gpus // (tp * pp)
            for zero in (0, 1, 2, 3) if dp > 1 else (0,):
                yield Parallel(dp=dp, tp=tp, pp=pp, zero=zero)


class Given(NamedTuple):
    """The training layout the user chose, and the host RAM per node it may use (for offload)."""

    layout: Parallel
    host_ram: Optional[int]


def given_on(layout: Parallel, gpus: int) -> Optional[Parallel]:
    """The user's layout on `gpus` GPUs: itself, or rescaled in data parallelism when a change asks for
    another GPU count (None when tp × pp does not divide it, or the shard group no longer divides dp)."""
    if layout.gpus == gpus:
        return layout
    mp = layout.tp * layout.pp
    if gpus % mp:
        return None
    dp = gpus // mp
    group = layout.shard_group
    if group is not None and dp % group:
        return None
    return layout.model_copy(update={"dp": dp})


def layout_extras(par: Parallel) -> str:
    """What a layout label adds beyond dp/tp/pp/ZeRO: hybrid shard groups, sequence parallelism, offload."""
    out = ""
    if par.shard_group and par.shard_group < par.dp:
        out += f" · hybrid shard groups of {par.shard_group}"
    if par.sp:
        out += " · sequence parallel"
    if par.offload != "none":
        out += f" · offload {par.offload}"
    if par.optimizer_in_backward:
        out += " · optimizer in backward"
    return out


def train_need(spec: Optional[ModelSpec], setup: TrainSetup, par: Parallel, checkpointing: str, n_params: int) -> int:
    """Peak bytes on one GPU of the layout: the accountant's step, or the lecture's rule with --params only."""
    if spec is None:
        return _rule_need(n_params, setup.precision, par)
    if checkpointing != setup.checkpointing.value:
        setup = setup.model_copy(update={"checkpointing": Checkpointing(checkpointing)})
    return training_peak(spec, setup.model_copy(update={"parallel": par}))


def _rule_need(n_params: int, precision: Precision, par: Parallel) -> int:
    """The lecture's bytes per parameter on one GPU of a layout: ZeRO shards states, gradients and weights over dp."""
    r = rule_of_thumb(n_params, precision)
    weights, adam, grads, act = (c.bytes for c in r.components)
    mp = par.tp * par.pp

    def shard(x: int, level: int) -> int:
        return sharded_bytes(x, level=level, zero=par.zero, dp=par.dp, model_parallel=mp)

    return shard(weights, WEIGHTS) + shard(adam, OPTIMIZER_STATES) + shard(grads, GRADIENTS) + -(-act // mp)


def best_layout_on(
    spec: Optional[ModelSpec], setup: TrainSetup, gpus: int, gpus_per_node: int, n_params: int
) -> tuple[int, Parallel]:
    """The smallest per-GPU need over layouts of exactly `gpus` GPUs at the requested checkpointing."""
    best: Optional[tuple[int, Parallel]] = None
    for par in layouts_on(spec, gpus, gpus_per_node):
        need = train_need(spec, setup, par, setup.checkpointing.value, n_params)
        if best is None or need < best[0]:
            best = (need, par)
    assert best is not None  # tp = pp = 1 is always a layout
    return best


def _size(spec: Optional[ModelSpec], n_params: int) -> Optional[ModelSize]:
    """What the FLOPs formula needs: active parameters and attention shape, or the bare count."""
    if spec is not None:
        return model_size(spec)
    return model_size(params=n_params) if n_params > 0 else None


def _fitting_plans_on(
    n: int, spec: Optional[ModelSpec], setup: TrainSetup, gpu: GpuSpec, usable: int, gpus_per_node: int, n_params: int
) -> list[Plan]:
    """Every layout on n GPUs that fits, each with the largest micro-batch that fits it."""
    size = _size(spec, n_params)
    seq = sequence_length(setup.seq, spec.context_window if spec is not None else None)
    ckpts = (
        ["none", "full"] if (setup.checkpointing.value == "none" and spec is not None) else [setup.checkpointing.value]
    )
    micro = [setup.batch]  # smaller micro-batches (gradient accumulation keeps the global batch), when there is a model
    while spec is not None and micro[-1] > 1:
        micro.append(micro[-1] // 2)
    found = []
    for par in layouts_on(spec, n, gpus_per_node):
        for ckpt in ckpts:
            for mb in micro:
                s = setup if mb == setup.batch else setup.model_copy(update={"batch": mb})
                need = train_need(spec, s, par, ckpt, n_params)
                if need > usable:
                    continue
                seconds = seconds_per_million_tokens(size, spec, gpu, setup.precision, par, ckpt, seq) if size else None
                found.append(
                    Plan(
                        gpus=n,
                        dp=par.dp,
                        tp=par.tp,
                        pp=par.pp,
                        zero=par.zero,
                        checkpointing=ckpt,
                        micro_batch=mb,
                        required_bytes_per_gpu=need,
                        headroom_bytes=usable - need,
                        fits=True,
                        seconds_per_million_tokens=seconds,
                    )
                )
                break  # the largest micro-batch that fits this layout
    return found


def search_plans(
    spec: Optional[ModelSpec],
    setup: TrainSetup,
    gpu: GpuSpec,
    usable: int,
    *,
    max_gpus: int,
    gpus_per_node: int = 8,
    n_params: Optional[int] = None,
    keep: int = 5,
) -> tuple[list[Plan], Optional[int]]:
    """Fitting layouts on the fewest GPUs (up to max_gpus), best first; and that fewest number.

    Evaluates every (GPUs, tp, pp, ZeRO stage, checkpointing) with dp = GPUs / (tp·pp), in
    increasing GPU count, and stops after the first count that fits.
    """
    n_params = n_params if n_params is not None else (count_params(spec).total if spec is not None else 0)
    for n in _gpu_counts(max_gpus):
        found = _fitting_plans_on(n, spec, setup, gpu, usable, gpus_per_node, n_params)
        if found:
            found.sort(
                key=lambda p: (p.gpus, p.seconds_per_million_tokens or math.inf, -p.micro_batch, -p.headroom_bytes)
            )
            return found[:keep], n
    return [], None
