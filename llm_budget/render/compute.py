"""Rich output for `llm-budget compute`: training FLOPs, the run on each GPU type side by side,
and the inference bounds. Numbers arrive exact (llm_budget.compute); here they only get units."""

from __future__ import annotations

from typing import Any, Optional

from rich.console import Group
from rich.table import Table
from rich.text import Text

from llm_budget.compute import SRC_KV, SRC_PREFILL, ComputeEstimate, InferenceEstimate, TrainingRun
from llm_budget.refs import describe
from llm_budget.render import fit_table, si
from llm_budget.units import KiB, format_bytes


def sci(x: float) -> str:
    """5.76e+23 -> '5.76e23' (FLOPs read better in powers of ten)."""
    mantissa, _, exp = f"{x:.3g}".partition("e")
    return f"{mantissa}e{int(exp)}" if exp else mantissa


def duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:,.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} h"
    if seconds >= 1:
        return f"{seconds:,.1f} s"
    return f"{seconds * 1000:,.1f} ms"


def usd(x: Optional[float]) -> str:
    if x is None:
        return "–"
    if x >= 1e6:
        return f"${x / 1e6:,.2f}M"
    if x >= 1e3:
        return f"${x / 1e3:,.1f}K"
    return f"${x:,.2f}"


def rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


_MFU_FROM = {"default": "default", "mfu": "--mfu", "hfu": "from --hfu", "gpu_hours": "implied by --gpu-hours"}


def compute_report(est: ComputeEstimate, *, explain: bool = False) -> Group:
    parts: list[Any] = [_header(est)]
    if est.training is not None:
        parts.append(_flops_table(est, explain=explain))
    if est.runs:
        parts.append(_runs_table(est.runs, recompute=bool(est.training and est.training.recompute)))
        if est.comparison is not None:
            parts.append(_comparison(est))
    if est.inference is not None:
        parts += _inference(est.inference, explain=explain)
    for note in est.notes:
        parts.append(Text(f"Note: {note}", style="yellow"))
    if explain:
        parts.append(_sources(est))
    return Group(*parts)


def _comparison(est: ComputeEstimate) -> Text:
    """--gpu against --vs: "<faster> is k× faster than <slower> at the same MFU", peaks and costs."""
    assert est.comparison is not None
    a, b = est.runs
    faster, slower = est.runs[est.comparison.faster], est.runs[est.comparison.slower]
    line = Text(
        f"{faster.gpu_display_name} is {est.comparison.times_faster:.2f}× faster than {slower.gpu_display_name} at the same MFU",
        style="bold",
    )
    line.append(f" (dense peak {faster.peak_tflops:g} vs {slower.peak_tflops:g} TFLOPS)", style="dim")
    if a.cost_usd is not None and b.cost_usd is not None:
        line.append(f"; cost {usd(a.cost_usd)} vs {usd(b.cost_usd)}", style="dim")
    return line


def _header(est: ComputeEstimate) -> Group:
    line = Text(f"{est.model}: N = {est.params:,} ({si(est.params)})", style="bold")
    if est.tokens is not None:
        line.append(f" · D = {est.tokens:,} tokens ({si(est.tokens)})")
    line.append(f" · sequence T = {est.seq_len:,}")
    lines: list[Any] = [line, Text(est.params_note, style="dim")]
    if est.params_non_embedding is not None and est.params_non_embedding != est.params:
        lines.append(
            Text(f"Without embeddings (Kaplan et al.'s N): {est.params_non_embedding:,}; not used here", style="dim")
        )
    return Group(*lines)


def _flops_table(est: ComputeEstimate, *, explain: bool) -> Table:
    f = est.training
    assert f is not None
    table = fit_table(title="Training FLOPs", title_justify="left", show_footer=True)
    table.add_column("Term", footer="Model FLOPs" if not f.recompute else "Hardware FLOPs", no_wrap=True)
    footer_formula = (
        f"({f.model_flops_per_token:,} per token) × D"
        if not f.recompute
        else f"({f.hardware_flops_per_token:,} per token) × D"
    )
    table.add_column("Formula (numbers, then symbols)", footer=footer_formula)
    total = f.model_flops if not f.recompute else f.hardware_flops
    table.add_column("FLOPs", justify="right", footer=sci(total), no_wrap=True)
    if explain:
        table.add_column("Source")
    for t in f.terms:
        formula = Text(t.expression)
        formula.append("\n" + t.formula, style="dim")
        row: list[Any] = [t.name, formula, sci(t.flops)]
        if explain:
            row.append(describe(t.source))
        table.add_row(*row)
    if f.recompute:
        table.add_row(Text("Model FLOPs (MFU counts these)", style="dim"), "", Text(sci(f.model_flops), style="dim"))
    elif f.attention_flops_per_token:
        table.add_row(Text("6·N·D alone (Chinchilla's C)", style="dim"), "", Text(sci(f.flops_6nd), style="dim"))
    return table


