"""Units and the numbers people type.

Memory is held as exact integer bytes everywhere. Two display units exist and are
never mixed silently:

- GB  = 10**9 bytes (decimal; the lecture's unit: "4 GB to store 1B parameters at FP32")
- GiB = 2**30 bytes (binary; what PyTorch and nvidia-smi report: "15.78 GiB total capacity")

Counts (parameters, tokens, FLOPs) use SI multipliers: 7b = 7 * 10**9, never 2**30.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import Enum

from llm_budget.errors import LLMBudgetError

KB = 10**3
MB = 10**6
GB = 10**9
TB = 10**12
KiB = 2**10
MiB = 2**20
GiB = 2**30
TiB = 2**40


class MemoryUnit(str, Enum):
    """How byte totals are shown. The numbers inside are always exact bytes."""

    gb = "gb"
    gib = "gib"

    @property
    def bytes(self) -> int:
        return GB if self is MemoryUnit.gb else GiB

    @property
    def label(self) -> str:
        return "GB" if self is MemoryUnit.gb else "GiB"


MAX_EXPONENT = 30
MAX_QUANTITY = 10**MAX_EXPONENT
"""The largest quantity any option accepts (parameters, tokens, FLOPs, dollars): 1e30 is a million times
the largest training budget published so far (~5e25 FLOPs), and keeps every float conversion finite."""
MAX_DIGITS = 64
"""Characters of a typed number (digits, separators, exponent): 1e30 written out with separators fits."""

# SI multipliers for counts. "b" (billion) and "g" (giga) are the same thing.
_COUNT_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12, "p": 10**15}
_NUMBER = re.compile(
    r"""^\s*
    (?P<sign>[+-]?)
    (?P<num>
        \d{1,3}(?:,\d{3})+(?:\.\d*)?      # 1,000,000 (commas only between groups of three)
      | \d[\d_]*(?:\.\d*)?(?:e[+-]?\d+)?  # 175_000_000_000, 1e9, 5.76e23, 7
      | \.\d+(?:e[+-]?\d+)?               # .5e9
    )
    \s*(?P<suffix>[kmbgtp]?)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def parse_decimal(text: str | int | float, *, what: str = "value") -> Decimal:
    """Parse a human-typed positive quantity exactly: '7b', '7B', '1e9', '175_000_000_000', '1,000,000', '15t'.

    Raises LLMBudgetError (one line, names `what`) for garbage, zero, negative or non-finite input.
    """
    if isinstance(text, bool):
        raise LLMBudgetError(f"{what} must be a number, got {text!r}")
    if isinstance(text, (int, float)):
        try:
            value = Decimal(str(text))
        except InvalidOperation:  # pragma: no cover - str(float) always parses
            raise LLMBudgetError(f"{what} must be a number, got {text!r}") from None
    else:
        m = _NUMBER.match(str(text))
        if not m or "__" in m.group("num") or m.group("num").endswith("_"):
            raise LLMBudgetError(
                f"{what}: cannot read {text!r} as a number (examples: 7b, 1.5B, 1e9, 175_000_000_000, 1,000,000)"
            )
        digits = m.group("sign") + m.group("num").replace(",", "").replace("_", "")
        if len(digits) > MAX_DIGITS:
            raise LLMBudgetError(f"{what}: {len(digits):,} characters is too long for a number (at most {MAX_DIGITS})")
        value = Decimal(digits)
        if value.is_finite() and value and value.adjusted() > MAX_EXPONENT:
            raise LLMBudgetError(f"{what} must be at most 1e{MAX_EXPONENT}, got {text!r}")
        value *= _COUNT_SUFFIXES[m.group("suffix").lower()]
    if not value.is_finite():
        raise LLMBudgetError(f"{what} must be finite, got {text!r}")
    if value > MAX_QUANTITY:
        raise LLMBudgetError(f"{what} must be at most 1e{MAX_EXPONENT}, got {text!r}")
    if value <= 0:
        raise LLMBudgetError(f"{what} must be positive, got {text!r}")
    return value


def parse_count(text: str | int | float, *, what: str = "value") -> int:
    """Like parse_decimal, but the result must be a whole number (a parameter or token count)."""
    value = parse_decimal(text, what=what)
    if value != value.to_integral_value():
        raise LLMBudgetError(f"{what} must be a whole number, got {text!r} = {value}")
    return int(value)


def to_unit(n_bytes: int | float, unit: MemoryUnit) -> float:
    """Bytes as a float in GB or GiB (for display only; keep the int for arithmetic)."""
    return n_bytes / unit.bytes


def format_bytes(n_bytes: int | float, unit: MemoryUnit = MemoryUnit.gb, *, decimals: int = 2) -> str:
    """The one way a byte total is shown: '13.48 GB' or '12.55 GiB' (thousands separators, the unit named)."""
    return f"{n_bytes / unit.bytes:,.{decimals}f} {unit.label}"
