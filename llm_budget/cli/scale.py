"""`llm-budget scale`: the compute-optimal model size and tokens for a budget (Chinchilla)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from llm_budget.choices import Fit
from llm_budget.model.spec import ModelSpec
from llm_budget.cli._app import app
from llm_budget.cli._options import ExplainOpt, JsonOpt, emit_json, user_errors, with_model

_B = "Budget (one of: --flops; --gpu --gpus --days; --budget-usd --gpu)"


def _opt(*names: str, help: str, panel: str = _B) -> typer.models.OptionInfo:
    return typer.Option(*names, help=help, rich_help_panel=panel, show_default=False)


@app.command()
@user_errors
@with_model(required=False)
def scale(
    model: Optional[ModelSpec],
    params: Annotated[Optional[str], _opt("--params", help="A fixed model size (7b): what the budget buys it, what loss.", panel="Model")] = None,
    flops: Annotated[Optional[str], _opt("--flops", help="Training FLOPs (5.76e23).")] = None,
    gpu: Annotated[Optional[str], _opt("--gpu", help="GPU type whose dense peak turns time or money into FLOPs.")] = None,
    gpus: Annotated[Optional[str], _opt("--gpus", help="Number of GPUs \\[default: 1].")] = None,
    days: Annotated[Optional[str], _opt("--days", help="Wall-clock days on --gpus GPUs.")] = None,
    budget_usd: Annotated[Optional[str], _opt("--budget-usd", help="Dollars, at --price or the catalog price per GPU-hour.")] = None,
    mfu: Annotated[Optional[str], _opt("--mfu", help="Model FLOPs utilization in (0, 1] \\[default: 0.40].")] = None,
    precision: Annotated[Optional[str], _opt("--precision", help="Compute precision \\[default: bf16; fp16 on cards without bf16].")] = None,
    price: Annotated[Optional[str], _opt("--price", help="USD per GPU-hour (default: the catalog's snapshot price).")] = None,
    fit: Annotated[
        Fit,
        typer.Option(
            "--fit",
            help="approach1: Chinchilla Table 3 (D = 20·N); approach3: its parametric loss (rounded constants); epoch: Besiroglu et al. 2024 refit.",
            case_sensitive=False,
        ),
    ] = Fit.approach1,
    json: JsonOpt = False,
    explain: ExplainOpt = False,
) -> None:
    """Compute-optimal parameters and tokens for a budget (Hoffmann et al. 2022), the loss each fit predicts,
    the iso-FLOP curve with the optimum marked, and the presets near it.

    Examples: `llm-budget scale --flops 5.76e23`; `llm-budget scale --gpu a100-80gb --gpus 1024 --days 30 --mfu 0.4`;
    `llm-budget scale --budget-usd 1e6 --gpu h100-sxm`; `llm-budget scale --params 7b --flops 1e23`.
    """
    from llm_budget.compute import model_size
    from llm_budget.hardware import load_gpu
    from llm_budget.compute import make_budget, plan_scale
    from llm_budget.units import parse_count, parse_decimal

    def num(text: Optional[str], what: str) -> Optional[float]:
        return None if text is None else float(parse_decimal(text, what=what))

    fixed = None
    if model is not None or params is not None:
        fixed = model_size(model, params=None if params is None else parse_count(params, what="--params")).params
    budget = make_budget(
        flops=num(flops, "--flops"),
        gpu=None if gpu is None else load_gpu(gpu),
        n_gpus=None if gpus is None else parse_count(gpus, what="--gpus"),
        days=num(days, "--days"),
        budget_usd=num(budget_usd, "--budget-usd"),
        mfu=num(mfu, "--mfu"),
        precision=precision,
        price=num(price, "--price"),
    )
    plan = plan_scale(budget, fit=fit.value, params=fixed)
    if json:
        emit_json(plan.model_dump_json(indent=2))
    else:
        from llm_budget.render import console
        from llm_budget.render.scale import scale_report

        console().print(scale_report(plan, explain=explain))
