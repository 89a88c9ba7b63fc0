"""How each number format stores a value, bit by bit, with exact arithmetic.

Everything here works on `fractions.Fraction` and integers: a number typed on the command
line is parsed exactly (`3.141592` is 3141592/10^6, not the nearest double), rounded once to
the target format, and the stored value is given as an exact decimal. No numpy, no float
casts: the tests cross-check this module against `struct`, numpy and PyTorch instead.

Formats (layouts from `precision.FORMATS`):

- fp32, fp16: IEEE 754-2008 binary32/binary16 ("ieee754"), round to nearest, ties to even,
  gradual underflow to subnormals, overflow to ±inf.
- bf16: binary32's 8-bit exponent with 7 fraction bits ("bfloat16"), same rounding, ±inf.
- fp8-e4m3, fp8-e5m2: the OCP 8-bit formats ("micikevicius2022"). E5M2 is IEEE-like (±inf).
  E4M3 has no infinities: the exponent 1111 is a normal binade except S.1111.111, which is NaN,
  so the largest value is 1.75 · 2^8 = 448. By default conversion follows the spec's
  non-saturating mode: a value that rounds past the largest finite value becomes NaN (E4M3)
  or ±inf (E5M2). `saturate=True` is the spec's saturating mode ("satfinite", what FP8 training
  recipes use): it becomes ±max instead. (PyTorch 2.13's CPU cast mixes the two: E4M3
  saturates to ±448, E5M2 goes to ±inf; tests/test_dtypes.py checks both against it.)
- int8, int4: two's-complement integers ("jacob2018"), either the value rounded and clamped
  (plain) or absmax-scaled: scale = qmax / absmax, q = round(x · scale) clamped to ±qmax,
  stored value q / scale, with qmax = 127 (int8) or 7 (int4) ("dettmers2022a").
- nf4: 4-bit NormalFloat ("dettmers2023"): the index of the code nearest to x / absmax, where
  absmax is the largest magnitude of the value's block of 64; stored value code · absmax.

Rounding to an integer (int8, int4) is to nearest, ties to even, as `torch.round` does.
Inputs must be finite: NaN and ±inf are rejected (the CLI exits with code 2), since each
format's NaN/inf codes are listed by the range table.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Literal, NamedTuple, Optional

from pydantic import BaseModel, ConfigDict

from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import FORMATS, Precision, float_limits
from llm_budget.refs import cite

# -- constants ------------------------------------------------------------------------------------

NF4_CODES: tuple[float, ...] = (
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
)
"""The 16 NF4 levels, index 0..15 (dettmers2023; bitsandbytes' NF4 table, float32).

Every constant is exactly a float32 value, so `Fraction(c)` is the level bitsandbytes stores.
"""
NF4_BLOCK = 64  # dettmers2023: block-wise absmax, block size 64 for the weights
NF4_SOURCE = cite("dettmers2023: §3 4-bit NormalFloat; the levels as bitsandbytes stores them")

FLOAT_PRECISIONS = (Precision.fp32, Precision.fp16, Precision.bf16, Precision.fp8_e4m3, Precision.fp8_e5m2)
INT_PRECISIONS = (Precision.int8, Precision.int4)

_FLOAT_SOURCES = {
    Precision.fp32: cite("ieee754: §3.6 binary32"),
    Precision.fp16: cite("ieee754: §3.6 binary16"),
    Precision.bf16: cite("bfloat16"),
    Precision.fp8_e4m3: cite("micikevicius2022: §3, Table 1 (E4M3)"),
    Precision.fp8_e5m2: cite("micikevicius2022: §3, Table 1 (E5M2)"),
}
_INT_SOURCE = cite("jacob2018: §2.1 quantization scheme")
_ABSMAX_SOURCE = cite("dettmers2022a: §2, Eq. 1")

MAX_EXPONENT = 1_000  # |decimal exponent| accepted on input; every format over/underflows long before
MAX_DIGITS = 1_000  # significant digits accepted on input (keeps exact decimals within Python's int-to-str limit)


# -- exact decimal strings --------------------------------------------------------------------------


def exact_decimal(x: Fraction, *, digits: int = 40) -> str:
    """The decimal expansion of x: exact when it terminates (always for binary formats: the
    denominator is a power of two), else rounded to `digits` significant digits with a trailing '…'.

    Positional notation for 1e-6 ≤ |x| < 1e21, scientific ('3.4028…e+38', '1e-7') outside.
    """
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    n, d = abs(x.numerator), x.denominator
    a = b = 0
    rest = d
    while rest % 2 == 0:
        rest //= 2
        a += 1
    while rest % 5 == 0:
        rest //= 5
        b += 1
    if rest == 1:
        k = max(a, b)
        mant, exp10 = n * 10**k // d, -k  # exact: d divides 10^k
        suffix = ""
    else:
        # Scale so the integer part has `digits` digits, then round half to even.
        e = _floor_log10(Fraction(n, d))
        shift = digits - 1 - e
        scaled = Fraction(n, d) * Fraction(10) ** shift
        mant, exp10 = round(scaled), -shift
        suffix = "…"
    s = str(mant)
    stripped = s.rstrip("0")
    exp10 += len(s) - len(stripped)
    s = stripped
    adjusted = len(s) - 1 + exp10
    if -6 <= adjusted < 21:
        if exp10 >= 0:
            body = s + "0" * exp10
        elif -exp10 >= len(s):
            body = "0." + "0" * (-exp10 - len(s)) + s
        else:
            body = s[:exp10] + "." + s[exp10:]
    else:
        body = s[0] + ("." + s[1:] if len(s) > 1 else "") + f"e{adjusted:+d}"
    return sign + body + suffix


def _floor_log10(x: Fraction) -> int:
    """floor(log10(x)) for x > 0, exactly."""
    e = len(str(x.numerator)) - len(str(x.denominator))
    while Fraction(10) ** e > x:
        e -= 1
    while Fraction(10) ** (e + 1) <= x:
        e += 1
    return e


def fraction_str(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


# -- parsing ----------------------------------------------------------------------------------------

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?")


class Parsed(NamedTuple):
    value: Fraction
    negative: bool  # the sign as typed: keeps -0 apart from 0


def parse_number(text: str, *, what: str = "number") -> Parsed:
    """Exactly the number typed: Decimal -> Fraction, so '3.141592' is 3141592/1000000.

    Accepts decimals and scientific notation (`3.141592`, `-1e-8`, `6.5e4`, `1_000`), thousands
    separators (`65,504`) and fractions (`1/3`). NaN and ±inf are rejected: every format's result
    for them is a fixed code, listed in the range table.
    """
    s = text.strip()
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    try:
        d = Decimal(s)
    except InvalidOperation:
        try:
            if "/" not in s:
                raise ValueError
            f = Fraction(s)
            if max(len(str(f.numerator)), len(str(f.denominator))) > MAX_DIGITS:
                raise ValueError
        except (ValueError, ZeroDivisionError):
            raise LLMBudgetError(f"{what} '{text}' is not a number (examples: 3.141592, -1e-8, 65504, 1/3)") from None
        return Parsed(f, f < 0)
    if not d.is_finite():
        raise LLMBudgetError(f"{what} '{text}' is not finite: give a finite number (the range table, `llm-budget dtype`, shows each format's inf/NaN)")
    if d and abs(d.adjusted()) > MAX_EXPONENT:
        raise LLMBudgetError(f"{what} '{text}' is out of range: the decimal exponent must be within ±{MAX_EXPONENT:,}")
    if len(d.as_tuple().digits) > MAX_DIGITS:
        raise LLMBudgetError(f"{what} '{text[:20]}…' has more than {MAX_DIGITS:,} digits")
    return Parsed(Fraction(d), d.is_signed())


def parse_absmax(text: str) -> Fraction:
    """--absmax: the largest magnitude in the tensor (block); must be finite and positive."""
    v = parse_number(text, what="--absmax").value
    if v <= 0:
        raise LLMBudgetError(f"--absmax must be positive (the largest magnitude in the tensor), got '{text}'")
    return v


# -- floating point: exact round-to-nearest-even ----------------------------------------------------


class FloatLayout(NamedTuple):
    exponent_bits: int
    fraction_bits: int
    has_inf: bool  # IEEE-style specials; False for E4M3 (only S.1111.111 is NaN)

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1

    @property
    def emin(self) -> int:
        return 1 - self.bias

    @property
    def max_field(self) -> tuple[int, int]:
        """(exponent field, fraction field) of the largest finite value."""
        top = 2**self.exponent_bits - 1
        if self.has_inf:
            return top - 1, 2**self.fraction_bits - 1
        return top, 2**self.fraction_bits - 2


def layout(p: Precision) -> FloatLayout:
    f = FORMATS[p]
    if f.exponent_bits == 0:
        raise ValueError(f"{p.value} is not a floating-point format")
    return FloatLayout(f.exponent_bits, f.fraction_bits, f.has_inf)


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
    e, f = layout(p).max_field
    value = decode(p, FloatCode(0, e, f))
    assert value is not None
    return value


def _floor_log2(x: Fraction) -> int:
    """floor(log2(x)) for x > 0, exactly."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    return e


def round_float(p: Precision, x: Fraction, *, negative: bool = False, saturate: bool = False) -> FloatCode:
    """The code of x in float format p: round to nearest, ties to even (ieee754: §4.3.1), on the
    exact rational value, with subnormals; overflow per the format (see the module docstring).

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


# -- result models ----------------------------------------------------------------------------------

Scheme = Literal["float", "integer", "absmax", "nf4"]
Status = Literal["exact", "rounded", "subnormal", "underflow", "overflow", "saturated", "clamped"]


class Encoding(BaseModel):
    """How one format stores the input: its bits, the exact stored value and the error."""

    model_config = ConfigDict(frozen=True)

    precision: str  # Precision value: fp32, fp16, bf16, fp8-e4m3, fp8-e5m2, int8, int4, nf4
    scheme: Scheme  # float (IEEE-style rounding), integer (round, clamp), absmax (scaled), nf4
    label: str  # e.g. "FP32", "INT8 absmax"
    bits: str  # every bit, most significant first, e.g. "01000000010010010000111111011000"
    bits_grouped: str  # the same, grouped: "0 10000000 10010010000111111011000" (sign exponent fraction)
    sign: Optional[str]  # floats only: the sign bit
    exponent: Optional[str]  # floats only: the biased exponent field
    fraction: Optional[str]  # floats only: the fraction field
    code: Optional[int]  # integers: the stored integer q; nf4: the code index 0..15
    stored_value: str  # exact decimal (a trailing '…' marks a non-terminating expansion), or inf/-inf/NaN
    stored_fraction: Optional[str]  # the stored value as an exact fraction "p/q"; null for inf/NaN
    abs_error: Optional[str]  # |stored - x|, exact decimal as stored_value; null for inf/NaN
    relative_error: Optional[float]  # |stored - x| / |x| (0 when x = 0); null for inf/NaN
    scale: Optional[float]  # absmax/nf4: q = round(x · scale); int: qmax / absmax; nf4: 1 / absmax
    scale_fraction: Optional[str]  # the same, exactly
    absmax: Optional[str]  # absmax/nf4: the absmax used, exact decimal
    status: Status  # exact | rounded | subnormal | underflow (to 0) | overflow (inf/NaN) | saturated | clamped
    note: str  # how it was rounded, in words
    source: str  # refs.py key: section


class NumberEncodings(BaseModel):
    """`llm-budget dtype NUMBER`: the input, parsed exactly, in every format."""

    model_config = ConfigDict(frozen=True)

    input: str  # as typed
    value: str  # exact decimal of the parsed input
    value_fraction: str  # the parsed input as a fraction, e.g. "392699/125000"
    absmax: str  # absmax used by the scaled formats (|x| unless --absmax was given)
    absmax_given: bool
    saturate: bool  # fp8 in the OCP saturating mode (overflow -> ±max)
    encodings: list[Encoding]


class FormatInfo(BaseModel):
    """One row of the range table."""

    model_config = ConfigDict(frozen=True)

    precision: str
    label: str
    description: str
    bits: int
    bytes: float  # per value (0.5 for the 4-bit formats)
    sign_bits: int
    exponent_bits: int
    fraction_bits: int
    exponent_bias: Optional[int]
    max: Optional[float]  # largest finite value (floats)
    max_exact: Optional[str]  # the same, exact decimal
    max_formula: Optional[str]  # e.g. "(2 - 2^-10) × 2^15"
    min_normal: Optional[float]
    min_subnormal: Optional[float]
    epsilon: Optional[float]  # 2^-fraction_bits: the gap between 1 and the next value
    decimal_digits: Optional[float]  # log10(2^(fraction_bits + 1)): significant decimal digits
    int_min: Optional[int]  # integers
    int_max: Optional[int]
    absmax_qmax: Optional[int]  # absmax-scaled integers: q in -qmax..qmax
    codes: Optional[list[float]]  # nf4: the 16 levels
    block_size: Optional[int]  # nf4: values sharing one absmax
    specials: str  # inf/NaN codes, or "none"
    overflow: str  # what a too-large value becomes
    source: str


class DtypeTable(BaseModel):
    """`llm-budget dtype`: range and precision of every format."""

    model_config = ConfigDict(frozen=True)

    formats: list[FormatInfo]


# -- range table ------------------------------------------------------------------------------------


def _pow2(e: int) -> str:
    return f"2^{e}"


def format_info(p: Precision) -> FormatInfo:
    """Range and precision of one format: float limits from `precision.float_limits` (ieee754,
    bfloat16, micikevicius2022), integer ranges (jacob2018), NF4 levels (dettmers2023)."""
    f = FORMATS[p]
    common = dict(precision=p.value, label=p.label, description=f.description, bits=f.bits, bytes=f.bits / 8)
    if p.is_float:
        lay = layout(p)
        lim = float_limits(p)
        assert lim is not None
        e_top, f_top = lay.max_field
        frac_drop = lay.fraction_bits - (0 if lay.has_inf else 1)
        max_formula = f"(2 - 2^-{frac_drop}) × {_pow2(e_top - lay.bias)}"
        top = f"{int(max_finite(p)):,}"
        if lay.has_inf:
            specials = "±inf: exponent all ones, fraction 0; NaN: exponent all ones, fraction ≠ 0"
            overflow = "±inf from max + ½ulp on (round to nearest, ties to even)"
        else:
            specials = "no inf; NaN: S.1111.111 only"
            overflow = f"NaN (OCP non-saturating; ±{top} with satfinite: --saturate)"
        if p == Precision.fp8_e5m2:
            overflow = f"±inf (OCP non-saturating; ±{top} with satfinite: --saturate)"
        return FormatInfo(
            **common,
            sign_bits=1,
            exponent_bits=lay.exponent_bits,
            fraction_bits=lay.fraction_bits,
            exponent_bias=lay.bias,
            max=lim["max"],
            max_exact=exact_decimal(max_finite(p)),
            max_formula=max_formula,
            min_normal=lim["min_normal"],
            min_subnormal=lim["min_subnormal"],
            epsilon=lim["epsilon"],
            decimal_digits=round((lay.fraction_bits + 1) * 0.30102999566398120, 2),
            int_min=None,
            int_max=None,
            absmax_qmax=None,
            codes=None,
            block_size=None,
            specials=specials,
            overflow=overflow,
            source=_FLOAT_SOURCES[p],
        )
    if p in INT_PRECISIONS:
        lo, hi = int_range(p)
        return FormatInfo(
            **common,
            sign_bits=1,
            exponent_bits=0,
            fraction_bits=0,
            exponent_bias=None,
            max=None,
            max_exact=None,
            max_formula=None,
            min_normal=None,
            min_subnormal=None,
            epsilon=None,
            decimal_digits=None,
            int_min=lo,
            int_max=hi,
            absmax_qmax=hi,
            codes=None,
            block_size=None,
            specials="none",
            overflow=f"clamped to {lo}..{hi} (absmax-scaled: ±{hi})",
            source=_INT_SOURCE,
        )
    return FormatInfo(
        **common,
        sign_bits=0,
        exponent_bits=0,
        fraction_bits=0,
        exponent_bias=None,
        max=None,
        max_exact=None,
        max_formula=None,
        min_normal=None,
        min_subnormal=None,
        epsilon=None,
        decimal_digits=None,
        int_min=None,
        int_max=None,
        absmax_qmax=None,
        codes=list(NF4_CODES),
        block_size=NF4_BLOCK,
        specials="none",
        overflow="clipped to ±absmax (x / absmax beyond ±1 takes level ±1)",
        source=NF4_SOURCE,
    )


def dtype_table() -> DtypeTable:
    """Every format of `Precision`, in declaration order."""
    return DtypeTable(formats=[format_info(p) for p in Precision])


# -- encoding one number ----------------------------------------------------------------------------


def int_range(p: Precision) -> tuple[int, int]:
    """Two's-complement range: -2^(bits-1) .. 2^(bits-1) - 1 (jacob2018)."""
    b = FORMATS[p].bits
    return -(2 ** (b - 1)), 2 ** (b - 1) - 1


def _twos(q: int, bits: int) -> str:
    return format(q & (2**bits - 1), f"0{bits}b")


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


def encode_float(p: Precision, x: Fraction, *, negative: bool = False, saturate: bool = False) -> Encoding:
    """x in a float format, see `round_float`."""
    lay = layout(p)
    code = round_float(p, x, negative=negative)
    overflowed = special(p, code) is not None
    if overflowed and saturate:
        code = round_float(p, x, negative=negative, saturate=True)
    stored = decode(p, code)
    sp = special(p, code)
    s = str(code.sign)
    e = format(code.exponent, f"0{lay.exponent_bits}b")
    f = format(code.fraction, f"0{lay.fraction_bits}b")
    abs_err, rel = _errors(x, stored)
    rounding = "round to nearest, ties to even"
    top = exact_decimal(max_finite(p))
    status: Status
    if overflowed and saturate:
        status = "saturated"
        note = f"|x| rounds past the largest finite value {top}: saturated to ±{top} (OCP satfinite)"
    elif overflowed and lay.has_inf:
        status = "overflow"
        note = f"|x| rounds past the largest finite value {top}: overflow to {sp}"
    elif overflowed:
        status = "overflow"
        note = f"|x| rounds past the largest finite value {top}: E4M3 has no inf, so NaN (OCP non-saturating; --saturate gives ±{top})"
    elif stored == 0 and x != 0:
        status = "underflow"
        note = f"|x| is at most half the smallest subnormal: rounds to {'-' if code.sign else ''}0 ({rounding})"
    elif code.exponent == 0 and code.fraction != 0:
        status = "subnormal"
        note = f"subnormal: exponent field 0, value = fraction × 2^{lay.emin - lay.fraction_bits}" + ("" if stored == x else f"; {rounding}")
    else:
        status = _status_of(x, stored)
        note = "exact" if status == "exact" else rounding
        if code.exponent != 0:
            note += f"; exponent {code.exponent} - bias {lay.bias} = {code.exponent - lay.bias}"
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
        stored_value=sp if sp is not None else ("-0" if stored == 0 and code.sign else exact_decimal(stored)),  # type: ignore[arg-type]
        stored_fraction=None if stored is None else fraction_str(stored),
        abs_error=abs_err,
        relative_error=rel,
        scale=None,
        scale_fraction=None,
        absmax=None,
        status=status,
        note=note,
        source=_FLOAT_SOURCES[p],
    )


