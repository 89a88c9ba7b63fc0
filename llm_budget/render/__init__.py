"""Results -> rich renderables, one module per command. The only place numbers become strings
for a table (JSON output is the result models' own `model_dump_json`, or serialize.py).

Calculators return pydantic results with exact integers; these modules decide how they
look (thousands separators, GB vs GiB, percentages) and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.table import Table


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
        if abs(float(f"{n:.3g}")) >= div:  # 999,885,952 rounds to 1.00B, not "1e+03M"
            return f"{n / div:.3g}{suffix}{unit}"
    return f"{n:g}{unit}"


def fit_table(*args: Any, **kwargs: Any) -> Table:
    """A rich Table (same arguments) that never cuts a `no_wrap` column: mark the names a user types and the
    numbers no_wrap, leave prose wrapping. Where the no_wrap columns and the longest word of every other
    column do not fit the width, each row is printed as a record instead: its first cell, then
    "Header value" pairs that wrap at spaces. Prose columns fold a word longer than themselves, never "…"."""
    from rich.table import Table

    class FitTable(Table):
        def add_column(self, *args: Any, **kwargs: Any) -> None:
            # A word longer than its wrapping column folds onto the next line instead of ending in "…".
            kwargs.setdefault("overflow", "ellipsis" if kwargs.get("no_wrap") else "fold")
            super().add_column(*args, **kwargs)

        def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
            width = options.max_width if self.width is None else self.width
            if _needed_width(self, console, options) <= width:
                yield from super().__rich_console__(console, options)
            else:
                yield _stacked(self)

    return FitTable(*args, **kwargs)


def _needed_width(table: Table, console: Console, options: ConsoleOptions) -> int:
    """The width at which rich cuts nothing: no_wrap columns whole, others at their longest word."""
    wide = options.update_width(10**6)
    need = table._extra_width
    for column in table.columns:
        m = table._measure_column(console, wide, column)
        need += m.maximum if column.no_wrap else m.minimum
    return need


def _stacked(table: Table) -> RenderableType:
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    columns = table.columns
    cells = [list(c.cells) for c in columns]
    out: list[RenderableType] = []
    if table.title:
        out.append(Text.from_markup(table.title) if isinstance(table.title, str) else table.title)

    def record(values: list[Any]) -> None:
        first, *rest = values
        if first not in ("", None):
            out.append(first if not isinstance(first, str) else Text(first, style="bold"))
        line = Text()
        for column, value in zip(columns[1:], rest):
            if value in ("", None):
                continue
            if line:
                line.append(" · ")
            header = column.header if isinstance(column.header, (str, Text)) else str(column.header)
            if header:
                line.append(Text(header, style="dim") if isinstance(header, str) else header)
                line.append(" ")
            # A cell of several lines (a list of names) reads as one comma-separated run here.
            line.append(value if isinstance(value, Text) else Text(str(value).replace("\n", ", ")))
        if line:
            out.append(Padding(line, (0, 0, 0, 2)))

    for i in range(len(cells[0]) if cells else 0):
        record([c[i] for c in cells])
    if table.show_footer:
        record([c.footer for c in columns])
    if table.caption:
        out.append(table.caption)
    return Group(*out)
