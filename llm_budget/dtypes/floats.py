"""Float codes: exact round-to-nearest-even into a format, and the exact value of a code.

Layouts and limits come from `llm_budget.hardware` (the one home of the float formats); here
they are applied to exact rationals (ieee754 §4.3.1; bfloat16; micikevicius2022 §3).
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple, Optional

from llm_budget.hardware import FloatLayout, Precision, float_layout
from llm_budget.refs import cite

FLOAT_PRECISIONS: tuple[Precision, ...] = tuple(p for p in Precision if p.is_float)

FLOAT_SOURCES = {
    Precision.fp32: cite("ieee754: §3.6 binary32"),
    Precision.fp16: cite("ieee754: §3.6 binary16"),
    Precision.bf16: cite("bfloat16"),
    Precision.fp8_e4m3: cite("micikevicius2022: §3, Table 1 (E4M3)"),
    Precision.fp8_e5m2: cite("micikevicius2022: §3, Table 1 (E5M2)"),
}


def layout(p: Precision) -> FloatLayout:
    """The bit layout of a float precision (see `llm_budget.hardware.FloatLayout`)."""
    return float_layout(p)


class FloatCode(NamedTuple):
    sign: int
    exponent: int  # the biased exponent field
    fraction: int  # the fraction (trailing significand) field


def decode(p: Precision, code: FloatCode) -> Optional[Fraction]:
    """The exact value of a code; None for ±inf and NaN (see `special`)."""
    lay = layout(p)
    if special(p, code):
        return None
    m = lay.fraction_bits
    if code.exponent == 0:
        mag = Fraction(code.fraction) * Fraction(2) ** (lay.emin - m)
    else:
        mag = Fraction(2**m + code.fraction) * Fraction(2) ** (code.exponent - lay.bias - m)
    return -mag if code.sign else mag


def special(p: Precision, code: FloatCode) -> Optional[str]:
    """'inf', '-inf' or 'NaN' for the special codes, else None."""
    lay = layout(p)
    top = 2**lay.exponent_bits - 1
    if lay.has_inf:
        if code.exponent == top:
            return "NaN" if code.fraction else ("-inf" if code.sign else "inf")
        return None
    return "NaN" if code.exponent == top and code.fraction == 2**lay.fraction_bits - 1 else None


def max_finite(p: Precision) -> Fraction:
    """The largest finite value of a float format, exactly (`FloatLayout.max_finite`)."""
    return layout(p).max_finite


def _floor_log2(x: Fraction) -> int:
    """floor(log2(x)) for x > 0, exactly."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    return e


def round_float(p: Precision, x: Fraction, *, negative: bool = False, saturate: bool = False) -> FloatCode:
    """The code of x in float format p: round to nearest, ties to even (ieee754: §4.3.1), on the
    exact rational value, with subnormals; overflow per the format (see the package docstring).

    `negative` gives the sign of a zero (so -0 and values that underflow from below keep sign 1).
    Sources: ieee754 (fp32, fp16), bfloat16 (bf16), micikevicius2022 (E4M3, E5M2).
    """
    lay = layout(p)
    sign = 1 if (x < 0 or (x == 0 and negative)) else 0
    mag = abs(x)
    m = lay.fraction_bits
    if mag == 0:
        return FloatCode(sign, 0, 0)
    e = max(_floor_log2(mag), lay.emin)  # below emin: the subnormal spacing 2^(emin - m)
    n = round(mag / Fraction(2) ** (e - m))  # Fraction.__round__: ties to even
    if n == 2 ** (m + 1):  # rounded up into the next binade
        e, n = e + 1, 2**m
    if n < 2**m:  # subnormal (or zero after underflow); only possible when e == emin
        return FloatCode(sign, 0, n)
    field = FloatCode(sign, e + lay.bias, n - 2**m)
    max_e, max_f = lay.max_field
    if (field.exponent, field.fraction) > (max_e, max_f):
        if saturate:
            return FloatCode(sign, max_e, max_f)
        top = 2**lay.exponent_bits - 1
        return FloatCode(sign, top, 0) if lay.has_inf else FloatCode(sign, top, 2**m - 1)
    return field
