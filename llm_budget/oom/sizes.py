"""Sizes as PyTorch prints them, and back to exact bytes.

PyTorch's ``format_size`` (c10/cuda/CUDACachingAllocator.cpp) writes ``N bytes`` up to 1 KiB, then KiB up
to 1 MiB, MiB up to 1 GiB, else GiB, always with two decimals. A printed figure is therefore the true value
rounded to 0.01 of its unit (±0.005 GiB = ±5.12 MiB for a GiB figure): `parse_size` returns the printed
value × unit rounded to the nearest byte, with that half-unit tolerance."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from llm_budget.errors import LLMBudgetError
from llm_budget.oom.report import Figure
from llm_budget.units import GB, KB, MB, TB, GiB, KiB, MiB, TiB

UNITS: dict[str, int] = {
    "bytes": 1,
    "byte": 1,
    "b": 1,
    "kib": KiB,
    "mib": MiB,
    "gib": GiB,
    "tib": TiB,
    # Decimal, as llm-budget defines GB everywhere; PyTorch's CUDA allocator never prints these.
    "kb": KB,
    "mb": MB,
    "gb": GB,
    "tb": TB,
}
UNIT_PATTERN = r"(?i:bytes|byte|kib|mib|gib|tib|kb|mb|gb|tb|b)"


def _nearest_byte(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_size(text: str) -> Figure:
    """'14.56 GiB' -> Figure(bytes=15633680957, tolerance 0.005 GiB). Units: bytes/B, KiB, MiB, GiB, TiB
    (binary, as PyTorch prints them) and KB/MB/GB/TB (decimal, as llm-budget defines them)."""
    m = re.fullmatch(r"\s*(\d+(?:\.(\d+))?)\s*([A-Za-z]+)\s*", text)
    if not m or m.group(3).lower() not in UNITS:
        raise LLMBudgetError(f"cannot read the size {text.strip()!r} (expected e.g. 200.00 MiB, 15.78 GiB, 0 bytes)")
    unit = UNITS[m.group(3).lower()]
    decimals = len(m.group(2) or "")
    half_digit = Decimal(unit) / 2 / Decimal(10) ** decimals  # half a unit of the last printed digit
    tolerance = _nearest_byte(half_digit) if unit > 1 else 0
    return Figure(
        printed=" ".join(text.split()), bytes=_nearest_byte(Decimal(m.group(1)) * unit), tolerance_bytes=tolerance
    )


def format_size(n: int) -> str:
    """PyTorch's format_size: 'N bytes' up to 1 KiB, then KiB / MiB / GiB with two decimals."""
    if n <= 1024:
        return f"{n} bytes"
    if n <= MiB:
        return f"{n / KiB:.2f} KiB"
    if n <= GiB:
        return f"{n / MiB:.2f} MiB"
    return f"{n / GiB:.2f} GiB"