def _runs_table(runs: list[TrainingRun], *, recompute: bool) -> Table:
    table = fit_table(
        title=f"Training on {runs[0].n_gpus:,} GPU{'s' if runs[0].n_gpus > 1 else ''}", title_justify="left"
    )
    table.add_column("")
    for r in runs:
        table.add_column(r.gpu_display_name, justify="right", no_wrap=True)

    def row(label: str, cells: list[str]) -> None:
        table.add_row(label, *cells)

    row("Precision (dense peak)", [f"{r.precision} ({r.peak_tflops:g} TFLOPS)" for r in runs])
    row("MFU", [f"{r.mfu:.1%} ({_MFU_FROM[r.mfu_from]})" for r in runs])
    if recompute:
        row("HFU (with recompute)", [f"{r.hfu:.1%}" for r in runs])
    row("Achieved per GPU", [f"{r.model_tflops_per_gpu:,.1f} TFLOP/s" for r in runs])
    row("Wall-clock", [duration(r.time_s) for r in runs])
    row("GPU-hours", [f"{r.gpu_hours:,.0f}" for r in runs])
    row(
        "Price per GPU-hour",
        [usd(r.price_usd_per_gpu_hour) + (" (--price)" if r.price_source == "--price" else "") for r in runs],
    )
    row("Cost", [usd(r.cost_usd) for r in runs])
    return table


def _inference(inf: InferenceEstimate, *, explain: bool) -> list[Any]:
    lines: list[Any] = []
    prefill = Text("Inference: ", style="bold")
    prefill.append(
        f"prefill {sci(inf.prefill_flops_per_token)} FLOPs per token (2·N + 4·L·H·Q·T); one {inf.context_tokens:,}-token prompt "
        f"is {sci(inf.prefill_flops)} FLOPs"
    )
    prefill.append(
        "; "
        + ", ".join(f"{duration(g.prefill_s)} on one {g.gpu_display_name}" for g in inf.gpus)
        + f" at {inf.mfu:.0%} MFU"
    )
    lines.append(prefill)
    kv = Text(f"Weights {format_bytes(inf.weight_bytes)} at {inf.storage_bits} bits", style="dim")
    if inf.kv_bytes_per_token:
        kv.append(
            f"; KV cache {inf.kv_bytes_per_token:,} B per token ({inf.kv_bytes_per_token / KiB:,.0f} KiB), "
            f"{format_bytes(inf.kv_bytes_per_sequence)} per {inf.context_tokens:,}-token sequence",
            style="dim",
        )
    lines.append(kv)
    table = fit_table(
        title=f"Decode upper bounds, tokens/s, at a context of {inf.context_tokens:,} tokens, one GPU",
        title_justify="left",
    )
    for col, just in (
        ("GPU", "left"),
        ("Batch", "right"),
        ("Read per step", "right"),
        ("Memory bound", "right"),
        ("Compute bound", "right"),
        ("Per sequence", "right"),
        ("All sequences", "right"),
        ("Bound by", "left"),
        ("Fits one GPU", "left"),
    ):
        table.add_column(col, justify=just, no_wrap=col != "Fits one GPU")  # type: ignore[arg-type]
    for g in inf.gpus:
        for i, d in enumerate(g.decode):
            fits = Text("yes", style="green") if d.fits else Text(f"no: ≥{d.min_gpus} GPUs", style="red")
            table.add_row(
                g.gpu if i == 0 else "",
                str(d.batch_size),
                format_bytes(d.bytes_per_step),
                rate(d.memory_bound_tokens_per_s),
                rate(d.compute_bound_tokens_per_s),
                rate(d.tokens_per_s_per_sequence),
                rate(d.tokens_per_s),
                "memory" if d.limited_by == "memory bandwidth" else "compute",
                fits,
            )
    lines.append(table)
    lines.append(
        Text(
            f"Bound: {inf.formula}. Bandwidth {', '.join(f'{g.gpu_display_name} {g.bandwidth_gb_s:,.0f} GB/s' for g in inf.gpus)}. "
            "Real serving reaches a fraction of these.",
            style="dim",
        )
    )
    return lines


def _sources(est: ComputeEstimate) -> Text:
    keys: list[str] = []
    if est.training is not None:
        keys += [t.source for t in est.training.terms]
    keys += [r.source for r in est.runs[:1]]
    if est.inference is not None:
        keys += [SRC_PREFILL, est.inference.source, SRC_KV]
    text = Text("Sources:\n", style="bold")
    for k in dict.fromkeys(keys):
        text.append(f"  {describe(k)}\n", style="dim")
    return text
