"""Rich output for `llm-budget memory`: the breakdown table, a stacked bar, phases and assumptions."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from llm_budget.frameworks import FrameworkApplied
from llm_budget.memory import MemoryReport, TrainSettings
from llm_budget.memory.report import TRAIN_COMPONENTS, Component
from llm_budget.refs import listing, short
from llm_budget.render import fit_table
from llm_budget.units import MemoryUnit, format_bytes

COLORS = [
    "cyan",
    "magenta",
    "yellow",
    "green",
    "blue",
    "red",
    "bright_cyan",
    "bright_magenta",
    "bright_yellow",
    "white",
]


def amount(n: int, unit: MemoryUnit) -> str:
    return format_bytes(n, unit)


def stacked_bar(parts: list[tuple[str, int]], total: int, *, width: int = 60, capacity: int | None = None) -> Text:
    """One line of colored blocks, each part's share; with `capacity`, the card's line is drawn as ┃
    (parts past it overflow to its right) and free memory as ░."""
    scale = max(total, capacity or 0) or 1
    cells: list[tuple[str, str]] = []
    for i, (_, n) in enumerate(parts):
        k = max(round(n / scale * width), 1 if n else 0)
        cells += [("█", COLORS[i % len(COLORS)])] * k
    if capacity:
        cap = min(round(capacity / scale * width), width)
        cells += [("░", "dim")] * max(cap - len(cells), 0)
        cells.insert(cap, ("┃", "bold red"))
    bar = Text()
    for ch, style in cells:
        bar.append(ch, style=style)
    return bar


def legend(parts: list[tuple[str, int]]) -> Text:
    t = Text()
    for i, (name, _) in enumerate(parts):
        t.append("■ ", style=COLORS[i % len(COLORS)])
        t.append(name + "  ")
    return t


def memory_view(report: MemoryReport, *, unit: MemoryUnit, explain: bool = False) -> Group:
    title = {
        "rule-of-thumb": f"{report.model} at {report.precision.upper()}: the lecture's rule of thumb",
        "train": f"{report.model}: training step peak, {report.precision} {report.recipe}",
        "infer": f"{report.model}: serving at {report.precision}",
    }[report.mode]
    if report.mode == "infer" and report.components and report.components[0].name.startswith("Weights (checkpoint"):
        title = f"{report.model}: serving the checkpoint as stored"  # its scheme is in the weights line
    table = fit_table(title=title, title_justify="left", show_footer=True)
    table.add_column("Component", footer="Total" if report.mode != "rule-of-thumb" else "Total to train")
    table.add_column("Bytes/param", justify="right", footer=_bpp(report.total_bytes, report.params), no_wrap=True)
    table.add_column(unit.label, justify="right", footer=amount(report.total_bytes, unit), no_wrap=True)
    table.add_column("Share", justify="right", footer="100%", no_wrap=True)
    if explain:
        table.add_column("Formula")
        table.add_column("Source")
    shown = [c for c in report.components if not _rounds_to_zero(c.bytes, unit)]
    hidden = [c for c in report.components if _rounds_to_zero(c.bytes, unit)]
    absent = _states_not_live(report)
    rows: list[tuple[str, list[Any]]] = []
    for line in shown:
        row: list[Any] = [
            line.name,
            f"{line.bytes_per_param:g}" if line.bytes_per_param is not None else "",
            amount(line.bytes, unit),
            f"{100 * line.bytes / report.total_bytes:.1f}%" if report.total_bytes else "",
        ]
        if explain:
            row += [line.formula, short(line.source) if line.source else ""]
        rows.append((line.name, row))
    for name, _ in absent:
        row = [Text(name, style="dim"), "", Text("0 at the peak", style="dim"), ""]
        rows.append((name, row + ["", ""] if explain else row))
    # In the timeline's order (model states first), a state that is not live at the peak included.
    order = {name: i for i, name in enumerate(TRAIN_COMPONENTS)} if report.mode == "train" else {}
    for _, row in sorted(rows, key=lambda r: order.get(r[0], len(order))):
        table.add_row(*row)
    parts = [(c.name, c.bytes) for c in shown]
    out: list[Any] = [table, stacked_bar(parts, report.total_bytes), legend(parts)]
    for name, n in absent:
        out.append(
            Text(
                f"{name}: {amount(n, unit)} ({n / report.params:.3g} bytes/param) while they exist; "
                f"none is live at the peak ({report.peak_phase}), so the total leaves them out.",
                style="dim",
            )
        )
    if hidden:
        small = "; ".join(f"{c.name} {c.bytes:,} bytes" for c in hidden)
        out.append(Text(f"Not in the table (0.00 {unit.label} when rounded): {small}.", style="dim"))
    if report.mode == "rule-of-thumb":
        store = report.phases[0].bytes
        out.append(
            Text(
                f"To store: {amount(store, unit)} ({report.components[0].bytes_per_param:g} bytes/param). "
                f"To train: {amount(report.total_bytes, unit)} ({report.total_bytes / report.params:g} bytes/param).",
                style="bold",
            )
        )
    if report.framework is not None:
        out.append(Text(framework_line(report), style="dim"))
        if explain:
            for setting in report.framework.settings:
                out.append(Text(f"  {setting.option} {setting.value}: {setting.source}", style="dim"))
    if report.convention:
        out.append(Text(f"Model states: {report.convention}", style="dim"))
    if report.mode == "train":
        out.append(Text(f"Peak during: {report.peak_phase}", style="bold"))
        if explain:
            phases = Table(title="Live bytes at each point of the step", title_justify="left")
            phases.add_column("Point")
            phases.add_column(unit.label, justify="right")
            for p in report.phases:
                phases.add_row(p.name, amount(p.bytes, unit))
            out.append(phases)
    out += _layout_lines(report, unit)
    if explain:
        out.append(Text("Sources:", style="bold"))
        for ref in listing([c.source for c in report.components]):
            out.append(Text(f"  {ref}", style="dim"))
    out.append(Text("Assumptions:", style="bold"))
    for a in report.assumptions + _card_assumptions(report):
        out.append(Text(f"  • {a}", style="dim"))
    return Group(*out)


def _layout_lines(report: MemoryReport, unit: MemoryUnit) -> list[Text]:
    """The layout, the host RAM an offload needs, and what the card will show."""
    out = []
    lay = report.layout
    if lay is not None and (lay.gpus > 1 or lay.offload != "none" or lay.optimizer_in_backward):
        extras = [f"offload {lay.offload}"] if lay.offload != "none" else []
        extras += ["optimizer in backward"] if lay.optimizer_in_backward else []
        out.append(
            Text(
                f"Layout: {lay.gpus} GPU(s) = dp {lay.dp} ({lay.sharding}) × tp {lay.tp}"
                f"{' + sequence parallel' if lay.sequence_parallel else ''} × pp {lay.pp}"
                f"{', ' + ', '.join(extras) if extras else ''}; per-GPU rows: {lay.peak_rank}.",
                style="bold",
            )
        )
    host = report.host
    if host is not None:
        verdict = ""
        if host.available_bytes is not None:
            verdict = f" of {amount(host.available_bytes, unit)}: " + ("fits" if host.fits else "does NOT fit")
        out.append(
            Text(
                f"Host RAM: {amount(host.per_gpu_bytes, unit)} per GPU, {amount(host.per_node_bytes, unit)} per node "
                f"({host.ranks_per_node} ranks){verdict}",
                style="bold",
            )
        )
    card = report.card
    if card is not None:
        out.append(
            Text(
                f"On the card: {amount(card.allocated_bytes, unit)} allocated (max_memory_allocated), "
                f"≈{amount(card.reserved_bytes, unit)} reserved (max_memory_reserved), "
                f"≈{amount(card.nvidia_smi_bytes, unit)} in nvidia-smi (with the CUDA context)",
                style="bold",
            )
        )
    return out


def framework_line(report: MemoryReport) -> str:
    """'Framework litgpt (...) set: --recipe mixed, --loss chunked' (its sources with --explain)."""
    assert report.framework is not None
    return framework_settings_line(report.framework)


def framework_settings_line(fw: FrameworkApplied) -> str:
    set_ = ", ".join(f"{s.option} {s.value}" for s in fw.settings) or "nothing (every option it sets was given)"
    return f"Framework {fw.name} ({fw.title}) set: {set_}"


def _card_assumptions(report: MemoryReport) -> list[str]:
    return [report.card.reserved_assumption, report.card.nvidia_smi_assumption] if report.card else []


def _rounds_to_zero(n: int, unit: MemoryUnit) -> bool:
    """A row the table would print as 0.00 in this unit (a row of exactly 0 bytes, too)."""
    return amount(n, unit) == amount(0, unit)


def _states_not_live(report: MemoryReport) -> list[tuple[str, int]]:
    """Model states the convention counts (weights, gradients, optimizer states) that hold no bytes at the
    training peak (gradients before backward has made them, say): each with its size while it exists."""
    s = report.settings
    if report.mode != "train" or not isinstance(s, TrainSettings):
        return []
    live = {c.name for c in report.components if c.bytes}
    states = [
        (Component.weights, s.weight_bytes),
        (Component.gradients, s.gradient_bytes),
        (Component.optimizer, s.optimizer_state_bytes),
    ]
    return [(name, n) for name, n in states if n and name not in live]


def _bpp(n: int, params: int) -> str:
    return f"{n / params:.3g}" if params else ""
