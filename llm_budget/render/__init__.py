"""Results -> rich renderables, one module per command. The only place numbers become strings
for a table (JSON output is the result models' own `model_dump_json`, or serialize.py).

Calculators return pydantic results with exact integers; these modules decide how they
look (thousands separators, GB vs GiB, percentages) and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def console() -> Console:
    """stdout console. COLUMNS set to a positive width: that width. COLUMNS set to 0, a negative number or
    something else: 80 columns (rich would print nothing at width 0). Unset: the terminal's width, or, when
    piped, 160 columns so that tables do not wrap (rich would assume 80)."""
    import os

    from rich.console import Console

    # No emoji or auto-highlighting: numbers are styled explicitly, and both cost start-up time.
    columns = os.environ.get("COLUMNS")
    if columns is not None:
        return Console(width=columns_width(columns), emoji=False, highlight=False)
    c = Console(emoji=False, highlight=False)
    return c if c.is_terminal else Console(width=160, emoji=False, highlight=False)


FALLBACK_WIDTH = 80
"""The width when COLUMNS is 0, negative or not a number."""


def columns_width(text: str) -> int:
    try:
        width = int(text.strip())
    except ValueError:
        return FALLBACK_WIDTH
    return width if width > 0 else FALLBACK_WIDTH


def si(n: float, unit: str = "") -> str:
    """7.24e9 -> '7.24B' (SI, powers of 1000: counts are never binary)."""
    for div, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}{unit}"
    return f"{n:g}{unit}"
