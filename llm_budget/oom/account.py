"""The printed figures -> what follows from them, by exact arithmetic (tolerances add up).

- reserved = allocated + reserved-but-unallocated (current form) or as printed (legacy);
- reserved-but-unallocated = reserved − allocated (legacy);
- outside PyTorch's cache = total − free − reserved: the CUDA context, library workspaces
  (cuBLAS, cuDNN, NCCL), other libraries' own allocations, and other processes;
- with the current form's "this process has P in use": this process's non-PyTorch memory
  = P − reserved, other processes = total − free − P.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from llm_budget.oom.parse import PrintedMessage
from llm_budget.oom.report import Figure, Finding, ProcessUsage
from llm_budget.oom.sizes import parse_size
from llm_budget.oom.thresholds import CONTEXT_ALLOWANCE


@dataclass
class Accounts:
    """Every figure of the report, printed or derived, in bytes; `tolerance` by figure name."""

    printed: PrintedMessage
    request: int
    total: int
    free: int
    allocated: Optional[int]
    reserved: Optional[int]
    unallocated: Optional[int]
    tolerance: dict[str, int]
    process_in_use: Optional[int] = None
    inferred: bool = False
    self_entry: Optional[ProcessUsage] = None  # the NVML entry taken for this process
    others_listed: list[ProcessUsage] = field(default_factory=list)  # the entries that are not this process
    reserve_holders: list[ProcessUsage] = field(
        default_factory=list
    )  # without 'this process': entries holding ≥ reserved
    non_pytorch: Optional[int] = None
    own_overhead: Optional[int] = None
    others: Optional[int] = None
    others_min: Optional[int] = None
    findings: list[Finding] = field(default_factory=list)

    def tolerance_of(self, *names: str) -> int:
        return sum(self.tolerance.get(n, 0) for n in names)

    @property
    def shortfall(self) -> int:
        return max(self.request - self.free, 0)

    @property
    def allowed(self) -> Optional[int]:
        fig = self.printed.figures.get("allowed")
        return fig.bytes if fig else None

    @property
    def private_pools(self) -> Optional[int]:
        fig = self.printed.figures.get("private_pools")
        return fig.bytes if fig else None


def _allocator(p: PrintedMessage) -> Accounts:
    """Request, card, free; allocated, reserved and reserved-but-unallocated (one of the last two derived)."""
    b = {k: f.bytes for k, f in p.figures.items()}
    tol = {k: f.tolerance_bytes for k, f in p.figures.items()}
    allocated = b.get("allocated")
    reserved: Optional[int]
    unallocated: Optional[int]
    if p.legacy:
        reserved = b["reserved"]
        unallocated = reserved - allocated if allocated is not None else None
        tol["reserved_unallocated"] = tol["reserved"] + tol["allocated"]
    else:
        unallocated = b.get("reserved_unallocated")
        reserved = allocated + unallocated if allocated is not None and unallocated is not None else None
        if reserved is not None:
            tol["reserved"] = tol["allocated"] + tol["reserved_unallocated"]
    return Accounts(
        printed=p,
        request=b["tried_to_allocate"],
        total=b["total_capacity"],
        free=b["free"],
        allocated=allocated,
        reserved=reserved,
        unallocated=unallocated,
        tolerance=tol,
    )


def _this_process(a: Accounts) -> None:
    """This process's NVML entry: 'this process', or else the only 'Process N' holding PyTorch's reserve
    (inside a container NVML's PIDs differ from the process's own)."""
    processes = a.printed.processes
    own = next((p for p in processes if p.this_process), None)
    a.others_listed = [p for p in processes if not p.this_process]
    a.self_entry, a.process_in_use = own, own.bytes if own else None
    if own is not None or a.reserved is None:
        return
    a.reserve_holders = [
        p for p in a.others_listed if p.bytes is not None and p.bytes + a.tolerance["total_capacity"] >= a.reserved
    ]
    if len(a.reserve_holders) == 1:
        entry = a.reserve_holders[0]
        a.self_entry, a.process_in_use, a.inferred = entry, entry.bytes, True
        a.others_listed = [p for p in a.others_listed if p is not entry]
        a.findings.append(
            Finding(
                kind="container-pid",
                numbers={"pid": entry.pid, "reserved": a.reserved},
                printed=entry.printed,
            )
        )


def _outside(a: Accounts) -> None:
    """Outside PyTorch's cache, this process's own share of it, and other processes (or a lower bound)."""
    if a.reserved is not None:
        a.non_pytorch = a.total - a.free - a.reserved
        if a.non_pytorch < 0:
            if -a.non_pytorch <= a.tolerance_of("total_capacity", "free", "reserved"):
                a.non_pytorch = 0
            else:
                a.findings.append(
                    Finding(
                        kind="reserved-exceeds-in-use", numbers={"reserved": a.reserved, "in_use": a.total - a.free}
                    )
                )
                a.non_pytorch = None
    if a.process_in_use is not None and a.reserved is not None:
        a.own_overhead = a.process_in_use - a.reserved
        if a.own_overhead < 0:
            a.own_overhead = 0 if -a.own_overhead <= a.tolerance_of("reserved", "total_capacity") else None
    listed = a.others_listed
    if a.process_in_use is not None:
        a.others = max(a.total - a.free - a.process_in_use, 0)
    elif listed and not a.reserve_holders and a.reserved is not None and all(p.bytes is not None for p in listed):
        # None of the listed processes can be this one (each holds less than PyTorch's reserve): all are others.
        a.others = sum(p.bytes for p in listed)  # type: ignore[misc]
    if a.others is None and a.non_pytorch is not None:
        a.others_min = max(a.non_pytorch - CONTEXT_ALLOWANCE, 0)


def account(p: PrintedMessage) -> Accounts:
    a = _allocator(p)
    _this_process(a)
    _outside(a)
    return a


def all_figures(a: Accounts) -> dict[str, Figure]:
    """The printed figures, then the derived ones with their formulas and added tolerances."""
    figures = dict(a.printed.figures)
    if a.printed.legacy and a.unallocated is not None:
        figures["reserved_unallocated"] = Figure(
            printed=None,
            bytes=a.unallocated,
            tolerance_bytes=a.tolerance["reserved_unallocated"],
            formula="reserved − allocated",
        )
    if not a.printed.legacy and a.reserved is not None:
        figures["reserved"] = Figure(
            printed=None,
            bytes=a.reserved,
            tolerance_bytes=a.tolerance["reserved"],
            formula="allocated + reserved_unallocated",
        )
    if a.self_entry is not None and a.self_entry.bytes is not None:
        figures["process_in_use"] = parse_size(a.self_entry.printed)
    if a.non_pytorch is not None:
        figures["non_pytorch"] = Figure(
            printed=None,
            bytes=a.non_pytorch,
            tolerance_bytes=a.tolerance_of("total_capacity", "free", "reserved"),
            formula="total_capacity − free − reserved",
        )
    return figures
