"""Exact decimal strings of rationals: every binary value has a terminating expansion."""

from __future__ import annotations

from fractions import Fraction


def exact_decimal(x: Fraction, *, digits: int = 40) -> str:
    """The decimal expansion of x: exact when it terminates (always for binary formats: the
    denominator is a power of two), else rounded to `digits` significant digits with a trailing '…'.

    Positional notation for 1e-6 ≤ |x| < 1e21, scientific ('3.4028…e+38', '1e-7') outside.
    """
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mant, exp10, suffix = _decimal_digits(abs(x), digits)
    s = str(mant)
    stripped = s.rstrip("0")
    exp10 += len(s) - len(stripped)
    return sign + _place_point(stripped, exp10) + suffix


def _decimal_digits(x: Fraction, digits: int) -> tuple[int, int, str]:
    """x = mant · 10^exp10 exactly (suffix ''), or rounded half to even to `digits` digits ('…')."""
    n, d = x.numerator, x.denominator
    twos = fives = 0
    rest = d
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest == 1:
        k = max(twos, fives)
        return n * 10**k // d, -k, ""  # exact: d divides 10^k
    # Scale so the integer part has `digits` digits, then round half to even.
    shift = digits - 1 - _floor_log10(x)
    return round(x * Fraction(10) ** shift), -shift, "…"


def _place_point(s: str, exp10: int) -> str:
    """The digits s times 10^exp10, positional for adjusted exponents -6..20, else scientific."""
    adjusted = len(s) - 1 + exp10
    if not -6 <= adjusted < 21:
        return s[0] + ("." + s[1:] if len(s) > 1 else "") + f"e{adjusted:+d}"
    if exp10 >= 0:
        return s + "0" * exp10
    if -exp10 >= len(s):
        return "0." + "0" * (-exp10 - len(s)) + s
    return s[:exp10] + "." + s[exp10:]


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
