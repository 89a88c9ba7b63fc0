"""Rich output for `llm-budget probe`."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from llm_budget.probe.run import EXACT, ProbeReport
from llm_budget.units import MemoryUnit, format_bytes

_BINARY = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def _unit(*sizes: int | None) -> tuple[str, int]:
    """The largest binary unit that the row's largest value fills at least once; bytes below 1 KiB
    (a tiny model's rows read '0.000 GiB' in GiB)."""
    top = max((n for n in sizes if n is not None), default=0)
    return next(((label, size) for label, size in _BINARY if top >= size), ("B", 1))


def _size(n: int | None, unit: tuple[str, int]) -> str:
    if n is None:
        return "OOM"
    if unit[1] == 1 << 30:
        return format_bytes(n, MemoryUnit.gib, decimals=3)
    if unit[1] == 1:
        return f"{n:,} B"
    return f"{n / unit[1]:,.3f} {unit[0]}"


def probe_view(r: ProbeReport) -> Group:
    how = {
        "cuda": "CUDA: torch.cuda.max_memory_allocated",
        "cpu": "CPU: real tensors, tallied",
        "fake": "fake tensors: nothing allocated, tallied",
    }[r.path]
    head = Text(f"{r.model} · {r.rows[0].phase} · {how} · {r.device} · torch {r.torch_version}", style="bold")
    t = Table(show_header=True)
    for col, just in (
        ("Component", "left"),
        ("Estimate", "right"),
        ("Measured", "right"),
        ("Error", "right"),
        ("Check", "left"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for row in r.rows:
        err = "" if row.error is None else f"{100 * row.error:+.2f}%"
        exact = row.component in EXACT and row.tolerance == 0
        rule = f"exact (±{row.allowance_bytes:,} B)" if exact else f"±{100 * row.tolerance:g}%"
        ok = (
            Text("ok", style="green")
            if row.ok
            else Text("OFF" if row.measured_bytes is not None else "OOM", style="bold red")
        )
        unit = _unit(row.estimate_bytes, row.measured_bytes)  # one unit per row: the two columns compare
        t.add_row(
            row.component,
            _size(row.estimate_bytes, unit),
            _size(row.measured_bytes, unit),
            err,
            Text.assemble(ok, f" {rule}"),
        )
    out: list[Any] = [head, t]
    settings = ", ".join(
        f"{k} {v}"
        for k, v in r.settings.items()
        if k
        in (
            "recipe",
            "precision",
            "batch",
            "seq",
            "context",
            "optimizer",
            "optimizer_impl",
            "checkpointing",
            "attention",
            "peak_phase",
        )
    )
    out.append(Text(settings, style="dim"))
    for n in r.notes:
        out.append(Text(n, style="dim"))
    return Group(*out)


def matrix_view(data: dict[str, Any]) -> Group:
    t = Table(
        title=f"Probe matrix: {data['passed']}/{data['cases']} cases within tolerance ({data['path']}, {data['device']}, torch {data['torch_version']})",
        title_justify="left",
    )
    for col, just in (("Quantity", "left"), ("Cases", "right"), ("Median |error|", "right"), ("Max |error|", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for k, v in data["summary"].items():
        t.add_row(k, str(v["n"]), f"{100 * v['median']:.2f}%", f"{100 * v['max']:.2f}%")
    failed = [r for r in data["reports"] if not r["passed"]]
    out: list[Any] = [t]
    for r in failed[:10]:
        worst = max(
            (row for row in r["rows"] if row["error"] is not None), key=lambda row: abs(row["error"]), default=None
        )
        out.append(
            Text(
                f"off: {r['case']}: {worst['component'] if worst else ''} {100 * ((worst or {}).get('error') or 0):+.2f}%",
                style="red",
            )
        )
    return Group(*out)
