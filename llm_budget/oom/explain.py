"""Read a PyTorch CUDA out-of-memory message and say what it means.

PyTorch's caching allocator (c10/cuda/CUDACachingAllocator.cpp, ``DeviceCachingAllocator::malloc``)
raises one of two messages when ``cudaMalloc`` fails after it has already returned every fully
free cached segment to the driver:

legacy (PyTorch ≤ 2.0; the lecture's slide)::

    CUDA out of memory. Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity;
    14.56 GiB already allocated; 38.44 MiB free; 14.80 GiB reserved in total by PyTorch)

  (PyTorch ≤ 1.4 wrote ``… 30.96 MiB cached)`` instead of ``reserved in total by PyTorch``;
  ``torch.cuda.set_per_process_memory_fraction`` adds ``X allowed;`` before the reserved figure.)

current (pytorch/pytorch#99699, April 2023, first in 2.1 with the typo "total capacty")::

    CUDA out of memory. Tried to allocate {alloc}. GPU {device} has a total capacity of {total}
    of which {free} is free. {proc_info}{allowed_info}Of the allocated memory {allocated} is
    allocated by PyTorch, {private_pool_msg}and {reserved - allocated} is reserved by PyTorch
    but unallocated. If reserved but unallocated memory is large try setting
    PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation. …

  where ``proc_info`` is, per process NVML lists on the device, ``Including non-PyTorch memory,
  this process has X memory in use. `` (this process) or ``Process 1234 has X memory in use. ``
  (another one, or this one seen from inside a container whose PIDs differ), ``allowed_info`` is
  ``X allowed; `` under a memory fraction (restored by pytorch/pytorch#129546), and
  ``private_pool_msg`` is ``with X allocated in private pools (e.g., CUDA Graphs), ``. Newer
  builds print ``Out of memory.`` / ``HIP out of memory.`` and ``PYTORCH_ALLOC_CONF``.

Every size goes through PyTorch's ``format_size``: ``N bytes`` up to 1 KiB, then KiB up to 1 MiB,
MiB up to 1 GiB, else GiB, always with two decimals. A printed figure is therefore the true
value rounded to 0.01 of its unit (±0.005 GiB = ±5.12 MiB for a GiB figure); bytes here are the
printed value × unit, rounded to the nearest byte, and every figure keeps its tolerance.

Derived figures (exact arithmetic on the printed ones):

- reserved = allocated + reserved-but-unallocated (current form) or as printed (legacy);
- reserved-but-unallocated = reserved − allocated (legacy);
- outside PyTorch's cache = total − free − reserved: the CUDA context, library workspaces
  (cuBLAS, cuDNN, NCCL), other libraries' own allocations, and other processes;
- with the current form's "this process has P in use": this process's non-PyTorch memory
  = P − reserved, other processes = total − free − P.

Diagnosis thresholds (constants below):

- ``fragmentation`` when reserved-but-unallocated ≥ the request AND ≥ 10% of total capacity.
  At OOM time that memory can only sit in segments that are partly in use (the allocator has
  already freed all others), so when it is at least the request's size the bytes exist but
  not as one block: that is fragmentation. The 10% floor separates it from the allocator's
  normal slack (sizes rounded to 512 B and 2 MiB, 1-10 MiB requests carved from 20 MiB
  blocks): a few percent of slack is normal and reclaiming it would buy one allocation, not
  room to train. The lecture's message (0.24 GiB slack, 1.5% of 15.78 GiB) is therefore not
  fragmentation but a full card.
- ``other-processes`` when memory held by other processes is ≥ 10% of capacity and freeing it
  would cover the shortfall (request − free). Without a per-process figure (legacy form, or
  no NVML) other processes hold at least total − free − reserved − 2 GiB, 2 GiB being the top
  of the CUDA context plus library range (300 MiB to 2 GiB; the reference's §2).
- ``exceeds-card`` when the request alone is larger than the card; ``memory-fraction`` when
  reserved + request passes the ``allowed`` cap; ``free-covers-request`` when the free figure
  beats the request by max(64 MiB, 1% of capacity) (the shortage was not one of capacity; a
  smaller margin is not conclusive, since the driver keeps headroom and maps 2 MiB pages);
  ``full`` otherwise.
- When fragmentation and other processes both apply, the larger amount wins.

GPU candidates: a catalog GPU matches when its memory (as ``nvidia-smi`` reports it) is at most
1 GiB above the printed total capacity and not below it beyond rounding. ``cudaMemGetInfo``'s
total sits below ``nvidia-smi``'s figure by what the driver keeps: 0.54 GiB on an H100 80GB
(79.11 GiB printed, vllm-project/vllm#27508, vs 81559 MiB), 0.25 GiB on a Colab T4 (14.75 GiB,
hpcaitech/Open-Sora#697, vs 15360 MiB), 0.75-0.85 GiB on A100 80GB (79.15-79.25 GiB vs 81920 MiB).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from llm_budget.errors import LLMBudgetError
from llm_budget.refs import cite
from llm_budget.units import GB, KB, MB, TB, GiB, KiB, MiB, TiB

FRAGMENTATION_SHARE = Decimal("0.10")  # of total capacity; see the module docstring
OTHER_PROCESSES_SHARE = Decimal("0.10")  # of total capacity
CONTEXT_ALLOWANCE = 2 * GiB  # top of the CUDA context + libraries range per process (300 MiB to 2 GiB)
DRIVER_MARGIN = 1 * GiB  # catalog total − printed total, at most (GPU candidates)
LARGE_REQUEST_SHARE = Decimal("0.25")  # one allocation this large a share of the card is worth a look
FREE_MARGIN_SHARE = Decimal("0.01")  # free must beat the request by max(64 MiB, 1% of the card) to rule out a shortage
FREE_MARGIN_MIN = 64 * MiB
MIN_MAX_SPLIT_MB = 21  # PyTorch rejects max_split_size_mb ≤ 20 (kLargeBuffer, 20 MiB)
NVML_NOT_AVAILABLE = 2**60  # NVML reports 2^64 − 1 bytes ("17179869184.00 GiB") when it cannot tell

TEMPLATE_SOURCE = (
    "pytorch/pytorch c10/cuda/CUDACachingAllocator.cpp, DeviceCachingAllocator::malloc (the OOM message) "
    "and reportProcessMemoryInfo; the current wording since pytorch/pytorch#99699 "
    "<https://github.com/pytorch/pytorch/blob/main/c10/cuda/CUDACachingAllocator.cpp>"
)

EXPECTED_FORMS = (
    "expected the legacy form 'CUDA out of memory. Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity; "
    "14.56 GiB already allocated; 38.44 MiB free; 14.80 GiB reserved in total by PyTorch)' or the current form "
    "'CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 8.00 GiB of which 0 bytes is free. "
    "… Of the allocated memory 7.20 GiB is allocated by PyTorch, and 15.90 MiB is reserved by PyTorch but unallocated.'"
)

_UNITS: dict[str, int] = {
    "bytes": 1, "byte": 1, "b": 1,
    "kib": KiB, "mib": MiB, "gib": GiB, "tib": TiB,
    # Decimal, as llm-budget defines GB everywhere; PyTorch's CUDA allocator never prints these.
    "kb": KB, "mb": MB, "gb": GB, "tb": TB,
}
_UNIT_RE = r"(?i:bytes|byte|kib|mib|gib|tib|kb|mb|gb|tb|b)"


def _size(name: str) -> str:
    return rf"(?P<{name}>\d+(?:\.\d+)?\s*{_UNIT_RE})(?![A-Za-z])"


_BACKEND = r"(?:(?P<backend>CUDA|HIP|XPU)\s+)?"
_ANCHOR = re.compile(r"(?:(?:CUDA|HIP|XPU)\s+)?[Oo]ut of memory\.\s*Tried\s+to\s+allocate")
_LEGACY = re.compile(
    _BACKEND + r"[Oo]ut of memory\.\s*Tried to allocate\s+" + _size("request")
    + r"\s*\(\s*GPU\s*(?P<gpu>\d*)\s*;\s*" + _size("total") + r"\s+total capacity\s*;\s*"
    + _size("allocated") + r"\s+already allocated\s*;\s*" + _size("free") + r"\s+free\s*;\s*"
    + r"(?:" + _size("allowed") + r"\s+allowed\s*;\s*)?"
    + _size("reserved") + r"\s+(?P<reserved_word>reserved in total by PyTorch|cached)\s*\)"
)
_CURRENT = re.compile(
    _BACKEND + r"[Oo]ut of memory\.\s*Tried to allocate\s+" + _size("request") + r"\s*\.\s*"
    + r"GPU\s*(?P<gpu>\d*)\s*has a total (?P<capacity_word>capacity|capacty) of\s+" + _size("total")
    + r"\s+of which\s+" + _size("free") + r"\s+is free\.\s*"
    + r"(?P<procs>(?:(?:Process\s+\d+|Including non-PyTorch memory,\s*this process)\s+has\s+\d+(?:\.\d+)?\s*"
    + _UNIT_RE + r"\s+memory in use\.\s*)*)"
    + r"(?:" + _size("allowed") + r"\s+allowed\s*;\s*)?"
    + r"(?:Of the allocated memory\s+" + _size("allocated") + r"\s+is allocated by PyTorch,\s*"
    + r"(?:with\s+" + _size("private") + r"\s+allocated in private pools\s*\(e\.g\.,\s*\w+\s+Graphs\),\s*)?"
    + r"and\s+" + _size("unallocated") + r"\s+is reserved by PyTorch but unallocated\.?)?"
)
_PROC = re.compile(
    r"(?:Process\s+(?P<pid>\d+)|(?P<self>Including non-PyTorch memory,\s*this process))\s+has\s+" + _size("amount") + r"\s+memory in use"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HINT = re.compile(r"try setting\s*(?P<hint>PYTORCH_\w*ALLOC_CONF=expandable_segments:True|max_split_size_mb)")
_EXCEPTION = re.compile(r"([A-Za-z_][\w.]*(?:Error|Exception))\s*:\s*$")
# Log decorations that may start each continuation line of a wrapped message: "[rank0]:",
# "(VllmWorker rank=1 pid=254)", ISO timestamps, comment/quote markers, log levels, pytest's "E".
_LINE_PREFIX = re.compile(
    r"^\s*(?:(?:\[[^\]\n]{0,40}\]:?|\((?!GPU|e\.g\.)[^);\n]{0,80}\)|\d{4}-\d\d-\d\d[T ][\d:.,]+Z?"
    r"|[#>|*]+|(?:ERROR|WARNING|INFO|DEBUG)\b:?|E(?=\s))\s*)*"
)

Diagnosis = Literal["fragmentation", "full", "other-processes", "exceeds-card", "memory-fraction", "free-covers-request"]


class Figure(BaseModel):
    """One size as the message printed it, in exact bytes, with the rounding it carries."""

    model_config = ConfigDict(frozen=True)

    printed: Optional[str] = Field(description="As the message printed it; None for a derived figure")
    bytes: int
    tolerance_bytes: int = Field(description="Half a unit of the last printed digit (0.005 of the unit); 0 for 'N bytes'; "
                                             "a derived figure adds its inputs'")
    formula: Optional[str] = Field(None, description="How a derived figure is computed from printed ones")


class ProcessUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    pid: Optional[int] = Field(description="None for 'this process'")
    this_process: bool
    bytes: Optional[int] = Field(description="None when NVML could not tell (it reports 2^64 − 1)")
    printed: str


class GpuCandidate(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    display_name: str
    memory_bytes: int = Field(description="The catalog's total (nvidia-smi), per device")
    below_catalog_bytes: int = Field(description="Catalog total − printed total capacity")
    exact: bool = Field(description="Equal within the printed rounding")


class Recommendation(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    setting: str = Field(description="What to set or run, exactly")
    why: str
    source: str = ""


class FitSuggestion(BaseModel):
    """A change that would (or would not) fit this card, from the fit advisor (``--preset``, added later).

    Mirrors llm_budget.fit.Change so its model_dump() validates into this model."""

    model_config = ConfigDict(frozen=True)

    change: str
    option: str
    required_bytes_per_gpu: int
    gpus: int
    fits: bool


class OomReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["legacy", "current"]
    wording: str = Field(description="Which variant of the message: legacy / legacy-cached / current / current-2.1")
    exception: Optional[str] = Field(None, description="The exception class printed before the message, if any")
    backend: str = Field(description="CUDA, HIP (ROCm) or XPU, as printed; '' when the message says only 'Out of memory'")
    gpu_index: Optional[int] = Field(description="None when the device index is missing from the message")
    complete: bool = Field(description="False when the current form was cut before its allocated/reserved figures")
    tried_to_allocate_bytes: int
    total_capacity_bytes: int
    free_bytes: int
    allocated_bytes: Optional[int] = Field(description="Held by live tensors (allocated by PyTorch)")
    reserved_bytes: Optional[int] = Field(description="Held by PyTorch's caching allocator, allocated or not")
    reserved_unallocated_bytes: Optional[int] = Field(description="reserved − allocated: cached, in partly used segments")
    non_pytorch_bytes: Optional[int] = Field(description="total − free − reserved: CUDA context, libraries, other processes")
    process_in_use_bytes: Optional[int] = Field(description="This process, all memory (NVML), when printed")
    process_in_use_inferred: bool = Field(False, description="Taken from the only 'Process N' entry (a container hides the real PID)")
    this_process_non_pytorch_bytes: Optional[int] = Field(description="process in use − reserved")
    other_processes_bytes: Optional[int] = Field(description="total − free − process in use (or the sum of the other entries)")
    other_processes_min_bytes: Optional[int] = Field(description="Without a per-process figure: at least total − free − reserved − 2 GiB")
    allowed_bytes: Optional[int] = Field(None, description="The cap from torch.cuda.set_per_process_memory_fraction, if printed")
    private_pools_bytes: Optional[int] = Field(None, description="Allocated in private pools (CUDA Graphs), part of allocated")
    processes: list[ProcessUsage] = Field(default_factory=list)
    shortfall_bytes: int = Field(description="request − free (what cudaMalloc lacked), ≥ 0")
    available_to_pytorch_bytes: Optional[int] = Field(description="free + reserved: what this process's allocator could hold, all else unchanged")
    figures: dict[str, Figure] = Field(description="Every printed size, keyed by field name")
    gpu_candidates: list[GpuCandidate] = Field(default_factory=list)
    diagnosis: Diagnosis
    headline: str
    findings: list[str] = Field(default_factory=list)
    recommendations: list[Recommendation] = Field(default_factory=list)
    suggestions: list[FitSuggestion] = Field(default_factory=list, description="With a model (--preset …): changes that would fit this card")
    model_need_bytes: Optional[int] = Field(None, description="With a model: the accountant's need per GPU for the given setup")
    model_usable_bytes: Optional[int] = Field(None, description="With a model: what PyTorch can use on this card (total capacity − memory outside PyTorch − fragmentation margin)")
    pytorch_hint: Optional[str] = Field(None, description="The setting PyTorch's own message suggested")
    message: str = Field(description="The message as read (whitespace collapsed)")
    messages_found: int = Field(description="Out-of-memory messages in the input; the last readable one is explained")
    rounding_note: str
    template_source: str = TEMPLATE_SOURCE


# -- sizes -------------------------------------------------------------------------------------------


def parse_size(text: str) -> Figure:
    """'14.56 GiB' -> Figure(bytes=15633680957, tolerance 0.005 GiB). Units: bytes/B, KiB, MiB, GiB, TiB
    (binary, as PyTorch prints them) and KB/MB/GB/TB (decimal, as llm-budget defines them)."""
    m = re.fullmatch(r"\s*(\d+(?:\.(\d+))?)\s*([A-Za-z]+)\s*", text)
    if not m or m.group(3).lower() not in _UNITS:
        raise LLMBudgetError(f"cannot read the size {text.strip()!r} (expected e.g. 200.00 MiB, 15.78 GiB, 0 bytes)")
    unit = _UNITS[m.group(3).lower()]
    value = Decimal(m.group(1)) * unit
    exact = int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    decimals = len(m.group(2) or "")
    tolerance = int((Decimal(unit) / 2 / Decimal(10) ** decimals).quantize(Decimal(1), rounding=ROUND_HALF_UP)) if unit > 1 else 0
    return Figure(printed=" ".join(text.split()), bytes=exact, tolerance_bytes=tolerance)


def format_size(n: int) -> str:
    """PyTorch's format_size: 'N bytes' up to 1 KiB, then KiB / MiB / GiB with two decimals."""
    if n <= 1024:
        return f"{n} bytes"
    if n <= MiB:
        return f"{n / KiB:.2f} KiB"
    if n <= GiB:
        return f"{n / MiB:.2f} MiB"
    return f"{n / GiB:.2f} GiB"


