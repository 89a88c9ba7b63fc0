"""The diagnosis -> what to change, in order: what addresses the diagnosis first, then what reduces memory in general.

Each recommendation is data (llm_budget.oom.report.Recommendation); llm_budget.render.oom writes its title,
the exact setting and the reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

from llm_budget.oom.report import OomReport, Recommendation, RecommendationKind
from llm_budget.oom.thresholds import FRAGMENTATION_SHARE, LARGE_REQUEST_SHARE, OTHER_PROCESSES_SHARE
from llm_budget.refs import cite
from llm_budget.units import MiB

_ALLOCATOR_NOTES = "pytorch-cuda-notes: expandable_segments, max_split_size_mb"
SOURCES: dict[RecommendationKind, str] = {  # each recommendation's source (llm_budget.refs keys)
    "expandable-segments": _ALLOCATOR_NOTES,
    "expandable-segments-one-allocation": _ALLOCATOR_NOTES,
    "max-split-size": _ALLOCATOR_NOTES,
    "stable-shapes": _ALLOCATOR_NOTES,
    "smaller-micro-batch": "korthikanti2022: activations per layer ∝ micro-batch",
    "activation-checkpointing": "chen2016",
    "lower-precision": "pytorch-amp",
    "shard-optimizer-state": "rajbhandari2020: §5",
    "inference-mode": "pytorch-cuda-notes",
    "shrink-large-tensor": "dao2022",
    "find-other-processes": "pytorch-cuda-notes",
    "empty-other-cache": "pytorch-cuda-notes",
    "empty-cache-between-phases": "pytorch-cuda-notes",
    "tensor-parallel": "shoeybi2019",
    "raise-memory-fraction": "pytorch-cuda-notes",
    "watch-gpu": "pytorch-cuda-notes",
}


def max_split_size_mb(request_bytes: int) -> Optional[int]:
    """A max_split_size_mb for this request: the largest power of two (MiB) not above it, or None below 32 MiB.

    Blocks at or above max_split_size are never split, so blocks the size of this request stay whole
    for requests like it while smaller requests carve smaller blocks. The largest such value keeps the
    fewest allocations unsplittable (each oversize request may take a cached block up to 20 MiB larger);
    a power of two leaves room for the request to vary with the batch. PyTorch rejects values ≤ 20.
    """
    mib = request_bytes // MiB
    if mib < 32:
        return None
    return 1 << (mib.bit_length() - 1)


def _advice(kind: RecommendationKind, **numbers: int) -> Recommendation:
    return Recommendation(kind=kind, numbers=numbers, source=cite(SOURCES[kind]))


def _allocator(kind: RecommendationKind, env: str, settings: dict, **numbers: int) -> Recommendation:  # type: ignore[type-arg]
    """A setting of PyTorch's caching allocator, made through the environment variable `env`."""
    return Recommendation(kind=kind, env=env, settings=settings, numbers=numbers, source=cite(SOURCES[kind]))


def _others_held(r: OomReport) -> dict[str, int]:
    if r.other_processes_bytes is not None:
        return {"other_processes": r.other_processes_bytes}
    return {"other_processes_min": r.other_processes_min_bytes or 0}


def _for_diagnosis(r: OomReport, env: str) -> list[Recommendation]:
    """What addresses this diagnosis."""
    req, unalloc, cap = r.tried_to_allocate_bytes, r.reserved_unallocated_bytes, Decimal(r.total_capacity_bytes)
    d = r.diagnosis
    if d == "exceeds-card":
        return [
            _advice("shrink-large-tensor", request=req, total=r.total_capacity_bytes),
            _advice("lower-precision"),
            _advice("tensor-parallel"),
        ]
    if d == "memory-fraction":
        return [_advice("raise-memory-fraction", allowed=r.allowed_bytes or 0, free=r.free_bytes)]
    if d == "free-covers-request":
        return [_advice("watch-gpu")]
    if d == "other-processes":
        out = [_advice("find-other-processes", **_others_held(r)), _advice("empty-other-cache")]
        if unalloc is not None and unalloc >= FRAGMENTATION_SHARE * cap:
            out.append(_advice("empty-cache-between-phases"))
        return out
    if d != "fragmentation":
        return []
    out = [_allocator("expandable-segments", env, {"expandable_segments": True}, reserved_unallocated=unalloc or 0)]
    n = max_split_size_mb(req)
    if n is not None:
        out.append(_allocator("max-split-size", env, {"max_split_size_mb": n}, request=req))
    out.append(_advice("stable-shapes"))
    if (r.other_processes_bytes or r.other_processes_min_bytes or 0) >= OTHER_PROCESSES_SHARE * cap:
        out.append(_advice("empty-cache-between-phases"))
    return out + [_advice("smaller-micro-batch"), _advice("activation-checkpointing")]


def _in_general(r: OomReport, env: str) -> list[Recommendation]:
    """What reduces memory whatever the cause: the one large tensor, then the usual levers."""
    req, unalloc, d = r.tried_to_allocate_bytes, r.reserved_unallocated_bytes, r.diagnosis
    out = []
    if d in (
        "full",
        "other-processes",
        "fragmentation",
        "free-covers-request",
    ) and req >= LARGE_REQUEST_SHARE * Decimal(r.total_capacity_bytes):
        out.append(_advice("shrink-large-tensor", request=req, total=r.total_capacity_bytes))
    if d not in ("full", "other-processes"):
        return out
    out += [
        _advice(k)
        for k in (
            "smaller-micro-batch",
            "activation-checkpointing",
            "lower-precision",
            "shard-optimizer-state",
            "inference-mode",
        )
    ]
    if d == "full" and unalloc is not None and unalloc > 0 and r.free_bytes + unalloc >= req:
        out.append(
            _allocator(
                "expandable-segments-one-allocation",
                env,
                {"expandable_segments": True},
                reserved_unallocated=unalloc,
                shortfall=r.shortfall_bytes,
            )
        )
    return out


def recommendations(r: OomReport, *, env: str = "PYTORCH_CUDA_ALLOC_CONF") -> list[Recommendation]:
    """Ordered: what addresses the diagnosis first, then what reduces memory in general; each kind once (the first)."""
    seen: set[str] = set()
    out = []
    for rec in _for_diagnosis(r, env) + _in_general(r, env):
        if rec.kind not in seen:
            seen.add(rec.kind)
            out.append(rec)
    return out
