"""A found message -> its printed figures in exact bytes (with their rounding), its processes and its wording."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from llm_budget.oom.forms import HINT, PROCESS, FoundMessage
from llm_budget.oom.report import Figure, Finding, ProcessUsage
from llm_budget.oom.sizes import parse_size

NVML_NOT_AVAILABLE = 2**60  # NVML reports 2^64 − 1 bytes ("17179869184.00 GiB") when it cannot tell

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


def read_message(found: FoundMessage) -> PrintedMessage:
    groups = found.match.groupdict()
    legacy = "reserved_word" in groups
    figures = {field: parse_size(groups[group]) for group, field in _FIELDS.items() if groups.get(group)}
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