def _gib(n: int) -> str:
    return f"{n / GiB:.2f} GiB"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


# -- finding the message -------------------------------------------------------------------------------


def _window(text: str, start: int) -> str:
    """The text from `start`, continuation lines stripped of log prefixes, whitespace collapsed."""
    lines = text[start:start + 4000].splitlines()
    if not lines:
        return ""
    cleaned = [lines[0]] + [_LINE_PREFIX.sub("", line, count=1) for line in lines[1:]]
    return " ".join(" ".join(cleaned).split())


def _no_message_error(text: str) -> LLMBudgetError:
    if re.search(r"CUDA error: out of memory|cuda runtime error \(2\) ?: out of memory|CUDA_ERROR_OUT_OF_MEMORY", text):
        return LLMBudgetError(
            "this is the CUDA runtime's own out-of-memory error, raised outside PyTorch's caching allocator "
            "(context creation, cuBLAS/cuDNN/NCCL workspaces, a custom kernel): it carries no figures to explain; "
            "check `nvidia-smi` for other processes and which GPU the process really uses; " + EXPECTED_FORMS
        )
    if re.search(r"MPS backend out of memory", text):
        return LLMBudgetError("Apple MPS out-of-memory messages are not read here, only CUDA/ROCm ones; " + EXPECTED_FORMS)
    return LLMBudgetError("no PyTorch CUDA out-of-memory message found: " + EXPECTED_FORMS)


