"""`llm-budget presets`: every shipped preset grouped by family, with its total and active parameters
(active: the parameters a token uses, fewer than the total only for mixture-of-experts models).

The command counts each preset (model.counter) and hands the (spec, count) pairs here; this module only
orders and formats them: families in alphabetical order, a family's presets from the smallest, then the
lecture's closed models.
"""

from __future__ import annotations

import json
from itertools import groupby

from rich.table import Table
from rich.text import Text

from llm_budget.model.counter import ParamCount
from llm_budget.model.spec import ClosedModel, ModelSpec
from llm_budget.render import fit_table

Row = tuple[ModelSpec, ParamCount]

FAMILY_LABELS = {
    "bloom": "BLOOM",
    "cohere": "Command R (cohere)",
    "cohere2": "Command R7B (cohere2)",
    "dbrx": "DBRX",
    "falcon": "Falcon",
    "gemma": "Gemma",
    "gemma2": "Gemma 2",
    "gemma3": "Gemma 3",
    "gpt-bigcode": "StarCoder (gpt_bigcode)",
    "gpt-neox": "GPT-NeoX",
    "gpt2": "GPT-2",
    "gpt3": "GPT-3",
    "granite": "Granite",
    "llama": "Llama",
    "mistral": "Mistral",
    "mixtral": "Mixtral",
    "olmo2": "OLMo 2",
    "phi": "phi-1.5 / phi-2 (phi)",
    "phi3": "Phi-3 / Phi-4 (phi3)",
    "qwen2": "Qwen2 / Qwen2.5",
    "qwen3": "Qwen3",
    "stablelm": "StableLM",
    "starcoder2": "StarCoder2",
}
"""How a family (ModelSpec.family, the mapper's name) is titled; any other family is shown as written."""


def family_label(family: str | None) -> str:
    if not family:
        return "other"
    return FAMILY_LABELS.get(family, family)


def by_family(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """(family, its rows from the smallest total), families alphabetically."""
    ordered = sorted(rows, key=lambda r: (r[0].family or "~", r[1].total, r[0].name or ""))
    return [(family, list(group)) for family, group in groupby(ordered, key=lambda r: r[0].family or "")]


def _published(spec: ModelSpec, count: ParamCount) -> Text:
    """The published count: its exact match (tests hold it), the rounded figure, or nothing published."""
    diff = count.published_diff
    if diff == 0:
        return Text("matches exactly", style="green")
    if diff is not None:
        return Text(f"differs by {diff:+,}", style="bold red")
    if spec.published_rounded:
        return Text(f"published as {spec.published_rounded}", style="dim")
    return Text("no figure published", style="dim")


def presets_table(rows: list[Row], closed: list[ClosedModel]) -> Table:
    table = fit_table(
        title="Presets by family (llm-budget presets show NAME for one; --explain on params for sources)",
        title_justify="left",
    )
    for col, just in (
        ("Name", "left"),
        ("Model", "left"),
        ("Parameters", "right"),
        ("Active", "right"),
        ("Context", "right"),
        ("Published count", "left"),
    ):
        # The name a user types and the numbers are never cut; the prose wraps (or the rows stack).
        table.add_column(col, justify=just, no_wrap=col == "Name" or just == "right")  # type: ignore[arg-type]
    for family, members in by_family(rows):
        table.add_row(Text(family_label(family), style="bold cyan"), "", "", "", "", "")
        for spec, count in members:
            table.add_row(
                spec.name or "",
                spec.label,
                f"{count.total:,}",
                f"{count.active:,}" if count.active != count.total else Text("all", style="dim"),
                f"{spec.context_window:,}" if spec.context_window else "",
                _published(spec, count),
            )
        table.add_section()
    if closed:
        table.add_row(Text("Closed (the lecture's table)", style="bold cyan"), "", "", "", "", "")
    for m in closed:
        table.add_row(
            m.name,
            f"{m.display_name} ({m.provider})",
            Text("unpublished", style="yellow"),
            "",
            f"{m.context_window:,}",
            Text(f"lecture price ${m.price_per_million_tokens_usd:g}/M tokens", style="dim"),
        )
    return table


def presets_json(rows: list[Row], closed: list[ClosedModel]) -> str:
    """`presets` (every preset, by name, as before) plus `families` (the grouping the table shows)."""
    data = {
        "presets": [
            {
                "name": s.name,
                "display_name": s.display_name,
                "family": s.family,
                "total": c.total,
                "active": c.active,
                "published_params": s.published_params,
                "published_rounded": s.published_rounded,
                "context_window": s.context_window,
                "source": s.source,
            }
            for s, c in rows
        ],
        "families": [
            {
                "family": family or None,
                "label": family_label(family),
                "presets": [s.name for s, _ in members],
            }
            for family, members in by_family(rows)
        ],
        "unpublished": [m.model_dump(mode="json") for m in closed],
    }
    return json.dumps(data, indent=2, ensure_ascii=False)
