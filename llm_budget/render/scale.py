"""Rich output for `llm-budget scale`: the budget, every fit's optimum, the iso-FLOP curve as a
small text plot with the optimum marked, and the presets near it."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from llm_budget.compute import ScalePlan
from llm_budget.refs import describe
from llm_budget.render import fit_table, si
from llm_budget.render.compute import duration, sci, usd

PLOT_HEIGHT = 12
OPTIMUM, FIXED, CURVE = "◆", "■", "•"
PRESET_MARKS = "abcdefghij"


def scale_report(plan: ScalePlan, *, explain: bool = False) -> Group:
    parts: list[Any] = [_budget(plan), _fits_table(plan, explain=explain)]
    if plan.fixed is not None:
        parts.append(_fixed(plan))
    parts.append(iso_flop_plot(plan))
    if plan.nearby:
        parts.append(_nearby_table(plan))
    for note in plan.notes:
        parts.append(Text(f"Note: {note}", style="yellow"))
    if explain:
        text = Text("Sources:\n", style="bold")
        for key in dict.fromkeys([o.source for o in plan.fits] + [plan.loss_law.source]):
            text.append(f"  {describe(key)}\n", style="dim")
        parts.append(text)
    return Group(*parts)


def _budget(plan: ScalePlan) -> Text:
    b = plan.budget
    line = Text(f"Budget: {sci(b.flops)} FLOPs", style="bold")
    if b.gpu_display_name is not None:
        assert b.gpu_hours is not None and b.mfu is not None
        who = f"{b.n_gpus:,} × " if b.n_gpus else ""
        line.append(f" = {who}{b.gpu_display_name} at {b.peak_tflops:g} TFLOPS ({b.precision}) × {b.mfu:.0%} MFU")
        if b.days is not None:
            line.append(f" × {duration(b.days * 86400)}")
        line.append(f"; {b.gpu_hours:,.0f} GPU-hours")
        if b.cost_usd is not None:
            line.append(f", {usd(b.cost_usd)} at {usd(b.price_usd_per_gpu_hour)}/GPU-hour")
        if b.price_source and b.price_source != "--price":
            line.append(f" ({b.price_source})", style="dim")
    return line


def _fits_table(plan: ScalePlan, *, explain: bool) -> Table:
    table = fit_table(title="Compute-optimal model size and tokens (C = 6·N·D)", title_justify="left")
    for col, just in (
        ("Fit", "left"),
        ("Parameters", "right"),
        ("Tokens", "right"),
        ("Tokens/param", "right"),
        ("Loss (Hoffmann)", "right"),
        ("Loss (Epoch)", "right"),
    ):
        table.add_column(col, justify=just, no_wrap=col != "Fit")  # type: ignore[arg-type]
    if explain:
        table.add_column("Formula and source")
    for o in plan.fits:
        style = "bold" if o.fit == plan.fit else "dim"
        row: list[Any] = [
            Text(("▶ " if o.fit == plan.fit else "  ") + f"{o.fit}: {o.label}", style=style),
            Text(si(o.params), style=style),
            Text(si(o.tokens), style=style),
            Text(f"{o.tokens_per_param:.1f}", style=style),
            Text(f"{o.loss_approach3:.3f}", style=style),
            Text(f"{o.loss_epoch:.3f}", style=style),
        ]
        if explain:
            row.append(f"{o.formula}\n{describe(o.source)}")
        table.add_row(*row)
    return table


def _fixed(plan: ScalePlan) -> Text:
    f = plan.fixed
    assert f is not None
    line = Text(f"Fixed size {si(f.params)}: ", style="bold")
    line.append(
        f"this budget buys {si(f.tokens)} tokens ({f.tokens_per_param:,.1f} per parameter); predicted loss {f.loss:.3f} "
        f"vs {f.loss_at_optimum:.3f} at the optimum, +{f.loss_gap:.3f} under the {plan.loss_law.label} law. "
    )
    line.append(
        f"{si(f.params)} is compute-optimal ({plan.fit}) at {sci(f.optimal_flops)} FLOPs on {si(f.optimal_tokens)} tokens.",
        style="dim",
    )
    return line


def iso_flop_plot(plan: ScalePlan, *, height: int = PLOT_HEIGHT) -> Text:
    """Loss against log N at the budget, one column per curve point; ◆ optimum, ■ fixed size, letters: presets."""
    points = plan.iso_flop
    losses = [p.loss for p in points]
    y_min, y_max = min(losses), max(losses)
    span = (y_max - y_min) or 1.0
    grid = _plot_grid(plan, height=height, y_max=y_max, span=span)
    text = Text()
    text.append(
        f"Iso-FLOP curve at {sci(plan.budget.flops)} FLOPs: loss L(N, C/6N) under the {plan.loss_law.label} law\n",
        style="bold",
    )
    label_w = 7
    for r in range(height):
        value = y_max - span * r / (height - 1)
        label = f"{value:.3f}" if r in (0, height // 2, height - 1) else ""
        text.append(f"{label:>{label_w}} ┤" if label else f"{'':>{label_w}} │", style="dim")
        for symbol, style in grid[r]:
            text.append(symbol, style=style)
        text.append("\n")
    text.append(" " * label_w + " └" + "─" * len(points) + "\n", style="dim")
    text.append(" " * (label_w + 2) + _x_axis(plan) + "  parameters (log scale)\n", style="dim")
    text.append_text(_legend(plan))
    return text


def _plot_grid(plan: ScalePlan, *, height: int, y_max: float, span: float) -> list[list[tuple[str, str]]]:
    """The plot's cells (symbol, style): the curve, then the presets, the fixed size and the optimum on it."""
    points = plan.iso_flop
    width = len(points)
    lo_n, hi_n = math.log(points[0].params), math.log(points[-1].params)

    def row_of(value: float) -> int:
        r = round((y_max - value) / span * (height - 1))
        return min(max(r, 0), height - 1)

    def col_of(n: float) -> int | None:
        c = round((math.log(n) - lo_n) / (hi_n - lo_n) * (width - 1))
        return c if 0 <= c < width else None

    grid: list[list[tuple[str, str]]] = [[(" ", "")] * width for _ in range(height)]
    for c, p in enumerate(points):
        grid[row_of(p.loss)][c] = (CURVE, "cyan")
    marks: list[tuple[float, float, str, str]] = []  # (N, loss on the curve, symbol, style)
    for i, m in enumerate(plan.nearby[: len(PRESET_MARKS)]):
        marks.append((m.params, m.loss, PRESET_MARKS[i], "magenta"))
    if plan.fixed is not None:
        marks.append((plan.fixed.params, plan.fixed.loss, FIXED, "bold yellow"))
    marks.append((plan.optimum.params, plan.optimum_loss, OPTIMUM, "bold green"))
    for n, mark_loss, symbol, style in marks:  # the optimum is drawn last and wins its cell
        col = col_of(n)
        if col is None:
            continue
        r = row_of(mark_loss)
        while r > 0 and grid[r][col][0] not in (" ", CURVE) and symbol != OPTIMUM:
            r -= 1  # a preset on the same cell as another mark goes one row up
        grid[r][col] = (symbol, style)
    return grid


