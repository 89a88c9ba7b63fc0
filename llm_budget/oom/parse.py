"""A found message -> its printed figures in exact bytes (with their rounding), its processes and its wording."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from llm_budget.errors import LLMBudgetError
from llm_budget.oom.forms import HINT, PROCESS, FoundMessage
from llm_budget.oom.report import Figure, Finding, ProcessUsage
from llm_budget.oom.sizes import parse_size

NVML_NOT_AVAILABLE = 2**60  # NVML reports 2^64 − 1 bytes ("17179869184.00 GiB") when it cannot tell
MIN_CAPACITY = 256 * 2**20
"""No CUDA device PyTorch runs on reports less total capacity than this (the smallest Jetson boards have 2 GiB);
a message that prints less was edited or corrupted."""

# regex group -> report field name
_FIELDS = {
    "request": "tried_to_allocate",
    "total": "total_capacity",
    "free": "free",
    "allocated": "allocated",
    "reserved": "reserved",
    "unallocated": "reserved_unallocated",
    "allowed": "allowed",
    "private": "private_pools",
}


@dataclass(frozen=True)
class PrintedMessage:
    """What the message itself says, before any arithmetic."""

    legacy: bool
    wording: str  # legacy / legacy-cached / current / current-2.1
    backend: str
    gpu_index: Optional[int]
    figures: dict[str, Figure]  # every printed size, by report field name
    processes: list[ProcessUsage]
    findings: list[Finding]  # processes NVML could not measure
    message: str
    messages_found: int
    exception: Optional[str]
    pytorch_hint: Optional[str]
    alloc_conf_env: str  # the variable the message named (PYTORCH_ALLOC_CONF in newer builds)


def _wording(groups: dict[str, Optional[str]], legacy: bool) -> str:
    if legacy:
        return "legacy-cached" if groups["reserved_word"] == "cached" else "legacy"
    return "current-2.1" if groups.get("capacity_word") == "capacty" else "current"


def _processes(procs: str, total: Figure) -> tuple[list[ProcessUsage], list[Finding]]:
    """NVML's per-process figures; one above the card (NVML's 2^64 − 1) is unknown, and said so."""
    processes, findings = [], []
    for p in PROCESS.finditer(procs):
        fig = parse_size(p.group("amount"))
        measured = fig.bytes < NVML_NOT_AVAILABLE and fig.bytes <= total.bytes + total.tolerance_bytes
        pid = int(p.group("pid")) if p.group("pid") else None
        processes.append(
            ProcessUsage(
                pid=pid,
                this_process=bool(p.group("self")),
                bytes=fig.bytes if measured else None,
                printed=fig.printed or "",
            )
        )
        if not measured:
            findings.append(
                Finding(kind="nvml-unmeasured", numbers={} if pid is None else {"pid": pid}, printed=fig.printed)
            )
    return processes, findings


def _check_consistent(figures: dict[str, Figure]) -> None:
    """Refuse a message whose figures cannot all be true: a card below MIN_CAPACITY, or memory in use (free,
    allocated, reserved) beyond the total capacity past the printed rounding. (Allocated beyond reserved is
    real: PyTorch 0.4's messages print it, pytorch/pytorch#16417.)"""
    total = figures["total_capacity"]
    if total.bytes < MIN_CAPACITY:
        raise LLMBudgetError(
            f"the message's figures disagree: a total capacity of {total.printed} is below any CUDA device's"
            " (at least 256 MiB); was the message edited?"
        )
    pairs = [(name, "total_capacity") for name in ("free", "allocated", "reserved")]
    if "allocated" in figures and "reserved_unallocated" in figures:  # the current wording: reserved = their sum
        al, un = figures["allocated"], figures["reserved_unallocated"]
        summed = Figure(
            printed=f"{al.printed} + {un.printed}",
            bytes=al.bytes + un.bytes,
            tolerance_bytes=al.tolerance_bytes + un.tolerance_bytes,
        )
        figures = {**figures, "reserved": summed}
    for part, whole in pairs:
        a, b = figures.get(part), figures.get(whole)
        if a is not None and b is not None and a.bytes - a.tolerance_bytes > b.bytes + b.tolerance_bytes:
            what = {"total_capacity": "total capacity", "reserved": "reserved", "free": "free"}
            raise LLMBudgetError(
                f"the message's figures disagree: {what.get(part, part)} {a.printed} exceeds"
                f" {what.get(whole, whole)} {b.printed}; was the message edited?"
            )


def read_message(found: FoundMessage) -> PrintedMessage:
    groups = found.match.groupdict()
    legacy = "reserved_word" in groups
    figures = {field: parse_size(groups[group]) for group, field in _FIELDS.items() if groups.get(group)}
    _check_consistent(figures)
    processes, findings = _processes(groups.get("procs") or "", figures["total_capacity"])
    hint = HINT.search(found.window)
    pytorch_hint = hint.group("hint") if hint else None
    env = (
        "PYTORCH_ALLOC_CONF"
        if pytorch_hint and pytorch_hint.startswith("PYTORCH_ALLOC_CONF")
        else "PYTORCH_CUDA_ALLOC_CONF"
    )
    return PrintedMessage(
        legacy=legacy,
        wording=_wording(groups, legacy),
        backend=groups.get("backend") or "",
        gpu_index=int(groups["gpu"]) if groups.get("gpu") else None,
        figures=figures,
        processes=processes,
        findings=findings,
        message=found.window[: found.match.end()].strip(),
        messages_found=found.messages_found,
        exception=found.exception,
        pytorch_hint=pytorch_hint,
        alloc_conf_env=env,
    )
