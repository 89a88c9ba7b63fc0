"""The NF4 codebook (dettmers2023): 16 levels from N(0, 1) quantiles with an exact zero."""

from __future__ import annotations

from fractions import Fraction

from llm_budget.refs import cite

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
NF4_ZERO = NF4_CODES.index(0.0)  # the index of the exact zero (7)


def nf4_index(y: Fraction) -> int:
    """Index of the NF4 level nearest to y = x / absmax (y is clamped to [-1, 1] by the search);
    at an exact midpoint the lower level wins, as bitsandbytes' `x > midpoint` comparisons do."""
    levels = [Fraction(c) for c in NF4_CODES]
    best = 0
    for i in range(1, len(levels)):
        if y > (levels[i - 1] + levels[i]) / 2:
            best = i
    return best
