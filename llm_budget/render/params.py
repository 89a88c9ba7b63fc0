"""Rich tables for `llm-budget params` and `llm-budget presets`.

Calculators return pydantic results with exact integers; these functions decide how
they look (thousands separators, GB vs GiB, percentages) and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from llm_budget.model.counter import ParamCount
from llm_budget.model.spec import ModelSpec
from llm_budget.refs import listing, short
from llm_budget.render import fit_table, si

if TYPE_CHECKING:
    from llm_budget.checkpoint.crosscheck import CrossCheck
    from llm_budget.checkpoint.table import TensorTable


def spec_summary(spec: ModelSpec) -> str:
    """One line with the sizes and the choices that change the count."""
    if spec.tensors is not None:  # measured: the table is transformers' class, not these choices
        return (
            f"d_embed {spec.d_embed:,} · n_heads {spec.n_heads} · n_layers {spec.n_layers} · n_vocab {spec.n_vocab:,}"
            f" · {len(spec.tensors)} tensor shapes of transformers' {spec.measured_by}"
        )
    parts = [
        f"d_embed {spec.d_embed:,}",
        f"n_heads {spec.n_heads}",
    ]
    if spec.kv_heads != spec.n_heads:
        parts.append(f"n_kv_heads {spec.kv_heads}")
    if spec.d_head is not None:
        parts.append(f"d_head {spec.head_dim}")
    parts += [
        f"n_layers {spec.n_layers}",
        f"n_vocab {spec.n_vocab:,}",
        f"d_mlp {spec.d_mlp:,} ({spec.mlp.value}, {spec.act.value})",
    ]
    if spec.is_moe:
        parts.append(f"experts {spec.active_experts} of {spec.n_experts}")
    norm = spec.norm.value + ("" if spec.norm.value == "none" else f" ×{spec.norms_per_layer}/layer")
    if spec.norm.value == "layernorm" and not spec.has_norm_bias:
        norm += " (no shift)"
    parts += [f"norm {norm}", f"position {spec.position.value}", "tied" if spec.tied_embeddings else "untied"]
    return " · ".join(parts)


def params_table(spec: ModelSpec, count: ParamCount, *, explain: bool = False) -> Group:
    table = fit_table(title=f"{count.model}: {count.total:,} parameters", title_justify="left", show_footer=True)
    table.add_column("Component", footer="Total", no_wrap=True)
    table.add_column("Formula (numbers, then symbols)")
    table.add_column("Count", justify="right", footer=f"{count.total:,}", no_wrap=True)
    table.add_column("Share", justify="right", footer="100%", no_wrap=True)
    if explain:
        table.add_column("Source")
    for c in count.components:
        share = f"{count.percent_of_total(c):.2f}%" if count.total else "–"
        formula = Text(c.expression)
        formula.append("\n" + c.formula, style="dim")
        row: list[Any] = [c.name, formula, f"{c.count:,}", share]
        if explain:
            row.append(short(c.source))
        table.add_row(*row)
    lines: list[Any] = [Text(spec_summary(spec), style="dim"), table]
    if count.active != count.total:
        lines.append(
            Text(
                f"Active per token: {count.active:,} ({si(count.active)}, {count.active_percent:.1f}%): "
                f"{spec.active_experts} of {spec.n_experts} experts; everything else is used by every token."
            )
        )
    lines.append(Text(f"Without embeddings (Kaplan et al.'s N): {count.non_embedding:,}", style="dim"))
    lines.append(published_line(spec, count))
    if spec.notes:
        lines.append(Text(spec.notes, style="dim"))
    if explain:
        lines.append(Text("Sources:", style="bold"))
        lines += [Text(f"  {ref}", style="dim") for ref in listing([c.source for c in count.components])]
    return Group(*lines)


def published_line(spec: ModelSpec, count: ParamCount) -> Text:
    diff = count.published_diff
    if diff is None:
        return Text("No published count to compare with.", style="dim")
    if diff == 0:
        line = Text(f"Matches the published count {count.published_params:,} exactly.", style="green")
    else:
        line = Text(f"Differs from the published count {count.published_params:,} by {diff:+,}.", style="bold red")
    line.append(f" Source: {spec.source}", style="dim")
    return line


def preset_detail(spec: ModelSpec) -> Table:
    table = Table(title=spec.label, title_justify="left", show_header=False)
    table.add_column("Field")
    table.add_column("Value")
    for name, value in spec.model_dump(mode="json").items():
        if value is None:
            continue
        table.add_row(name, f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value))
    return table


# -- a checkpoint's tensor table (llm-budget params --model) ------------------------------------------------------


def checkpoint_json(table: TensorTable, check: CrossCheck | None) -> dict[str, Any]:
    """The table's summary for `params --json` (every key in docs/json.md; per-tensor rows are left out)."""
    data = table.model_dump(mode="json", exclude={"rows"})
    data["cross_check"] = check.model_dump(mode="json") if check is not None else None
    return data


