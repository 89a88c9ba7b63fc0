"""Two's-complement integers (jacob2018) and absmax scaling (dettmers2022a)."""

from __future__ import annotations

from llm_budget.hardware import FORMATS, Precision
from llm_budget.refs import cite

INT_PRECISIONS: tuple[Precision, ...] = tuple(p for p in Precision if p.is_integer)

INT_SOURCE = cite("jacob2018: §2.1 quantization scheme")
ABSMAX_SOURCE = cite("dettmers2022a: §2, Eq. 1")


def int_range(p: Precision) -> tuple[int, int]:
    """Two's-complement range: -2^(bits-1) .. 2^(bits-1) - 1 (jacob2018)."""
    b = FORMATS[p].bits
    return -(2 ** (b - 1)), 2 ** (b - 1) - 1


def twos_complement(q: int, bits: int) -> str:
    """The bits of q in two's complement, most significant first."""
    return format(q & (2**bits - 1), f"0{bits}b")
