"""Rich output for `llm-budget fit` and `llm-budget gpus`."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from llm_budget.fit import FitReport
from llm_budget.hardware import GpuSpec
from llm_budget.render import fit_table
from llm_budget.render.flags import as_flags
from llm_budget.render.memory import amount, legend, stacked_bar
from llm_budget.units import MemoryUnit


def _table(title: str, columns: tuple[tuple[str, JustifyMethod], ...], names: tuple[str, ...] = ()) -> Table:
    """Numbers (right-justified) and the `names` columns are never cut: prose wraps, or the rows stack."""
    table = fit_table(title=title, title_justify="left")
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=justify == "right" or name in names)
    return table


def _verdicts(r: FitReport, unit: MemoryUnit) -> list[Any]:
    """The verdicts table, then one stacked bar of each verdict's components against the usable memory."""
    t = _table(
        "Verdicts",
        (
            ("Mode", "left"),
            ("Layout", "left"),
            ("Need / GPU", "right"),
            ("Usable", "right"),
            ("Headroom", "right"),
            ("", "left"),
        ),
    )
    for v in r.verdicts:
        mark = Text("fits", style="bold green") if v.fits else Text("does not fit", style="bold red")
        t.add_row(
            "serve" if v.mode == "infer" else "train",
            v.layout,
            amount(v.required_bytes_per_gpu, unit),
            amount(v.usable_bytes_per_gpu, unit),
            f"{amount(v.headroom_bytes, unit)} ({v.headroom_pct:+.1f}%)",
            mark,
        )
    out: list[Any] = [t]
    for v in r.verdicts:
        if v.layout_given:
            out.append(Text("train: the layout you gave, evaluated as given (the search below is for comparison)"))
        if v.host is not None and v.host.available_bytes is not None:
            ok = "fits" if v.host.fits else "does NOT fit"
            out.append(
                Text(
                    f"host RAM: {amount(v.host.per_node_bytes, unit)} per node ({v.host.ranks_per_node} ranks × "
                    f"{amount(v.host.per_gpu_bytes, unit)}) of {amount(v.host.available_bytes, unit)}: {ok}",
                    style="bold" if v.host.fits else "bold red",
                )
            )
    for v in r.verdicts:
        parts = [(n, b) for n, b in v.components if b > 0]
        out.append(
            Text(f"{'serve' if v.mode == 'infer' else 'train'}: ", style="bold")
            + stacked_bar(parts, v.required_bytes_per_gpu, capacity=v.usable_bytes_per_gpu)
        )
        out.append(legend(parts))
    return out


def _plans(r: FitReport, unit: MemoryUnit) -> list[Any]:
    if not r.plans:
        return (
            [] if r.mode == "infer" else [Text("No training layout fits within the GPUs searched.", style="bold red")]
        )
    p = _table(
        f"Training layouts on the fewest GPUs ({r.gpus_needed}), fastest first",
        (
            ("GPUs", "right"),
            ("Layout", "left"),
            ("Micro-batch", "right"),
            ("Need / GPU", "right"),
            ("Headroom", "right"),
            ("s / 1M tokens", "right"),
        ),
    )
    for plan in r.plans:
        p.add_row(
            str(plan.gpus),
            plan.label,
            str(plan.micro_batch),
            amount(plan.required_bytes_per_gpu, unit),
            amount(plan.headroom_bytes, unit),
            f"{plan.seconds_per_million_tokens:,.1f}" if plan.seconds_per_million_tokens else "",
        )
    return [p]


def _limits(r: FitReport) -> list[Any]:
    limits = []
    if r.max_batch is not None:
        limits.append(f"largest micro-batch that trains: {r.max_batch}")
    if r.max_seq is not None:
        limits.append(f"longest training sequence: {r.max_seq:,} tokens")
    if r.max_context is not None:
        window = f" (the model supports {r.context_window:,})" if r.context_window else ""
        limits.append(f"longest serving context that memory allows: {r.max_context:,} tokens{window}")
    return [Text(f"On {r.gpus} GPU(s): " + "; ".join(limits) + ".", style="bold")] if limits else []


def _changes(r: FitReport, unit: MemoryUnit) -> list[Any]:
    """Each change with the options a user types for it (its settings as flags)."""
    if not r.changes:
        return []
    c = _table(
        "Changes that would make it fit (one at a time)",
        (("Change", "left"), ("Option", "left"), ("Need / GPU", "right"), ("GPUs", "right"), ("", "left")),
    )
    for ch in r.changes:
        c.add_row(
            ch.change,
            as_flags(ch.settings),
            amount(ch.required_bytes_per_gpu, unit),
            str(ch.gpus),
            Text("fits", style="green") if ch.fits else Text("no", style="red"),
        )
    return [c]


def fit_view(r: FitReport, *, unit: MemoryUnit) -> Group:
    u = r.usable
    out: list[Any] = [
        Text(f"{r.model} on {r.gpus} × {r.gpu_name}", style="bold"),
        Text(
            f"Usable per GPU: {amount(u.usable_bytes, unit)} = {amount(u.total_bytes, unit)} reported by the driver − "
            f"{amount(u.cuda_context_bytes, unit)} CUDA context − {amount(u.fragmentation_bytes, unit)} fragmentation margin",
            style="dim",
        ),
    ]
    out += _verdicts(r, unit) + _plans(r, unit) + _limits(r) + _changes(r, unit)
    out += [Text(f"warning: {w}", style="yellow") for w in r.warnings]
    out.append(Text("Assumptions:", style="bold"))
    out += [Text(f"  • {a}", style="dim") for a in r.assumptions]
    return Group(*out)


def fit_json(r: FitReport) -> str:
    """The report as JSON, each change with the command-line options that make it ("option"), as before settings."""
    data = r.model_dump(mode="json")
    for change, dumped in zip(r.changes, data["changes"], strict=True):
        dumped["option"] = as_flags(change.settings)
    return json.dumps(data, indent=2, ensure_ascii=False)


def gpus_table(gpus: list[GpuSpec], *, unit: MemoryUnit) -> Table:
    t = _table(
        "GPU catalog (dense peaks; memory as the driver reports it)",
        (
            ("Name", "left"),
            ("Also", "left"),
            ("GPU", "left"),
            ("Memory", "right"),
            ("GB/s", "right"),
            ("BF16", "right"),
            ("FP16", "right"),
            ("FP8", "right"),
            ("INT8", "right"),
            ("$/h", "right"),
        ),
        names=("Name", "Also"),
    )

    def tf(x: float | None) -> str:
        return f"{x:,.0f}" if x else "–"

    for g in gpus:
        p = g.peak_tflops_dense
        t.add_row(
            g.name,
            "\n".join(g.aliases[:3]),  # one name a line: never cut, never split
            g.display_name,
            amount(g.memory_bytes, unit),
            f"{g.bandwidth_gb_s:,.0f}",
            tf(p.bf16),
            tf(p.fp16),
            tf(p.fp8),
            tf(p.int8),
            f"{g.price_usd_per_hour:.2f}" if g.price_usd_per_hour else "",
        )
    return t
