"""The rich view of `llm-budget oom`: the figures (as printed, in GiB, in exact bytes), a bar of the card,
the diagnosis, the findings and what to do. The sentences come from render/oom_text.py; rich is imported
inside the view functions, so that importing this module for `oom_json` never loads it."""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING, Any, Optional

from llm_budget.oom import OomReport, format_size
from llm_budget.refs import describe
from llm_budget.render import fit_table
from llm_budget.render.flags import as_flags
from llm_budget.render.oom_text import (
    BAR_WIDTH,
    PARTS,
    ROUNDING_NOTE,
    STYLE,
    WORDING,
    alloc_conf,
    finding_text,
    headline,
    oom_json,
    recommendation_text,
)
from llm_budget.units import GiB, MemoryUnit, MiB, format_bytes

if TYPE_CHECKING:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

__all__ = ["oom_json", "oom_view", "headline", "finding_text", "recommendation_text", "alloc_conf"]


def _g(n: Optional[int]) -> str:
    return "–" if n is None else f"{n / GiB:,.2f}"


def _b(n: Optional[int]) -> str:
    return "–" if n is None else f"{n:,}"


def _share(n: Optional[int], total: int) -> str:
    if n is None or not total:
        return "–"
    p = 100 * n / total
    return "100%" if abs(p - 100) < 0.05 else f"{p:.1f}%"


def _tol(n: int) -> str:
    """±tolerance, in the unit that reads best."""
    return f"±{n / GiB:.3f} GiB" if n >= 64 * MiB else f"±{n / MiB:.2f} MiB" if n >= 1024 else f"±{n} B"


def bar_cells(parts: list[int], width: int = BAR_WIDTH) -> list[int]:
    """Cells per part, summing to `width`; every non-zero part gets at least one cell (largest remainder)."""
    total = sum(parts) or 1
    exact = [p * width / total for p in parts]
    cells = [int(x) for x in exact]
    for i in sorted(range(len(parts)), key=lambda i: exact[i] - cells[i], reverse=True)[: width - sum(cells)]:
        cells[i] += 1
    for i, p in enumerate(parts):
        if p > 0 and cells[i] == 0:
            j = max(range(len(cells)), key=lambda j: cells[j])
            cells[j] -= 1
            cells[i] = 1
    return cells


def card_bar(r: OomReport) -> Optional[Group]:
    """allocated / reserved-unallocated / outside PyTorch / free across the card; the request below it."""
    from rich.console import Group
    from rich.text import Text

    if r.allocated_bytes is None or r.reserved_unallocated_bytes is None:
        return None
    values = [r.allocated_bytes, r.reserved_unallocated_bytes, r.non_pytorch_bytes or 0, r.free_bytes]
    cells = bar_cells(values)
    bar = Text("card    ")
    for (_label, style), k in zip(PARTS, cells):
        bar.append("█" * k, style=style)
    bar.append(f"  {format_size(r.total_capacity_bytes)}")
    legend = Text("        ")
    for (label, style), v in zip(PARTS, values):
        if label == "outside PyTorch" and r.non_pytorch_bytes is None:
            continue
        legend.append("■ ", style=style)
        legend.append(f"{label} {format_bytes(v, MemoryUnit.gib)}  ")
    scale = max(sum(values), 1)
    req_cells = max(round(r.tried_to_allocate_bytes / scale * BAR_WIDTH), 1)
    request = Text("request ")
    if req_cells > BAR_WIDTH:
        request.append("█" * BAR_WIDTH + "▶", style="bold red")
    else:
        request.append("█" * req_cells, style="bold red")
    short = f": {format_size(r.shortfall_bytes)} short" if r.shortfall_bytes else ""
    request.append(f"  {format_size(r.tried_to_allocate_bytes)} (free {format_size(r.free_bytes)}{short})")
    return Group(bar, legend, request)


