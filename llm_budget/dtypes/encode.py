"""One number in every format: the bits, the exact stored value and the error.

fp32/fp16/bf16/fp8 round once, to nearest with ties to even (see floats.py); int8/int4 are
either rounded and clamped (jacob2018) or absmax-scaled (dettmers2022a, Eq. 1); nf4 takes the
nearest of its 16 levels times the block's absmax (dettmers2023, §3).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional

from llm_budget.dtypes.decimals import exact_decimal, fraction_str
from llm_budget.dtypes.floats import (
    FLOAT_PRECISIONS,
    FLOAT_SOURCES,
    FloatCode,
    decode,
    layout,
    max_finite,
    round_float,
    special,
)
from llm_budget.dtypes.integers import ABSMAX_SOURCE, INT_PRECISIONS, INT_SOURCE, int_range, twos_complement
from llm_budget.dtypes.nf4 import NF4_CODES, NF4_SOURCE, NF4_ZERO, nf4_index
from llm_budget.dtypes.parse import parse_absmax, parse_number
from llm_budget.dtypes.results import Encoding, NumberEncodings, Scheme, Status
from llm_budget.hardware import FORMATS, Precision

_ROUNDING = "round to nearest, ties to even"
_FP8 = (Precision.fp8_e4m3, Precision.fp8_e5m2)  # --saturate applies to these only (OCP satfinite)


def _float(x: Fraction) -> float:
    """float(x), or ±inf past the double range (JSON writes it as null)."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def _errors(x: Fraction, stored: Optional[Fraction]) -> tuple[Optional[str], Optional[float]]:
    if stored is None:
        return None, None
    err = abs(stored - x)
    return exact_decimal(err), (_float(err / abs(x)) if x else 0.0)


def _status_of(x: Fraction, stored: Optional[Fraction]) -> Status:
    return "exact" if stored == x else "rounded"


def _float_status(
    p: Precision, x: Fraction, code: FloatCode, *, overflowed: bool, saturate: bool
) -> tuple[Status, str]:
    """The status of a float code and how it came about, in words."""
    lay = layout(p)
    stored = decode(p, code)
    top = exact_decimal(max_finite(p))
    past = f"|x| rounds past the largest finite value {top}"
    if overflowed and saturate:
        return "saturated", f"{past}: saturated to ±{top} (OCP satfinite)"
    if overflowed and lay.has_inf:
        return "overflow", f"{past}: overflow to {special(p, code)}"
    if overflowed:
        return "overflow", f"{past}: E4M3 has no inf, so NaN (OCP non-saturating; --saturate gives ±{top})"
    if stored == 0 and x != 0:
        return (
            "underflow",
            f"|x| is at most half the smallest subnormal: rounds to {'-' if code.sign else ''}0 ({_ROUNDING})",
        )
    if code.exponent == 0 and code.fraction != 0:
        note = f"subnormal: exponent field 0, value = fraction × 2^{lay.emin - lay.fraction_bits}"
        return "subnormal", note + ("" if stored == x else f"; {_ROUNDING}")
    status = _status_of(x, stored)
    note = "exact" if status == "exact" else _ROUNDING
    if code.exponent != 0:
        note += f"; exponent {code.exponent} - bias {lay.bias} = {code.exponent - lay.bias}"
    return status, note


def encode_float(p: Precision, x: Fraction, *, negative: bool = False, saturate: bool = False) -> Encoding:
    """x in a float format, see `round_float`."""
    lay = layout(p)
    code = round_float(p, x, negative=negative)
    overflowed = special(p, code) is not None
    if overflowed and saturate:
        code = round_float(p, x, negative=negative, saturate=True)
    stored = decode(p, code)
    sp = special(p, code)
    status, note = _float_status(p, x, code, overflowed=overflowed, saturate=saturate)
    s = str(code.sign)
    e = format(code.exponent, f"0{lay.exponent_bits}b")
    f = format(code.fraction, f"0{lay.fraction_bits}b")
    if stored is None:
        stored_value = sp or "NaN"
    else:
        stored_value = "-0" if stored == 0 and code.sign else exact_decimal(stored)
    abs_err, rel = _errors(x, stored)
    return Encoding(
        precision=p.value,
        scheme="float",
        label=p.label,
        bits=s + e + f,
        bits_grouped=f"{s} {e} {f}",
        sign=s,
        exponent=e,
        fraction=f,
        code=None,
        stored_value=stored_value,
        stored_fraction=None if stored is None else fraction_str(stored),
        abs_error=abs_err,
        relative_error=rel,
        scale=None,
        scale_fraction=None,
        absmax=None,
        status=status,
        note=note,
        source=FLOAT_SOURCES[p],
    )


def _coded(
    precision: str,
    scheme: Scheme,
    label: str,
    bits: str,
    code: int,
    x: Fraction,
    stored: Fraction,
    *,
    status: Status,
    note: str,
    source: str,
    scale: Optional[Fraction] = None,
    absmax: Optional[Fraction] = None,
) -> Encoding:
    """An integer-coded value (integers, absmax, NF4): the code's bits, no sign/exponent/fraction fields."""
    abs_err, rel = _errors(x, stored)
    return Encoding(
        precision=precision,
        scheme=scheme,
        label=label,
        bits=bits,
        bits_grouped=bits,
        sign=None,
        exponent=None,
        fraction=None,
        code=code,
        stored_value=exact_decimal(stored),
        stored_fraction=fraction_str(stored),
        abs_error=abs_err,
        relative_error=rel,
        scale=None if scale is None else _float(scale),
        scale_fraction=None if scale is None else fraction_str(scale),
        absmax=None if absmax is None else exact_decimal(absmax),
        status=status,
        note=note,
        source=source,
    )