def _find(text: str) -> tuple[re.Match[str], str, int, Optional[str]]:
    """The last readable OOM message: (match, normalized window, messages found, exception class)."""
    anchors = list(_ANCHOR.finditer(text))
    if not anchors:
        raise _no_message_error(text)
    for anchor in reversed(anchors):
        window = _window(text, anchor.start())
        m = _LEGACY.match(window) or _CURRENT.match(window)
        if m:
            line_start = text.rfind("\n", 0, anchor.start()) + 1
            exc = _EXCEPTION.search(text[line_start:anchor.start()])
            return m, window, len(anchors), exc.group(1) if exc else None
    line = text.count("\n", 0, anchors[-1].start()) + 1
    raise LLMBudgetError(
        f"found 'out of memory. Tried to allocate' (line {line}) but not the figures that follow it "
        f"(was the message cut or edited?); {EXPECTED_FORMS}"
    )


# -- the report -----------------------------------------------------------------------------------------


def gpu_candidates(total: Figure) -> list[GpuCandidate]:
    """Catalog GPUs whose memory is 0 to 1 GiB above the printed total (exact matches first)."""
    from llm_budget.hardware import gpu_catalog

    out = []
    for gpu in gpu_catalog().values():
        mem = getattr(gpu, "device_memory_bytes", gpu.memory_bytes)
        below = mem - total.bytes
        if -total.tolerance_bytes <= below <= DRIVER_MARGIN + total.tolerance_bytes:
            out.append(GpuCandidate(name=gpu.name, display_name=gpu.display_name, memory_bytes=mem,
                                    below_catalog_bytes=below, exact=abs(below) <= total.tolerance_bytes))
    return sorted(out, key=lambda c: (not c.exact, abs(c.below_catalog_bytes), c.name))