def _candidates(r: OomReport) -> str:
    if not r.gpu_candidates:
        return f"Card: {format_size(r.total_capacity_bytes)}, no catalog GPU within 1 GiB above it"
    groups = []
    for (mem, exact, below), cs in groupby(
        r.gpu_candidates, key=lambda c: (c.memory_bytes, c.exact, c.below_catalog_bytes)
    ):
        names = " / ".join(c.display_name.removeprefix("NVIDIA ") for c in cs)
        how = "exact" if exact else f"{format_size(below)} above: kept by the driver"
        groups.append(f"{names} ({mem // MiB:,} MiB in nvidia-smi, {how})")
    return "Card: " + "; or ".join(groups)


def figures_table(r: OomReport) -> Table:
    from rich.text import Text

    t = fit_table(show_edge=True)
    t.add_column("Figure", no_wrap=True)
    t.add_column("As printed", justify="right", no_wrap=True)
    t.add_column("GiB", justify="right", no_wrap=True)
    t.add_column("Bytes", justify="right", no_wrap=True)
    t.add_column("Share", justify="right", no_wrap=True)
    t.add_column("How")
    f = r.figures
    total = r.total_capacity_bytes

    def row(label: str, key: Optional[str], n: Optional[int], how: str, style: str = "") -> None:
        if n is None:
            return
        fig = f.get(key) if key else None
        printed = fig.printed if fig is not None and fig.printed else Text("(" + format_size(n) + ")", style="dim")
        tol = fig.tolerance_bytes if fig is not None else 0
        note = how + (f" ({_tol(tol)})" if tol and (fig is None or not fig.printed) else "")
        t.add_row(Text(label, style=style), printed, _g(n), _b(n), _share(n, total), Text(note, style="dim"))

    row("Tried to allocate", "tried_to_allocate", r.tried_to_allocate_bytes, "printed", "bold")
    row("Total capacity", "total_capacity", total, "printed")
    row("Allocated by PyTorch", "allocated", r.allocated_bytes, "printed", "cyan")
    if r.format == "legacy":
        row(
            "Reserved but unallocated",
            "reserved_unallocated",
            r.reserved_unallocated_bytes,
            "reserved − allocated",
            "yellow",
        )
    else:
        row("Reserved but unallocated", "reserved_unallocated", r.reserved_unallocated_bytes, "printed", "yellow")
    row("Outside PyTorch's cache", "non_pytorch", r.non_pytorch_bytes, "total − free − reserved", "magenta")
    row("Free", "free", r.free_bytes, "printed", "green")
    if r.format == "legacy":
        row("Reserved by PyTorch", "reserved", r.reserved_bytes, "printed")
    else:
        row("Reserved by PyTorch", "reserved", r.reserved_bytes, "allocated + unallocated")
    if r.process_in_use_bytes is not None:
        src = "printed: the only 'Process N' that fits" if r.process_in_use_inferred else "printed (NVML)"
        row("This process, in use", "process_in_use", r.process_in_use_bytes, src)
        row("  of which not PyTorch's", None, r.this_process_non_pytorch_bytes, "in use − reserved")
    row(
        "Other processes",
        None,
        r.other_processes_bytes,
        "total − free − this process" if r.process_in_use_bytes is not None else "sum of 'Process N'",
    )
    if r.other_processes_bytes is None and r.other_processes_min_bytes:
        row("Other processes, at least", None, r.other_processes_min_bytes, "outside − 2 GiB of context")
    row("Allowed (memory fraction)", "allowed", r.allowed_bytes, "printed")
    row("In private pools (graphs)", "private_pools", r.private_pools_bytes, "printed, in allocated")
    return t


def _header(r: OomReport) -> Text:
    from rich.text import Text

    head = Text()
    if r.exception:
        head.append(f"{r.exception}: ", style="dim")
    head.append(f"{r.backend + ' ' if r.backend else ''}out of memory", style="bold")
    head.append(f" on GPU {r.gpu_index}" if r.gpu_index is not None else " (GPU index not printed)")
    head.append(f" · {WORDING.get(r.wording, r.wording)}")
    if r.messages_found > 1:
        head.append(f" · the last of {r.messages_found} in the input", style="dim")
    return head


