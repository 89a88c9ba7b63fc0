"""The forms of PyTorch's out-of-memory message, as regular expressions, and finding the last one in a log.

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
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional

from llm_budget.errors import LLMBudgetError
from llm_budget.oom.sizes import UNIT_PATTERN

EXPECTED_FORMS = (
    "expected the legacy form 'CUDA out of memory. Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity; "
    "14.56 GiB already allocated; 38.44 MiB free; 14.80 GiB reserved in total by PyTorch)' or the current form "
    "'CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 8.00 GiB of which 0 bytes is free. "
    "… Of the allocated memory 7.20 GiB is allocated by PyTorch, and 15.90 MiB is reserved by PyTorch but unallocated.'"
)


def _size(name: str) -> str:
    return rf"(?P<{name}>\d+(?:\.\d+)?\s*{UNIT_PATTERN})(?![A-Za-z])"


_BACKEND = r"(?:(?P<backend>CUDA|HIP|XPU)\s+)?"
ANCHOR = re.compile(r"(?:(?:CUDA|HIP|XPU)\s+)?[Oo]ut of memory\.\s*Tried\s+to\s+allocate")
LEGACY = re.compile(
    _BACKEND
    + r"[Oo]ut of memory\.\s*Tried to allocate\s+"
    + _size("request")
    + r"\s*\(\s*GPU\s*(?P<gpu>\d*)\s*;\s*"
    + _size("total")
    + r"\s+total capacity\s*;\s*"
    + _size("allocated")
    + r"\s+already allocated\s*;\s*"
    + _size("free")
    + r"\s+free\s*;\s*"
    + r"(?:"
    + _size("allowed")
    + r"\s+allowed\s*;\s*)?"
    + _size("reserved")
    + r"\s+(?P<reserved_word>reserved in total by PyTorch|cached)\s*\)"
)
CURRENT = re.compile(
    _BACKEND
    + r"[Oo]ut of memory\.\s*Tried to allocate\s+"
    + _size("request")
    + r"\s*\.\s*"
    + r"GPU\s*(?P<gpu>\d*)\s*has a total (?P<capacity_word>capacity|capacty) of\s+"
    + _size("total")
    + r"\s+of which\s+"
    + _size("free")
    + r"\s+is free\.\s*"
    + r"(?P<procs>(?:(?:Process\s+\d+|Including non-PyTorch memory,\s*this process)\s+has\s+\d+(?:\.\d+)?\s*"
    + UNIT_PATTERN
    + r"\s+memory in use\.\s*)*)"
    + r"(?:"
    + _size("allowed")
    + r"\s+allowed\s*;\s*)?"
    + r"(?:Of the allocated memory\s+"
    + _size("allocated")
    + r"\s+is allocated by PyTorch,\s*"
    + r"(?:with\s+"
    + _size("private")
    + r"\s+allocated in private pools\s*\(e\.g\.,\s*\w+\s+Graphs\),\s*)?"
    + r"and\s+"
    + _size("unallocated")
    + r"\s+is reserved by PyTorch but unallocated\.?)?"
)
PROCESS = re.compile(
    r"(?:Process\s+(?P<pid>\d+)|(?P<self>Including non-PyTorch memory,\s*this process))\s+has\s+"
    + _size("amount")
    + r"\s+memory in use"
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HINT = re.compile(r"try setting\s*(?P<hint>PYTORCH_\w*ALLOC_CONF=expandable_segments:True|max_split_size_mb)")
_EXCEPTION = re.compile(r"([A-Za-z_][\w.]*(?:Error|Exception))\s*:\s*$")
# Log decorations that may start each continuation line of a wrapped message: "[rank0]:",
# "(VllmWorker rank=1 pid=254)", ISO timestamps, comment/quote markers, log levels, pytest's "E".
_LINE_PREFIX = re.compile(
    r"^\s*(?:(?:\[[^\]\n]{0,40}\]:?|\((?!GPU|e\.g\.)[^);\n]{0,80}\)|\d{4}-\d\d-\d\d[T ][\d:.,]+Z?"
    r"|[#>|*]+|(?:ERROR|WARNING|INFO|DEBUG)\b:?|E(?=\s))\s*)*"
)


class FoundMessage(NamedTuple):
    match: re.Match[str]  # LEGACY or CURRENT, on `window`
    window: str  # the text from the message on, log prefixes stripped, whitespace collapsed
    messages_found: int
    exception: Optional[str]  # the exception class printed before it


def _window(text: str, start: int) -> str:
    """The text from `start`, continuation lines stripped of log prefixes, whitespace collapsed."""
    lines = text[start : start + 4000].splitlines()
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
        return LLMBudgetError(
            "Apple MPS out-of-memory messages are not read here, only CUDA/ROCm ones; " + EXPECTED_FORMS
        )
    return LLMBudgetError("no PyTorch CUDA out-of-memory message found: " + EXPECTED_FORMS)


def find_message(text: str) -> FoundMessage:
    """The last readable OOM message in `text` (ANSI colours already removed)."""
    anchors = list(ANCHOR.finditer(text))
    if not anchors:
        raise _no_message_error(text)
    for anchor in reversed(anchors):
        window = _window(text, anchor.start())
        m = LEGACY.match(window) or CURRENT.match(window)
        if m:
            line_start = text.rfind("\n", 0, anchor.start()) + 1
            exc = _EXCEPTION.search(text[line_start : anchor.start()])
            return FoundMessage(m, window, len(anchors), exc.group(1) if exc else None)
    line = text.count("\n", 0, anchors[-1].start()) + 1
    raise LLMBudgetError(
        f"found 'out of memory. Tried to allocate' (line {line}) but not the figures that follow it "
        f"(was the message cut or edited?); {EXPECTED_FORMS}"
    )
