"""`llm-budget presets` and `llm-budget presets show NAME`."""

from __future__ import annotations

from typing import Annotated

import typer

from llm_budget.cli.options import JsonOpt, emit_json, user_errors

app = typer.Typer(name="presets", help="List the shipped model presets, or show one.", add_completion=False)


@app.callback(invoke_without_command=True)
@user_errors
def list_presets(ctx: typer.Context, json: JsonOpt = False) -> None:
    """List every preset by family with its exact total and active parameters, and the lecture's closed models."""
    if ctx.invoked_subcommand is not None:
        return
    from llm_budget.model.counter import count_params
    from llm_budget.model.presets import all_presets, closed_models

    rows = [(s, count_params(s)) for s in all_presets()]
    closed = list(closed_models().values())
    if json:
        from llm_budget.render.presets import presets_json

        emit_json(presets_json(rows, closed))
    else:
        from llm_budget.render import console
        from llm_budget.render.presets import presets_table

        console().print(presets_table(rows, closed))


@app.command("show")
@user_errors
def show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Preset name or path to a spec file.")],
    json: JsonOpt = False,
) -> None:
    """Print one preset's fields (the resolved ModelSpec)."""
    from llm_budget.model.presets import resolve

    spec = resolve(name)
    if json:
        emit_json(spec.model_dump_json(indent=2, exclude_none=True))
    else:
        from llm_budget.render import console
        from llm_budget.render.params import preset_detail

        console().print(preset_detail(spec))
