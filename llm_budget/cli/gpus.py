"""`llm-budget gpus`: the GPU catalog that `fit`, `compute` and `scale` read."""

from __future__ import annotations

import typer

from llm_budget.cli.options import JsonOpt, UnitsOpt, emit_json, user_errors
from llm_budget.units import MemoryUnit

app = typer.Typer(add_completion=False)


@app.command()
@user_errors
def gpus(units: UnitsOpt = MemoryUnit.gb, json: JsonOpt = False) -> None:
    """The GPU catalog: memory as the driver reports it, bandwidth, dense peak per precision, price."""
    from llm_budget.hardware import gpu_catalog

    catalog = list(gpu_catalog().values())
    if json:
        import json as _json

        emit_json(_json.dumps({"gpus": [g.model_dump(mode="json") for g in catalog]}, indent=2))
        return
    from llm_budget.render import console
    from llm_budget.render.fit import gpus_table

    console().print(gpus_table(catalog, unit=units))
