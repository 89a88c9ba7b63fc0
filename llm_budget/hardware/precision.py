"""Number formats: how many bits a value takes and how those bits are laid out.

Sizes are held as bits and turned into bytes with integer arithmetic,
bytes_for(n, p) = ceil(n · bits / 8), so 4-bit formats never round to zero bytes.
Float layouts follow IEEE 754-2008 (binary32, binary16), Google's bfloat16, and the
OCP 8-bit floating point spec (Micikevicius et al. 2022: E4M3 without infinities, E5M2).
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple, Optional

from llm_budget.errors import LLMBudgetError


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
    fp8_e4m3 = "fp8-e4m3"
    fp8_e5m2 = "fp8-e5m2"
    int8 = "int8"
    int4 = "int4"
    nf4 = "nf4"

    @property
    def bits(self) -> int:
        return FORMATS[self].bits

    @property
    def is_float(self) -> bool:
        return FORMATS[self].exponent_bits > 0

    @property
    def label(self) -> str:
        return self.value.upper()


class Format(NamedTuple):
    bits: int
    exponent_bits: int  # 0 for integer and lookup formats
    fraction_bits: int
    has_inf: bool
    description: str
    source: str


FORMATS: dict[Precision, Format] = {
    Precision.fp32: Format(32, 8, 23, True, "IEEE 754 binary32", "ieee754"),
    Precision.fp16: Format(16, 5, 10, True, "IEEE 754 binary16", "ieee754"),
    Precision.bf16: Format(16, 8, 7, True, "bfloat16: binary32's exponent, 7 fraction bits", "bfloat16"),
    Precision.fp8_e4m3: Format(8, 4, 3, False, "OCP FP8 E4M3 (no infinities; S.1111.111 is NaN)", "micikevicius2022"),
    Precision.fp8_e5m2: Format(8, 5, 2, True, "OCP FP8 E5M2 (IEEE-like)", "micikevicius2022"),
    Precision.int8: Format(8, 0, 7, False, "two's-complement integer, -128..127", "jacob2018"),
    Precision.int4: Format(4, 0, 3, False, "two's-complement integer, -8..7", "jacob2018"),
    Precision.nf4: Format(4, 0, 0, False, "4-bit NormalFloat: 16 levels built from N(0,1) quantiles with an exact zero, absmax-scaled per block", "dettmers2023"),
}

ALIASES = {
    "float32": Precision.fp32,
    "fp32": Precision.fp32,
    "float16": Precision.fp16,
    "half": Precision.fp16,
    "fp16": Precision.fp16,
    "bfloat16": Precision.bf16,
    "bf16": Precision.bf16,
    "fp8": Precision.fp8_e4m3,
    "e4m3": Precision.fp8_e4m3,
    "fp8-e4m3": Precision.fp8_e4m3,
    "fp8_e4m3": Precision.fp8_e4m3,
    "e5m2": Precision.fp8_e5m2,
    "fp8-e5m2": Precision.fp8_e5m2,
    "fp8_e5m2": Precision.fp8_e5m2,
    "int8": Precision.int8,
    "int4": Precision.int4,
    "nf4": Precision.nf4,
}


def parse_precision(name: str, *, what: str = "precision") -> Precision:
    p = ALIASES.get(name.strip().lower())
    if p is None:
        raise LLMBudgetError(f"unknown {what} '{name}'; known: {', '.join(x.value for x in Precision)}")
    return p


def bytes_for(n: int, precision: Precision) -> int:
    """Bytes to hold n values: ceil(n · bits / 8)."""
    return (n * precision.bits + 7) // 8


def float_limits(p: Precision) -> Optional[dict[str, float]]:
    """Largest finite value, smallest normal, smallest subnormal, machine epsilon (2^-fraction_bits)."""
    f = FORMATS[p]
    if f.exponent_bits == 0:
        return None
    bias = 2 ** (f.exponent_bits - 1) - 1
    e_max = 2**f.exponent_bits - 2 - bias  # the all-ones exponent is inf/NaN ...
    if not f.has_inf:
        # ... except in E4M3, where only S.1111.111 is NaN: the top binade keeps 7 of 8 codes.
        e_max += 1
        largest = (2 - 2 ** -(f.fraction_bits - 1)) * 2.0**e_max
    else:
        largest = (2 - 2.0**-f.fraction_bits) * 2.0**e_max
    return {
        "max": largest,
        "min_normal": 2.0 ** (1 - bias),
        "min_subnormal": 2.0 ** (1 - bias - f.fraction_bits),
        "epsilon": 2.0**-f.fraction_bits,
    }