def _x_axis(plan: ScalePlan) -> str:
    """Five parameter counts under the plot, each centred on its column."""
    points = plan.iso_flop
    width = len(points)
    axis = [" "] * (width + 12)
    for c in [0, width // 4, width // 2, 3 * width // 4, width - 1]:
        s = si(points[c].params)
        start = min(max(c - len(s) // 2, 0), len(axis) - len(s))
        axis[start : start + len(s)] = list(s)
    return "".join(axis).rstrip()


def _legend(plan: ScalePlan) -> Text:
    legend = Text()
    legend.append(f"{OPTIMUM} optimum ({plan.fit}: {si(plan.optimum.params)})", style="bold green")
    if plan.fixed is not None:
        legend.append(f"   {FIXED} fixed size {si(plan.fixed.params)}", style="bold yellow")
    if plan.nearby:
        legend.append("   letters: presets below", style="magenta")
    return legend


def _nearby_table(plan: ScalePlan) -> Table:
    table = fit_table(
        title=f"Presets near the optimum (dense, within 3× of {si(plan.optimum.params)})", title_justify="left"
    )
    for col, just in (
        ("", "left"),
        ("Preset", "left"),
        ("Parameters", "right"),
        ("× optimum", "right"),
        ("Tokens at this budget", "right"),
        ("Tokens/param", "right"),
        ("Loss", "right"),
    ):
        table.add_column(col, justify=just, no_wrap=just == "right")  # type: ignore[arg-type]
    for i, m in enumerate(plan.nearby):
        table.add_row(
            Text(PRESET_MARKS[i] if i < len(PRESET_MARKS) else "", style="magenta"),
            f"{m.name} ({m.display_name})",
            f"{m.params:,}",
            f"{m.ratio_to_optimum:.2f}",
            si(m.tokens),
            f"{m.tokens_per_param:.1f}",
            f"{m.loss:.3f}",
        )
    return table
