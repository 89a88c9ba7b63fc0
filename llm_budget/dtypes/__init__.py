"""How each number format stores a value, bit by bit, with exact arithmetic (`llm-budget dtype`).

Everything here works on `fractions.Fraction` and integers: a number typed on the command
line is parsed exactly (`3.141592` is 3141592/10^6, not the nearest double), rounded once to
the target format, and the stored value is given as an exact decimal. No numpy, no float
casts: the tests cross-check this package against `struct`, numpy and PyTorch instead.

Formats (one row each in `llm_budget.hardware.Precision`):

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

Modules: parse (numbers as typed), decimals (exact decimal strings), floats (float codes,
rounding), integers (two's complement), nf4 (the codebook), encode (one number in every
format), table (the range table), results (the pydantic results).

The package's public names; other packages import them from here, never from its modules.
"""

from llm_budget.dtypes.decimals import exact_decimal, fraction_str
from llm_budget.dtypes.encode import encode_absmax, encode_float, encode_int, encode_nf4, encode_number
from llm_budget.dtypes.floats import (
    FLOAT_PRECISIONS,
    FloatCode,
    decode,
    layout,
    max_finite,
    round_float,
    special,
)
from llm_budget.dtypes.integers import INT_PRECISIONS, int_range
from llm_budget.dtypes.nf4 import NF4_BLOCK, NF4_CODES, NF4_SOURCE, nf4_index
from llm_budget.dtypes.parse import MAX_DIGITS, MAX_EXPONENT, Parsed, parse_absmax, parse_number
from llm_budget.dtypes.results import DtypeTable, Encoding, FormatInfo, NumberEncodings, Scheme, Status
from llm_budget.dtypes.table import dtype_table, format_info
from llm_budget.hardware import FloatLayout

__all__ = [
    "decode",
    "dtype_table",
    "DtypeTable",
    "encode_absmax",
    "encode_float",
    "encode_int",
    "encode_nf4",
    "encode_number",
    "Encoding",
    "exact_decimal",
    "FLOAT_PRECISIONS",
    "FloatCode",
    "FloatLayout",
    "format_info",
    "FormatInfo",
    "fraction_str",
    "INT_PRECISIONS",
    "int_range",
    "layout",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "max_finite",
    "NF4_BLOCK",
    "NF4_CODES",
    "nf4_index",
    "NF4_SOURCE",
    "NumberEncodings",
    "parse_absmax",
    "parse_number",
    "Parsed",
    "round_float",
    "Scheme",
    "special",
    "Status",
]