def explain_oom(text: str) -> OomReport:
    """Parse the last CUDA OOM message in `text` (a message, a traceback or a whole log) and explain it."""
    if not text or not text.strip():
        raise LLMBudgetError("empty input: give the out-of-memory message, or pipe a log that contains it")
    text = _ANSI.sub("", text)  # colored tracebacks (IPython, rich)
    m, window, found, exception = _find(text)
    g = m.groupdict()
    legacy = "reserved_word" in g
    figs: dict[str, Figure] = {}
    names = {"request": "tried_to_allocate", "total": "total_capacity", "free": "free", "allocated": "allocated",
             "reserved": "reserved", "unallocated": "reserved_unallocated", "allowed": "allowed", "private": "private_pools"}
    for group, field in names.items():
        if g.get(group):
            figs[field] = parse_size(g[group])
    b = {k: v.bytes for k, v in figs.items()}
    tol = {k: v.tolerance_bytes for k, v in figs.items()}
    request, total, free = b["tried_to_allocate"], b["total_capacity"], b["free"]
    allocated = b.get("allocated")
    if legacy:
        reserved = b["reserved"]
        unallocated = reserved - allocated if allocated is not None else None
        tol["reserved_unallocated"] = tol["reserved"] + tol["allocated"]
        wording = "legacy-cached" if g["reserved_word"] == "cached" else "legacy"
    else:
        unallocated = b.get("reserved_unallocated")
        reserved = allocated + unallocated if allocated is not None and unallocated is not None else None
        if reserved is not None:
            tol["reserved"] = tol["allocated"] + tol["reserved_unallocated"]
        wording = "current-2.1" if g.get("capacity_word") == "capacty" else "current"
    complete = allocated is not None

    findings: list[str] = []
    processes: list[ProcessUsage] = []
    for p in _PROC.finditer(g.get("procs") or ""):
        fig = parse_size(p.group("amount"))
        ok = fig.bytes < NVML_NOT_AVAILABLE and fig.bytes <= total + tol["total_capacity"]
        processes.append(ProcessUsage(pid=int(p.group("pid")) if p.group("pid") else None, this_process=bool(p.group("self")),
                                      bytes=fig.bytes if ok else None, printed=fig.printed or ""))
        if not ok:
            findings.append(f"NVML could not measure {'this process' if p.group('self') else 'process ' + p.group('pid')} "
                            f"(it printed {fig.printed}, more than the card): that figure is ignored.")
    own = next((p for p in processes if p.this_process), None)
    process_in_use, inferred = (own.bytes if own else None), False
    others_listed = [p for p in processes if not p.this_process]
    big: list[ProcessUsage] = []
    if own is None and reserved is not None:
        big = [p for p in others_listed if p.bytes is not None and p.bytes + tol["total_capacity"] >= reserved]
        if len(big) == 1:
            process_in_use, inferred = big[0].bytes, True
            others_listed = [p for p in others_listed if p is not big[0]]
            findings.append(f"Process {big[0].pid} ({big[0].printed}) is taken to be this process: it is the only one holding "
                            f"at least PyTorch's reserved {_gib(reserved)}, and inside a container NVML's PIDs differ from the process's own.")

    def tol_of(*keys: str) -> int:
        return sum(tol.get(k, 0) for k in keys)

    non_pytorch = total - free - reserved if reserved is not None else None
    if non_pytorch is not None and non_pytorch < 0:
        if -non_pytorch <= tol_of("total_capacity", "free", "reserved"):
            non_pytorch = 0
        else:
            findings.append(f"PyTorch reports {_gib(reserved)} reserved on a card with {_gib(total - free)} in use: the figures "  # type: ignore[arg-type]
                            "cannot all be device memory (on Windows the driver can back CUDA allocations with shared "
                            "system memory, which is slow), so the outside-PyTorch figure is left out.")
            non_pytorch = None
    own_overhead = process_in_use - reserved if process_in_use is not None and reserved is not None else None
    if own_overhead is not None and own_overhead < 0:
        own_overhead = 0 if -own_overhead <= tol_of("reserved", "total_capacity") else None
    others: Optional[int] = None
    others_min: Optional[int] = None
    if process_in_use is not None:
        others = max(total - free - process_in_use, 0)
    elif others_listed and not big and reserved is not None and all(p.bytes is not None for p in others_listed):
        # None of the listed processes can be this one (each holds less than PyTorch's reserve): all are others.
        others = sum(p.bytes for p in others_listed)  # type: ignore[misc]
    if others is None and non_pytorch is not None:
        others_min = max(non_pytorch - CONTEXT_ALLOWANCE, 0)

    shortfall = max(request - free, 0)
    cap = Decimal(total)

    # -- diagnosis ----------------------------------------------------------------------------------
    frag = unallocated is not None and unallocated >= request and unallocated >= FRAGMENTATION_SHARE * cap
    other_amount = others if others is not None else others_min
    other = other_amount is not None and other_amount >= OTHER_PROCESSES_SHARE * cap and free + other_amount >= request
    allowed = b.get("allowed")
    if request > total + tol["total_capacity"]:
        diagnosis: Diagnosis = "exceeds-card"
        headline = (f"Larger than the card: one allocation of {format_size(request)}, on a card of {_gib(total)}. "
                    "No allocator setting helps; the tensor has to shrink or be split.")
    elif allowed is not None and (reserved or 0) + request > allowed - tol_of("allowed", "reserved"):
        diagnosis = "memory-fraction"
        headline = (f"Per-process cap: a limit of {format_size(allowed)} (torch.cuda.set_per_process_memory_fraction) stopped it: "
                    f"PyTorch holds {format_size(reserved or 0)} and asked for {format_size(request)} more, "
                    f"while the card still had {format_size(free)} free.")
    elif free - tol["free"] >= request + max(FREE_MARGIN_MIN, int(FREE_MARGIN_SHARE * cap)):
        diagnosis = "free-covers-request"
        headline = (f"Not a capacity shortage: the card reported {format_size(free)} free, more than the {format_size(request)} requested: "
                    "this was not a shortage of capacity at the moment the message was written.")
    elif frag and (not other or unallocated >= other_amount):  # type: ignore[operator]
        diagnosis = "fragmentation"
        headline = (f"Fragmentation: {format_size(unallocated)} is reserved by PyTorch but unallocated ({_pct(unallocated, total)} "  # type: ignore[arg-type]
                    f"of the card, more than the {format_size(request)} requested), yet no single free block was large enough.")
    elif other:
        diagnosis = "other-processes"
        held = (f"they hold {format_size(other_amount)}" if others is not None  # type: ignore[arg-type]
                else f"at least {format_size(other_amount)} is held outside this process's PyTorch and CUDA context")  # type: ignore[arg-type]
        headline = (f"Other processes: {held} ({_pct(other_amount, total)} of the card); "  # type: ignore[arg-type]
                    f"without them the {format_size(request)} request would have fit.")
    else:
        diagnosis = "full"
        if shortfall == 0:
            headline = (f"The card is full: {format_size(free)} free is barely above the {format_size(request)} request; "
                        "the driver needs some headroom of its own and hands out memory in 2 MiB pages.")
        elif allocated is not None:
            headline = (f"The card is full: live tensors take {format_size(allocated)} ({_pct(allocated, total)}) of {_gib(total)}, "
                        f"and the {format_size(request)} request needed {format_size(shortfall)} more than was free.")
        else:
            headline = (f"The card is full: {format_size(free)} free of {_gib(total)}, {format_size(shortfall)} short of the "
                        f"{format_size(request)} request.")

    # -- findings -------------------------------------------------------------------------------------
    if not complete:
        findings.append("The message stops before 'Of the allocated memory …': allocated and reserved are unknown, "
                        "so fragmentation cannot be judged.")
    if unallocated is not None and diagnosis in ("full", "other-processes", "exceeds-card") and unallocated > 0:
        if free + unallocated >= request:
            findings.append(f"Reserved but unallocated: {format_size(unallocated)} ({_pct(unallocated, reserved or 1)} of reserved, "
                            f"{_pct(unallocated, total)} of the card). It would cover this request's {format_size(shortfall)} "
                            f"shortfall if it were one block, so expandable_segments may get past this allocation, but it is "
                            f"below {int(FRAGMENTATION_SHARE * 100)}% of the card: not what fills it.")
        else:
            findings.append(f"Reserved but unallocated: {format_size(unallocated)} ({_pct(unallocated, total)} of the card); even if "
                            f"all of it were usable, free + unallocated = {format_size(free + unallocated)} < {format_size(request)}.")
    if diagnosis == "fragmentation":
        findings.append(f"Free {format_size(free)} + reserved-but-unallocated {format_size(unallocated)} = "  # type: ignore[operator]
                        f"{format_size(free + unallocated)} ≥ {format_size(request)}: the bytes exist, in pieces. Before raising, "  # type: ignore[operator]
                        "PyTorch already released every fully free cached segment; what is left is free space inside segments "
                        "that still hold live tensors.")
    if allocated is not None and allocated + request > total - (non_pytorch or 0) and diagnosis in ("full", "fragmentation"):
        findings.append(f"Live tensors + request = {format_size(allocated + request)} > {format_size(total - (non_pytorch or 0))} "
                        "(total minus memory outside PyTorch's cache): it cannot fit however the cache is arranged.")
    if request >= LARGE_REQUEST_SHARE * cap and diagnosis != "exceeds-card":
        findings.append(f"One allocation of {format_size(request)} is {_pct(request, total)} of the card: look for one huge tensor "
                        "(attention scores batch × heads × seq², logits batch × seq × vocab in FP32, a mis-shaped broadcast).")
    if non_pytorch is not None:
        if process_in_use is not None and own_overhead is not None:
            findings.append(f"Outside PyTorch's cache: {format_size(non_pytorch)} = this process's non-PyTorch memory "
                            f"{format_size(own_overhead)} (CUDA context, cuBLAS/cuDNN/NCCL workspaces, other libraries) + "
                            f"other processes {format_size(others or 0)}.")
            if own_overhead > CONTEXT_ALLOWANCE:
                findings.append(f"This process holds {format_size(own_overhead)} outside PyTorch's allocator, more than a CUDA "
                                "context (300 MiB to 2 GiB) explains: another library allocates with cudaMalloc directly "
                                "(NCCL buffers, CuPy, custom CUDA extensions, CUDA Graph pools of another framework).")
        else:
            findings.append(f"Outside PyTorch's cache: {format_size(non_pytorch)} (total − free − reserved): the CUDA context "
                            "(300 MiB to 2 GiB per process) and library workspaces"
                            + (f", and at least {format_size(others_min or 0)} in other processes." if (others_min or 0) > 0
                               else "; no sign of other processes."))
    small_others = [p for p in others_listed if p.bytes is not None]
    if len(small_others) >= 2 and len({p.bytes for p in small_others}) == 1 and small_others[0].bytes < GiB:  # type: ignore[operator]
        findings.append(f"{len(small_others)} other processes hold {small_others[0].printed} each: typically other ranks of a "
                        "distributed job creating a CUDA context on this GPU; call torch.cuda.set_device(local_rank) before any CUDA work.")
    if b.get("private_pools"):
        findings.append(f"{format_size(b['private_pools'])} of the allocated memory is in private pools (CUDA Graphs): captured "
                        "graphs keep their memory for replay; capturing fewer batch sizes (or none) frees it.")
    if not processes and not legacy and complete:
        findings.append("No per-process figures (NVML was not available to PyTorch, e.g. on Windows or WSL).")

    figures_note = ("Printed figures are rounded to 0.01 of their unit (±0.005 GiB = ±5.12 MiB for a GiB figure); bytes are "
                    "the printed value × unit rounded to the nearest byte, and derived figures add their inputs' tolerances.")
    hint = _HINT.search(window)
    pytorch_hint = hint.group("hint") if hint else None
    env = "PYTORCH_ALLOC_CONF" if pytorch_hint and pytorch_hint.startswith("PYTORCH_ALLOC_CONF") else "PYTORCH_CUDA_ALLOC_CONF"

    end = m.end()
    message = window[:end].strip()
    figures = dict(figs)
    if legacy and unallocated is not None:
        figures["reserved_unallocated"] = Figure(printed=None, bytes=unallocated, tolerance_bytes=tol["reserved_unallocated"],
                                                 formula="reserved − allocated")
    if not legacy and reserved is not None:
        figures["reserved"] = Figure(printed=None, bytes=reserved, tolerance_bytes=tol["reserved"],
                                     formula="allocated + reserved_unallocated")
    self_entry = own if own is not None else (big[0] if inferred else None)
    if self_entry is not None and self_entry.bytes is not None:
        figures["process_in_use"] = parse_size(self_entry.printed)
    if non_pytorch is not None:
        figures["non_pytorch"] = Figure(printed=None, bytes=non_pytorch, tolerance_bytes=tol_of("total_capacity", "free", "reserved"),
                                        formula="total_capacity − free − reserved")

    report = OomReport(
        format="legacy" if legacy else "current",
        wording=wording,
        exception=exception,
        backend=g.get("backend") or "",
        gpu_index=int(g["gpu"]) if g.get("gpu") else None,
        complete=complete,
        tried_to_allocate_bytes=request,
        total_capacity_bytes=total,
        free_bytes=free,
        allocated_bytes=allocated,
        reserved_bytes=reserved,
        reserved_unallocated_bytes=unallocated,
        non_pytorch_bytes=non_pytorch,
        process_in_use_bytes=process_in_use,
        process_in_use_inferred=inferred,
        this_process_non_pytorch_bytes=own_overhead,
        other_processes_bytes=others,
        other_processes_min_bytes=others_min,
        allowed_bytes=allowed,
        private_pools_bytes=b.get("private_pools"),
        processes=processes,
        shortfall_bytes=shortfall,
        available_to_pytorch_bytes=free + reserved if reserved is not None else None,
        figures=figures,
        gpu_candidates=gpu_candidates(figs["total_capacity"]),
        diagnosis=diagnosis,
        headline=headline,
        findings=findings,
        recommendations=[],
        pytorch_hint=pytorch_hint,
        message=message,
        messages_found=found,
        rounding_note=figures_note,
    )
    return report.model_copy(update={"recommendations": recommendations(report, env=env)})