def checkpoint_view(table: TensorTable, check: CrossCheck | None) -> Group:
    """Stored bytes, stored elements and logical parameters by component, the quantized modules, the cross-check."""
    from llm_budget.units import format_bytes

    files = f"{len(table.files)} file" + ("s" if len(table.files) != 1 else "")
    t = fit_table(
        title=f"Checkpoint {table.source}: {format_bytes(table.total_bytes)} stored in {files}",
        title_justify="left",
        show_footer=True,
    )
    counter = {r.component: r.counter for r in check.rows} if check else {}
    for col, foot in (
        ("Component", "Total"),
        ("Stored as", ""),
        ("Bytes", f"{table.total_bytes:,}"),
        ("Elements", f"{table.total_elements:,}"),
        ("Parameters", f"{table.total_params:,}"),
        ("Counter", f"{check.counter:,}" if check else ""),
        ("Quantized", f"{table.quantized_modules} of {table.quantized_modules + table.unquantized_modules}"),
    ):
        t.add_column(
            col,
            footer=foot,
            justify="left" if col in ("Component", "Stored as") else "right",
            no_wrap=col != "Stored as",
        )
    for c in table.components:
        t.add_row(
            c.component,
            ", ".join(c.dtypes),
            f"{c.bytes:,}",
            f"{c.elements:,}",
            f"{c.params:,}",
            f"{counter[c.component]:,}" if c.component in counter else "",
            f"{c.quantized_modules} of {c.modules}" if c.modules else "",
        )
    lines: list[Any] = [t]
    scheme = table.scheme
    if scheme is not None:
        lines.append(
            Text(f"Quantization: {scheme.label}. Per linear: {scheme.formula} ({scheme.source}).", style="dim")
        )
    if table.total_elements != table.total_params:
        lines.append(
            Text(
                "Parameters: packed values unpacked (elements × container bits / value bits); scales, zero points and "
                "indexes are stored but are not parameters.",
                style="dim",
            )
        )
    lines += [Text(n, style="yellow") for n in table.notes]
    if check is not None:
        lines.append(_cross_check_line(check, table))
    return Group(*lines)


def no_table_line(origin: str) -> Text:
    return Text(f"{origin}: no safetensors files, so no tensor table: counted from config.json alone.", style="dim")


def _cross_check_line(check: CrossCheck, table: TensorTable) -> Text:
    if check.difference == 0 and not check.differing:
        return Text(f"Matches the counter exactly: {check.counter:,} parameters.", style="green")
    rows = ", ".join(f"{r.component} {r.difference:+,}" for r in check.differing)
    line = Text(f"Differs from the counter by {check.difference:+,} ({rows}).", style="bold yellow")
    other = [r.name for r in table.rows if r.component == "Other"]
    if other:
        more = f" and {len(other) - 3} more" if len(other) > 3 else ""
        line.append(f" Tensors no counter row names: {', '.join(other[:3])}{more}.", style="dim")
    return line
