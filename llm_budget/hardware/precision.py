"""Number formats: how many bits a value takes and how those bits are laid out.

Every precision is ONE row of the `Precision` enum below: its name, its bit layout, a
description, the refs.py key of its specification and the other names users type for it.
`FORMATS`, `ALIASES`, `Precision.bits`, `float_limits` and the `llm-budget dtype` tables
all read that row.

Adding a precision: add one member to `Precision` (e.g.
`fp4_e2m1 = _row("fp4-e2m1", Format(4, 2, 1, False, "OCP MX FP4 E2M1", "ocp_mx", aliases=("e2m1",)))`),
register its source key in refs.py, and add a test with the format's published limits
(tests/test_dtypes.py, `PUBLISHED`). What the calculators do with a new precision (recipes,
tensor-core paths) is decided where they branch on it.

Sizes are held as bits and turned into bytes with integer arithmetic,
bytes_for(n, p) = ceil(n · bits / 8), so 4-bit formats never round to zero bytes.
Float layouts follow IEEE 754-2008 (binary32, binary16), Google's bfloat16, and the
OCP 8-bit floating point spec (Micikevicius et al. 2022: E4M3 without infinities, E5M2).
"""

from __future__ import annotations

from enum import Enum
from fractions import Fraction
from typing import NamedTuple, Optional

from llm_budget.errors import LLMBudgetError


class Format(NamedTuple):
    """One precision's row: its bit layout and provenance."""

    bits: int
    exponent_bits: int  # 0 for integer and lookup formats
    fraction_bits: int  # floats: the trailing significand; integers: the value bits after the sign
    has_inf: bool  # IEEE-style ±inf; False for E4M3 (only S.1111.111 is NaN) and non-floats
    description: str
    source: str  # refs.py key
    aliases: tuple[str, ...] = ()  # other names users type (the value itself is always accepted)


class Precision(str, Enum):
    """Every number format llm-budget knows, one row each (see the module docstring)."""

    _value_: str
    format_row: Format

    def __new__(cls, value: str, row: Format) -> Precision:
        member = str.__new__(cls, value)
        member._value_ = value
        member.format_row = row
        return member

    fp32 = "fp32", Format(32, 8, 23, True, "IEEE 754 binary32", "ieee754", ("float32",))
    fp16 = "fp16", Format(16, 5, 10, True, "IEEE 754 binary16", "ieee754", ("float16", "half"))
    bf16 = "bf16", Format(16, 8, 7, True, "bfloat16: binary32's exponent, 7 fraction bits", "bfloat16", ("bfloat16",))
    fp8_e4m3 = (
        "fp8-e4m3",
        Format(
            8,
            4,
            3,
            False,
            "OCP FP8 E4M3 (no infinities; S.1111.111 is NaN)",
            "micikevicius2022",
            ("fp8", "e4m3", "fp8_e4m3"),
        ),
    )
    fp8_e5m2 = "fp8-e5m2", Format(8, 5, 2, True, "OCP FP8 E5M2 (IEEE-like)", "micikevicius2022", ("e5m2", "fp8_e5m2"))
    int8 = "int8", Format(8, 0, 7, False, "two's-complement integer, -128..127", "jacob2018")
    int4 = "int4", Format(4, 0, 3, False, "two's-complement integer, -8..7", "jacob2018")
    nf4 = (
        "nf4",
        Format(
            4,
            0,
            0,
            False,
            "4-bit NormalFloat: 16 levels built from N(0,1) quantiles with an exact zero, absmax-scaled per block",
            "dettmers2023",
        ),
    )

    @property
    def bits(self) -> int:
        return self.format_row.bits

    @property
    def is_float(self) -> bool:
        return self.format_row.exponent_bits > 0

    @property
    def is_integer(self) -> bool:
        """Two's-complement integers (int8, int4): no exponent, value bits after the sign."""
        return self.format_row.exponent_bits == 0 and self.format_row.fraction_bits > 0

    @property
    def label(self) -> str:
        return self._value_.upper()


FORMATS: dict[Precision, Format] = {p: p.format_row for p in Precision}

ALIASES: dict[str, Precision] = {name: p for p in Precision for name in (p.value, *p.format_row.aliases)}


def parse_precision(name: str, *, what: str = "precision") -> Precision:
    p = ALIASES.get(name.strip().lower())
    if p is None:
        raise LLMBudgetError(f"unknown {what} '{name}'; known: {', '.join(x.value for x in Precision)}")
    return p


def bytes_for(n: int, precision: Precision) -> int:
    """Bytes to hold n values: ceil(n · bits / 8)."""
    return (n * precision.bits + 7) // 8


# -- floating point layouts: the one home of the float limits ---------------------------------------


class FloatLayout(NamedTuple):
    """Exponent and fraction widths of a binary float format (ieee754 §3.3; micikevicius2022 §3)."""

    exponent_bits: int
    fraction_bits: int
    has_inf: bool  # IEEE-style specials; False for E4M3 (only S.1111.111 is NaN)

    @property
    def bias(self) -> int:
        return int(2 ** (self.exponent_bits - 1)) - 1

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal value, 1 - bias."""
        return 1 - self.bias

    @property
    def max_field(self) -> tuple[int, int]:
        """(exponent field, fraction field) of the largest finite value: the all-ones exponent is
        inf/NaN in IEEE formats; E4M3 keeps it as a normal binade except S.1111.111 (NaN)."""
        top = 2**self.exponent_bits - 1
        if self.has_inf:
            return top - 1, 2**self.fraction_bits - 1
        return top, 2**self.fraction_bits - 2

    @property
    def max_finite(self) -> Fraction:
        """The largest finite value, exactly: (2^m + f) · 2^(e - bias - m) at `max_field`."""
        e, f = self.max_field
        m = self.fraction_bits
        return Fraction(2**m + f) * Fraction(2) ** (e - self.bias - m)


def float_layout(p: Precision) -> FloatLayout:
    """The layout of a float precision; ValueError for integer and lookup formats."""
    f = FORMATS[p]
    if f.exponent_bits == 0:
        raise ValueError(f"{p.value} is not a floating-point format")
    return FloatLayout(f.exponent_bits, f.fraction_bits, f.has_inf)


def float_limits(p: Precision) -> Optional[dict[str, float]]:
    """Largest finite value, smallest normal 2^emin, smallest subnormal 2^(emin - m), machine
    epsilon 2^-m (m = fraction bits); None for integer and lookup formats."""
    if not p.is_float:
        return None
    lay = float_layout(p)
    m = lay.fraction_bits
    return {
        "max": float(lay.max_finite),
        "min_normal": 2.0**lay.emin,
        "min_subnormal": 2.0 ** (lay.emin - m),
        "epsilon": 2.0**-m,
    }