# -- recommendations ----------------------------------------------------------------------------------


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


def recommendations(r: OomReport, *, env: str = "PYTORCH_CUDA_ALLOC_CONF") -> list[Recommendation]:
    """Ordered: what addresses the diagnosis first, then what reduces memory in general."""
    notes = cite("pytorch-cuda-notes: expandable_segments, max_split_size_mb")
    req, unalloc = r.tried_to_allocate_bytes, r.reserved_unallocated_bytes
    out: list[Recommendation] = []

    expandable = Recommendation(
        title="Expandable segments",
        setting=f"{env}=expandable_segments:True",
        why=(f"{format_size(unalloc or 0)} is cached in partly used segments. With expandable segments the allocator grows one "
             "segment per stream and maps or unmaps 2 MiB / 20 MiB pages, so freed space is reused instead of left as slivers "
             "when tensor sizes change from step to step. Linux only (ignored on Windows)."),
        source=notes,
    )
    n = max_split_size_mb(req)
    max_split = Recommendation(
        title="Stop splitting large blocks",
        setting=f"{env}=max_split_size_mb:{n}",
        why=(f"Blocks of {n} MiB or more are then never split by smaller requests, so blocks the size of this "
             f"{format_size(req)} request stay whole. The documentation calls it a last resort; it is ignored with "
             "backend:cudaMallocAsync; use it or expandable_segments, not both."),
        source=notes,
    )
    stable = Recommendation(
        title="Keep tensor shapes stable",
        setting="pad or bucket sequence lengths and batch sizes to a few fixed sizes",
        why="Fragmentation comes from sizes that change step to step (a batch of N+1 no longer fits the blocks cut for N).",
        source=notes,
    )
    microbatch = Recommendation(
        title="Smaller micro-batch, same effective batch",
        setting="halve the per-GPU batch size and double gradient accumulation (HF Trainer: per_device_train_batch_size, gradient_accumulation_steps)",
        why="Activation memory grows linearly with the micro-batch; weights, gradients and optimizer states do not. "
            "Accumulating gradients over 2 micro-batches keeps the optimizer step unchanged.",
        source=cite("korthikanti2022: activations per layer ∝ micro-batch"),
    )
    checkpoint = Recommendation(
        title="Activation checkpointing",
        setting="model.gradient_checkpointing_enable() (transformers) or torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)",
        why="Keeps only each block's input and recomputes the rest during backward: about one extra forward pass of compute "
            "for most of the activation memory.",
        source=cite("chen2016"),
    )
    precision = Recommendation(
        title="Lower precision",
        setting="with torch.autocast('cuda', dtype=torch.bfloat16): … (training); torch_dtype=torch.bfloat16 when loading (inference)",
        why="BF16 halves activations, and weights when serving, compared with FP32; 8-bit/4-bit weights (bitsandbytes) go further for inference and QLoRA.",
        source=cite("pytorch-amp"),
    )
    optimizer = Recommendation(
        title="Shard or shrink the optimizer state",
        setting="FSDP / DeepSpeed ZeRO across GPUs, or bitsandbytes.optim.AdamW8bit on one GPU",
        why="Adam keeps two FP32 states, 8 bytes per parameter; ZeRO shards them over the GPUs, 8-bit Adam stores them in 2 bytes.",
        source=cite("rajbhandari2020: §5"),
    )
    no_grad = Recommendation(
        title="No autograd graph outside training",
        setting="with torch.inference_mode(): … for evaluation and generation",
        why="Without it every intermediate of the forward pass is kept for a backward pass that never comes.",
        source=cite("pytorch-cuda-notes"),
    )
    big_tensor = Recommendation(
        title="Shrink the one large tensor",
        setting="find the op in the traceback; chunk it, or cut the batch / sequence / resolution it sees; for attention use torch.nn.functional.scaled_dot_product_attention",
        why=f"One allocation of {format_size(req)} ({_pct(req, r.total_capacity_bytes)} of the card). Flash and memory-efficient "
            "attention never materialise the seq × seq score matrix.",
        source=cite("dao2022"),
    )
    find_others = Recommendation(
        title="Find what else is on the GPU",
        setting="nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv",
        why=("Other processes hold " + format_size(r.other_processes_bytes) if r.other_processes_bytes is not None
             else "At least " + format_size(r.other_processes_min_bytes or 0) + " is held outside this process's PyTorch")
            + "; stop them, or run on an idle GPU with CUDA_VISIBLE_DEVICES=<index> (check the variable is really set in the job).",
        source=cite("pytorch-cuda-notes"),
    )
    share = Recommendation(
        title="If the other process is your own PyTorch job",
        setting="torch.cuda.empty_cache() in it after its peak, or cap it: torch.cuda.set_per_process_memory_fraction(f)",
        why="A PyTorch process keeps freed memory cached for itself; emptying its cache or capping it leaves room for this one.",
        source=cite("pytorch-cuda-notes"),
    )
    empty_cache = Recommendation(
        title="torch.cuda.empty_cache(), between phases only",
        setting="torch.cuda.empty_cache() after a phase (e.g. evaluation) when another process on this GPU needs the memory",
        why="It returns cached blocks that are entirely free to the driver, for other processes. It cannot help this allocation: "
            "before raising, PyTorch already released every fully free segment; the reserved-but-unallocated memory left sits in "
            "segments that still hold live tensors.",
        source=cite("pytorch-cuda-notes"),
    )

    big = req >= LARGE_REQUEST_SHARE * Decimal(r.total_capacity_bytes)
    large_unalloc = unalloc is not None and unalloc >= FRAGMENTATION_SHARE * Decimal(r.total_capacity_bytes)
    others_present = (r.other_processes_bytes or r.other_processes_min_bytes or 0) >= OTHER_PROCESSES_SHARE * Decimal(r.total_capacity_bytes)
    d = r.diagnosis
    if d == "exceeds-card":
        out += [big_tensor, precision, Recommendation(
            title="Split it across GPUs", setting="tensor parallelism (Megatron-LM style) for weight matrices that exceed one card",
            why="Each GPU then holds 1/t of every sharded matrix.", source=cite("shoeybi2019"))]
    elif d == "memory-fraction":
        out.append(Recommendation(
            title="Raise the per-process cap",
            setting="torch.cuda.set_per_process_memory_fraction(f) with a larger f (or remove the call)",
            why=f"The cap is {format_size(r.allowed_bytes or 0)}; the card itself had {format_size(r.free_bytes)} free.",
            source=cite("pytorch-cuda-notes")))
    elif d == "free-covers-request":
        out.append(Recommendation(
            title="Watch the GPU while it runs",
            setting="nvidia-smi --query-compute-apps=pid,used_memory --format=csv -l 1",
            why="Free memory covered the request when the message was written: another process may have taken and released "
                "memory around the failure, or a limit other than free memory refused it (a MIG or vGPU slice, a container "
                "limit, the Windows display driver).",
            source=cite("pytorch-cuda-notes")))
    elif d == "fragmentation":
        out += [expandable]
        if n is not None:
            out.append(max_split)
        out.append(stable)
        if others_present:
            out.append(empty_cache)
        out += [microbatch, checkpoint]
    elif d == "other-processes":
        out += [find_others, share]
        if large_unalloc:
            out.append(empty_cache)
    if d in ("full", "other-processes", "fragmentation") or d == "free-covers-request":
        if big:
            out.append(big_tensor)
    if d in ("full", "other-processes"):
        out += [microbatch, checkpoint, precision, optimizer, no_grad]
        if unalloc is not None and unalloc > 0 and r.free_bytes + unalloc >= req and d == "full":
            out.append(expandable.model_copy(update={
                "title": "Expandable segments (for this one allocation)",
                "why": f"The {format_size(unalloc)} reserved but unallocated would cover the {format_size(r.shortfall_bytes)} "
                       "shortfall if it were one block. It may get past this allocation; the card stays nearly full."}))
    # one entry per title, first occurrence wins
    seen: set[str] = set()
    return [x for x in out if not (x.title in seen or seen.add(x.title))]  # type: ignore[func-returns-value]


