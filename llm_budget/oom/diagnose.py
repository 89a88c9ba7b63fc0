"""The figures -> a diagnosis (a kind and the numbers it rests on) and the findings around it.

The thresholds and their reasons are in llm_budget/oom/thresholds.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

from llm_budget.oom.account import Accounts
from llm_budget.oom.report import Diagnosis, Finding, Verdict, VerdictCase
from llm_budget.oom.thresholds import (
    CONTEXT_ALLOWANCE,
    FRAGMENTATION_SHARE,
    FREE_MARGIN_MIN,
    FREE_MARGIN_SHARE,
    LARGE_REQUEST_SHARE,
    OTHER_PROCESSES_SHARE,
)
from llm_budget.units import GiB


def _other_processes(a: Accounts) -> Optional[int]:
    """What other processes hold when it would explain the failure (≥ 10% of the card, and freeing it covers the request)."""
    amount = a.others if a.others is not None else a.others_min
    if amount is not None and amount >= OTHER_PROCESSES_SHARE * Decimal(a.total) and a.free + amount >= a.request:
        return amount
    return None


def _full(a: Accounts) -> Verdict:
    if a.shortfall == 0:
        return Verdict(case="full-barely-above", numbers={"free": a.free, "request": a.request})
    if a.allocated is not None:
        return Verdict(
            case="full-live-tensors",
            numbers={"allocated": a.allocated, "total": a.total, "request": a.request, "shortfall": a.shortfall},
        )
    return Verdict(
        case="full-short", numbers={"free": a.free, "total": a.total, "shortfall": a.shortfall, "request": a.request}
    )


def diagnose(a: Accounts) -> tuple[Diagnosis, Verdict]:
    """The first that holds: exceeds-card, memory-fraction, free-covers-request, fragmentation (or other processes,
    the larger amount winning), full."""
    cap = Decimal(a.total)
    request, free, unallocated, allowed = a.request, a.free, a.unallocated, a.allowed
    fragmented = unallocated is not None and unallocated >= request and unallocated >= FRAGMENTATION_SHARE * cap
    others = _other_processes(a)
    if request > a.total + a.tolerance["total_capacity"]:
        return "exceeds-card", Verdict(case="exceeds-card", numbers={"request": request, "total": a.total})
    if allowed is not None and (a.reserved or 0) + request > allowed - a.tolerance_of("allowed", "reserved"):
        return "memory-fraction", Verdict(
            case="memory-fraction",
            numbers={"allowed": allowed, "reserved": a.reserved or 0, "request": request, "free": free},
        )
    if free - a.tolerance["free"] >= request + max(FREE_MARGIN_MIN, int(FREE_MARGIN_SHARE * cap)):
        return "free-covers-request", Verdict(case="free-covers-request", numbers={"free": free, "request": request})
    if fragmented and (others is None or unallocated >= others):  # type: ignore[operator]
        return "fragmentation", Verdict(
            case="fragmentation", numbers={"unallocated": unallocated, "total": a.total, "request": request}
        )
    if others is not None:
        case: VerdictCase = "other-processes" if a.others is not None else "other-processes-at-least"
        return "other-processes", Verdict(
            case=case, numbers={"other_processes": others, "total": a.total, "request": request}
        )
    return "full", _full(a)


def _unallocated_findings(a: Accounts, diagnosis: Diagnosis) -> list[Finding]:
    unallocated = a.unallocated
    if unallocated is None or unallocated <= 0 or diagnosis not in ("full", "other-processes", "exceeds-card"):
        return []
    if a.free + unallocated >= a.request:
        return [
            Finding(
                kind="unallocated-would-cover",
                numbers={
                    "unallocated": unallocated,
                    "reserved": a.reserved or 1,
                    "total": a.total,
                    "shortfall": a.shortfall,
                    "threshold_percent": int(FRAGMENTATION_SHARE * 100),
                },
            )
        ]
    return [
        Finding(
            kind="unallocated-too-small",
            numbers={
                "unallocated": unallocated,
                "total": a.total,
                "free_plus_unallocated": a.free + unallocated,
                "request": a.request,
            },
        )
    ]


def _outside_findings(a: Accounts) -> list[Finding]:
    if a.non_pytorch is None:
        return []
    if a.process_in_use is not None and a.own_overhead is not None:
        out = [
            Finding(
                kind="outside-split",
                numbers={
                    "non_pytorch": a.non_pytorch,
                    "this_process_non_pytorch": a.own_overhead,
                    "other_processes": a.others or 0,
                },
            )
        ]
        if a.own_overhead > CONTEXT_ALLOWANCE:
            out.append(Finding(kind="own-overhead-large", numbers={"this_process_non_pytorch": a.own_overhead}))
        return out
    return [
        Finding(
            kind="outside-unsplit", numbers={"non_pytorch": a.non_pytorch, "other_processes_min": a.others_min or 0}
        )
    ]


def _process_findings(a: Accounts) -> list[Finding]:
    out = []
    measured = [p for p in a.others_listed if p.bytes is not None]
    if len(measured) >= 2 and len({p.bytes for p in measured}) == 1 and measured[0].bytes < GiB:  # type: ignore[operator]
        out.append(Finding(kind="other-ranks", numbers={"processes": len(measured)}, printed=measured[0].printed))
    if a.private_pools:
        out.append(Finding(kind="private-pools", numbers={"private_pools": a.private_pools}))
    if not a.printed.processes and not a.printed.legacy and a.allocated is not None:
        out.append(Finding(kind="no-nvml"))
    return out


def observe(a: Accounts, diagnosis: Diagnosis) -> list[Finding]:
    """What else the figures show, in the order a reader needs it."""
    out = [] if a.allocated is not None else [Finding(kind="message-cut")]
    out += _unallocated_findings(a, diagnosis)
    if diagnosis == "fragmentation":
        out.append(
            Finding(
                kind="fragmentation-pieces",
                numbers={
                    "free": a.free,
                    "unallocated": a.unallocated,
                    "free_plus_unallocated": a.free + (a.unallocated or 0),
                    "request": a.request,
                },
            )
        )
    usable = a.total - (a.non_pytorch or 0)
    if a.allocated is not None and a.allocated + a.request > usable and diagnosis in ("full", "fragmentation"):
        out.append(
            Finding(kind="cannot-fit-anyway", numbers={"live_plus_request": a.allocated + a.request, "usable": usable})
        )
    if a.request >= LARGE_REQUEST_SHARE * Decimal(a.total) and diagnosis != "exceeds-card":
        out.append(Finding(kind="large-request", numbers={"request": a.request, "total": a.total}))
    return out + _outside_findings(a) + _process_findings(a)
