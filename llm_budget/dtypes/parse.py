"""Numbers as typed: parsed exactly (Decimal -> Fraction), never through a double."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import NamedTuple

from llm_budget.errors import LLMBudgetError

MAX_EXPONENT = 1_000  # |decimal exponent| accepted on input; every format over/underflows long before
MAX_DIGITS = 1_000  # significant digits accepted on input (keeps exact decimals within Python's int-to-str limit)

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
        f = _parse_fraction(s, text, what)
        return Parsed(f, f < 0)
    if not d.is_finite():
        raise LLMBudgetError(
            f"{what} '{text}' is not finite: give a finite number (the range table, `llm-budget dtype`, shows each format's inf/NaN)"
        )
    if d and abs(d.adjusted()) > MAX_EXPONENT:
        raise LLMBudgetError(f"{what} '{text}' is out of range: the decimal exponent must be within ±{MAX_EXPONENT:,}")
    if len(d.as_tuple().digits) > MAX_DIGITS:
        raise LLMBudgetError(f"{what} '{text[:20]}…' has more than {MAX_DIGITS:,} digits")
    return Parsed(Fraction(d), d.is_signed())


def _parse_fraction(s: str, text: str, what: str) -> Fraction:
    """'p/q' with at most MAX_DIGITS digits on each side."""
    try:
        if "/" not in s:
            raise ValueError
        f = Fraction(s)
        if max(len(str(f.numerator)), len(str(f.denominator))) > MAX_DIGITS:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise LLMBudgetError(f"{what} '{text}' is not a number (examples: 3.141592, -1e-8, 65504, 1/3)") from None
    return f


def parse_absmax(text: str) -> Fraction:
    """--absmax: the largest magnitude in the tensor (block); must be finite and positive."""
    v = parse_number(text, what="--absmax").value
    if v <= 0:
        raise LLMBudgetError(f"--absmax must be positive (the largest magnitude in the tensor), got '{text}'")
    return v
