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
    """stdout console; when piped, wide enough that tables do not wrap (rich would assume 80 columns)."""
    import os

    from rich.console import Console

    # No emoji or auto-highlighting: numbers are styled explicitly, and both cost start-up time.
    c = Console(emoji=False, highlight=False)
    return c if c.is_terminal or "COLUMNS" in os.environ else Console(width=160, emoji=False, highlight=False)


def si(n: float, unit: str = "") -> str:
    """7.24e9 -> '7.24B' (SI, powers of 1000: counts are never binary)."""
    for div, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}{unit}"
    return f"{n:g}{unit}"