def with_model_advice(report: OomReport, spec, *, mode: str, train, infer, gpus: int = 1, fragmentation: float = 0.05):  # type: ignore[no-untyped-def]
    """Attach the fit advisor's verdict and changes for `spec` on the card of this message.

    The card is the catalog GPU the capacity matches (its speeds and features), sized as PyTorch saw it:
    the printed total capacity, minus what was outside PyTorch (the CUDA context, libraries; printed, or
    the fit advisor's default), minus the fragmentation margin.
    """
    from llm_budget.fit import DEFAULT_CUDA_CONTEXT, advise
    from llm_budget.hardware import gpu_catalog

    if not report.gpu_candidates:
        raise LLMBudgetError("the capacity in this message matches no GPU in the catalog; run llm-budget fit --gpu NAME instead")
    base = gpu_catalog()[report.gpu_candidates[0].name]
    card = base.model_copy(update={"memory_bytes": report.total_capacity_bytes * base.devices})
    outside = report.this_process_non_pytorch_bytes if report.this_process_non_pytorch_bytes is not None else DEFAULT_CUDA_CONTEXT
    fit = advise(spec, card, mode=mode, gpus=gpus, train=train, infer=infer, cuda_context=max(outside, 0), fragmentation=fragmentation)  # type: ignore[arg-type]
    need = fit.required_bytes_per_gpu
    changes = [FitSuggestion.model_validate(c.model_dump()) for c in fit.changes]
    return report.model_copy(update={"suggestions": changes, "model_need_bytes": need, "model_usable_bytes": fit.usable_bytes_per_gpu})