def _diagnosis(r: OomReport) -> list[Any]:
    """'Diagnosis: <label>. <the rest>', then the findings as bullets."""
    from rich.table import Table
    from rich.text import Text

    label, _, rest = headline(r).partition(": ")
    diag = Text("Diagnosis: ", style="bold")
    diag.append(label + ".", style=STYLE.get(r.diagnosis, "bold red"))
    diag.append(" " + rest[:1].upper() + rest[1:])
    if not r.observations:
        return [diag]
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for finding in r.observations:
        grid.add_row("•", finding_text(finding))
    return [diag, grid]


def _recommendations(r: OomReport, explain: bool) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    if not r.recommendations:
        return []
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column()
    for i, rec in enumerate(r.recommendations, 1):
        text = recommendation_text(rec)
        t = Text(f"{text['title']}: ")
        t.append(text["setting"], style="bold green")
        t.append("\n" + text["why"], style="dim")
        if explain and rec.source:
            t.append(f" Source: {describe(rec.source)}", style="dim italic")
        grid.add_row(f"{i}.", t)
    return [Text("What to do, in order:", style="bold"), grid]


def _with_model(r: OomReport) -> list[Any]:
    """--preset: the model's need on this card, and the changes that would fit."""
    from rich.markup import escape
    from rich.text import Text

    lines: list[Any] = []
    if r.model_need_bytes is not None and r.model_usable_bytes is not None:
        verdict = "fits on paper (look at fragmentation and what else holds memory)" if r.model_fits else "does not fit"
        lines.append(
            Text(
                f"The model's estimated need: {format_size(r.model_need_bytes)} per GPU; PyTorch can use about "
                f"{format_size(r.model_usable_bytes)} of this card: {verdict}.",
                style="bold",
            )
        )
    if r.suggestions:
        s = fit_table(title="Changes that would fit this card", title_justify="left")
        s.add_column("Change")
        s.add_column("Option")
        s.add_column("Per GPU", justify="right", no_wrap=True)
        s.add_column("Fits", justify="center")
        for c in r.suggestions:
            s.add_row(
                escape(c.change),
                escape(as_flags(c.settings)),
                format_size(c.required_bytes_per_gpu),
                "yes" if c.fits else "no",
            )
        lines.append(s)
    return lines


def _footer(r: OomReport, explain: bool) -> list[Any]:
    from rich.text import Text

    lines = [Text(ROUNDING_NOTE, style="dim")]
    if not explain:
        return lines + [Text("--json: every figure in exact bytes; --explain: sources and thresholds.", style="dim")]
    lines.append(Text(f"Message template: {r.template_source}", style="dim"))
    lines.append(
        Text(
            "GPU match: catalog memory (nvidia-smi) 0 to 1 GiB above the printed total; cudaMemGetInfo's total "
            "is lower by what the driver keeps. Thresholds: fragmentation when reserved-but-unallocated ≥ the "
            "request and ≥ 10% of the card; other processes when they hold ≥ 10% of the card and freeing them "
            "covers the shortfall (see llm_budget/oom/thresholds.py).",
            style="dim",
        )
    )
    if r.pytorch_hint:
        lines.append(Text(f"PyTorch's own hint in the message: {r.pytorch_hint}", style="dim"))
    return lines


def oom_view(r: OomReport, *, explain: bool = False) -> Group:
    from rich.console import Group
    from rich.text import Text

    lines: list[Any] = [_header(r), Text(_candidates(r)), figures_table(r)]
    bar = card_bar(r)
    if bar is not None:
        lines.append(bar)
    lines += _diagnosis(r) + _recommendations(r, explain) + _with_model(r) + _footer(r, explain)
    return Group(*lines)
