"""What `llm-budget dtype` returns: one number in every format, and the range table.

Exact values are exact decimal strings (a trailing '…' marks a non-terminating expansion);
the properties derive what the tables show without changing the JSON.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict

from llm_budget.dtypes.decimals import exact_decimal

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

    @property
    def scale_exact(self) -> Optional[str]:
        """The scale as an exact decimal (it can lie outside the double range); None without one."""
        if self.scale_fraction is None:
            return None
        return exact_decimal(Fraction(self.scale_fraction))


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
    """One row of the range table (fields that do not apply to a format are None)."""

    model_config = ConfigDict(frozen=True)

    precision: str
    label: str
    description: str
    bits: int
    bytes: float  # per value (0.5 for the 4-bit formats)
    sign_bits: int
    exponent_bits: int
    fraction_bits: int
    exponent_bias: Optional[int] = None
    max: Optional[float] = None  # largest finite value (floats)
    max_exact: Optional[str] = None  # the same, exact decimal
    max_formula: Optional[str] = None  # e.g. "(2 - 2^-10) × 2^15"
    min_normal: Optional[float] = None
    min_subnormal: Optional[float] = None
    epsilon: Optional[float] = None  # 2^-fraction_bits: the gap between 1 and the next value
    decimal_digits: Optional[float] = None  # log10(2^(fraction_bits + 1)): significant decimal digits
    int_min: Optional[int] = None  # integers
    int_max: Optional[int] = None
    absmax_qmax: Optional[int] = None  # absmax-scaled integers: q in -qmax..qmax
    codes: Optional[list[float]] = None  # nf4: the 16 levels
    block_size: Optional[int] = None  # nf4: values sharing one absmax
    specials: str  # inf/NaN codes, or "none"
    overflow: str  # what a too-large value becomes
    source: str

    @property
    def min_normal_log2(self) -> Optional[int]:
        """min_normal = 2^(1 - bias) (floats)."""
        return None if self.exponent_bias is None else 1 - self.exponent_bias

    @property
    def min_subnormal_log2(self) -> Optional[int]:
        """min_subnormal = 2^(1 - bias - fraction_bits) (floats)."""
        return None if self.exponent_bias is None else 1 - self.exponent_bias - self.fraction_bits

    @property
    def epsilon_log2(self) -> Optional[int]:
        """epsilon = 2^-fraction_bits (floats)."""
        return None if self.exponent_bias is None else -self.fraction_bits


class DtypeTable(BaseModel):
    """`llm-budget dtype`: range and precision of every format."""

    model_config = ConfigDict(frozen=True)

    formats: list[FormatInfo]