def _coded(precision: str, scheme: str, label: str, bits: str, code: int, x: Fraction, stored: Fraction, *,
           status: Status, note: str, source: str, scale: Optional[Fraction] = None,
           absmax: Optional[Fraction] = None) -> Encoding:
    """An integer-coded value (integers, absmax, NF4): the code's bits, no sign/exponent/fraction fields."""
    abs_err, rel = _errors(x, stored)
    return Encoding(
        precision=precision, scheme=scheme, label=label, bits=bits, bits_grouped=bits, sign=None, exponent=None,
        fraction=None, code=code, stored_value=exact_decimal(stored), stored_fraction=fraction_str(stored),
        abs_error=abs_err, relative_error=rel, scale=None if scale is None else _float(scale),
        scale_fraction=None if scale is None else fraction_str(scale),
        absmax=None if absmax is None else exact_decimal(absmax), status=status, note=note, source=source,
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
    return _coded(p.value, "integer", p.label, _twos(q, FORMATS[p].bits), q, x, stored, status=status, note=note, source=_INT_SOURCE)


def encode_absmax(p: Precision, x: Fraction, absmax: Fraction) -> Encoding:
    """Absmax (symmetric) quantization (dettmers2022a: Eq. 1): scale = qmax / absmax,
    q = round(x · scale) (ties to even) clamped to ±qmax, stored value q / scale;
    qmax = 127 for int8, 7 for int4. With absmax = 0 (x = 0 and no --absmax) q = 0."""
    _, qmax = int_range(p)
    bits_n = FORMATS[p].bits
    if absmax == 0:
        q, scale = 0, None
        stored = Fraction(0)
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
    return _coded(p.value, "absmax", f"{p.label} absmax", _twos(q, bits_n), q, x, stored, status=status, note=note,
                  source=_ABSMAX_SOURCE, scale=scale, absmax=absmax)


def nf4_index(y: Fraction) -> int:
    """Index of the NF4 level nearest to y = x / absmax (y is clamped to [-1, 1] by the search);
    at an exact midpoint the lower level wins, as bitsandbytes' `x > midpoint` comparisons do."""
    levels = [Fraction(c) for c in NF4_CODES]
    best = 0
    for i in range(1, len(levels)):
        if y > (levels[i - 1] + levels[i]) / 2:
            best = i
    return best


def encode_nf4(x: Fraction, absmax: Fraction) -> Encoding:
    """NF4 (dettmers2023: §3, Eq. 4 and Appendix E): the 4-bit index of the level nearest to
    x / absmax; stored value level · absmax, exactly (absmax kept exact here; bitsandbytes keeps
    it in float32, or 8-bit with double quantization)."""
    if absmax == 0:
        idx, scale = 7, None
        stored = Fraction(0)
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
    return _coded(Precision.nf4.value, "nf4", Precision.nf4.label, format(idx, "04b"), idx, x, stored, status=status,
                  note=note, source=NF4_SOURCE, scale=scale, absmax=absmax)


def encode_number(text: str, *, absmax: Optional[str] = None, saturate: bool = False) -> NumberEncodings:
    """`llm-budget dtype NUMBER`: parse `text` exactly and store it in every format.

    absmax (a string, parsed exactly) is the tensor's largest magnitude for the scaled formats
    (int8/int4 absmax, nf4); it defaults to |x|. saturate: fp8 overflow -> ±max (OCP satfinite).
    """
    x, negative = parse_number(text)
    am = parse_absmax(absmax) if absmax is not None else abs(x)
    encodings: list[Encoding] = [encode_float(p, x, negative=negative, saturate=saturate and p in (Precision.fp8_e4m3, Precision.fp8_e5m2)) for p in FLOAT_PRECISIONS]
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