def encode_int(p: Precision, x: Fraction) -> Encoding:
    """Plain integer quantization: q = round(x) (ties to even), clamped to the two's-complement
    range; stored value q (jacob2018 with scale 1 and zero point 0)."""
    lo, hi = int_range(p)
    r = round(x)
    q = min(max(r, lo), hi)
    stored = Fraction(q)
    if r != q:
        status: Status = "clamped"
        note = f"round({exact_decimal(x)}) = {exact_decimal(Fraction(r))} is outside {lo}..{hi}: clamped to {q}"
    else:
        status = _status_of(x, stored)
        note = "exact" if status == "exact" else "round to nearest integer, ties to even"
    bits = twos_complement(q, FORMATS[p].bits)
    return _coded(p.value, "integer", p.label, bits, q, x, stored, status=status, note=note, source=INT_SOURCE)


def encode_absmax(p: Precision, x: Fraction, absmax: Fraction) -> Encoding:
    """Absmax (symmetric) quantization (dettmers2022a: Eq. 1): scale = qmax / absmax,
    q = round(x · scale) (ties to even) clamped to ±qmax, stored value q / scale;
    qmax = 127 for int8, 7 for int4. With absmax = 0 (x = 0 and no --absmax) q = 0."""
    _, qmax = int_range(p)
    scale: Optional[Fraction] = None
    if absmax == 0:
        q, stored = 0, Fraction(0)
        status: Status = "exact"
        note = "x = 0 and absmax = 0: stored as 0 (give --absmax for a tensor's scale)"
    else:
        scale = Fraction(qmax) / absmax
        r = round(x * scale)
        q = min(max(r, -qmax), qmax)
        stored = q / scale
        if r != q:
            status = "clamped"
            note = f"|x| > absmax: q = round(x · scale) = {exact_decimal(Fraction(r))} clamped to {q}"
        else:
            status = _status_of(x, stored)
            note = f"q = round(x · {qmax}/absmax) = {q}; stored q · absmax/{qmax}"
    bits = twos_complement(q, FORMATS[p].bits)
    return _coded(
        p.value,
        "absmax",
        f"{p.label} absmax",
        bits,
        q,
        x,
        stored,
        status=status,
        note=note,
        source=ABSMAX_SOURCE,
        scale=scale,
        absmax=absmax,
    )


def encode_nf4(x: Fraction, absmax: Fraction) -> Encoding:
    """NF4 (dettmers2023: §3, Eq. 4 and Appendix E): the 4-bit index of the level nearest to
    x / absmax; stored value level · absmax, exactly (absmax kept exact here; bitsandbytes keeps
    it in float32, or 8-bit with double quantization)."""
    scale: Optional[Fraction] = None
    if absmax == 0:
        idx, stored = NF4_ZERO, Fraction(0)
        note = "x = 0 and absmax = 0: level 0.0 (give --absmax for a block's scale)"
    else:
        scale = 1 / absmax
        idx = nf4_index(x * scale)
        stored = Fraction(NF4_CODES[idx]) * absmax
        note = f"nearest level to x/absmax: code[{idx}] = {NF4_CODES[idx]!r}; stored code · absmax"
    status: Status = _status_of(x, stored)
    if absmax and abs(x) > absmax:
        status = "clamped"
        note += " (|x| > absmax: clipped to ±absmax)"
    nf4 = Precision.nf4
    return _coded(
        nf4.value,
        "nf4",
        nf4.label,
        format(idx, f"0{nf4.bits}b"),
        idx,
        x,
        stored,
        status=status,
        note=note,
        source=NF4_SOURCE,
        scale=scale,
        absmax=absmax,
    )


def encode_number(text: str, *, absmax: Optional[str] = None, saturate: bool = False) -> NumberEncodings:
    """`llm-budget dtype NUMBER`: parse `text` exactly and store it in every format.

    absmax (a string, parsed exactly) is the tensor's largest magnitude for the scaled formats
    (int8/int4 absmax, nf4); it defaults to |x|. saturate: fp8 overflow -> ±max (OCP satfinite).
    """
    x, negative = parse_number(text)
    am = parse_absmax(absmax) if absmax is not None else abs(x)
    encodings = [encode_float(p, x, negative=negative, saturate=saturate and p in _FP8) for p in FLOAT_PRECISIONS]
    for p in INT_PRECISIONS:
        encodings.append(encode_int(p, x))
        encodings.append(encode_absmax(p, x, am))
    encodings.append(encode_nf4(x, am))
    return NumberEncodings(
        input=text,
        value=exact_decimal(x),
        value_fraction=fraction_str(x),
        absmax=exact_decimal(am),
        absmax_given=absmax is not None,
        saturate=saturate,
        encodings=encodings,
    )
