"""`llm-budget scale`: the compute-optimal model size and tokens for a budget (Chinchilla)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from llm_budget.choices import Fit
from llm_budget.cli.options import (
    BiasOpt,
    DEmbedOpt,
    DHeadOpt,
    DMlpOpt,
    ExplainOpt,
    HfConfigOpt,
    JsonOpt,
    MlpOpt,
    ModelOpt,
    NActiveExpertsOpt,
    NExpertsOpt,
    NHeadsOpt,
    NKvHeadsOpt,
    NLayersOpt,
    NormOpt,
    NPositionsOpt,
    NVocabOpt,
    PositionOpt,
    PresetOpt,
    QkNormOpt,
    TiedOpt,
    build_spec,
    emit_json,
    user_errors,
)

app = typer.Typer(add_completion=False)

_B = "Budget (one of: --flops; --gpu --gpus --days; --budget-usd --gpu)"


def _opt(*names: str, help: str, metavar: str, panel: str = _B) -> Any:
    return typer.Option(*names, help=help, metavar=metavar, rich_help_panel=panel, show_default=False)


@app.command()
@user_errors
def scale(
    params: Annotated[
        Optional[str],
        _opt(
            "--params",
            metavar="COUNT",
            help="A fixed model size (7b): what the budget buys it, what loss.",
            panel="Model",
        ),
    ] = None,
    flops: Annotated[Optional[str], _opt("--flops", metavar="FLOPS", help="Training FLOPs (5.76e23).")] = None,
    gpu: Annotated[
        Optional[str], _opt("--gpu", metavar="NAME", help="GPU type whose dense peak turns time or money into FLOPs.")
    ] = None,
    gpus: Annotated[Optional[str], _opt("--gpus", metavar="N", help="Number of GPUs \\[default: 1].")] = None,
    days: Annotated[Optional[str], _opt("--days", metavar="DAYS", help="Wall-clock days on --gpus GPUs.")] = None,
    budget_usd: Annotated[
        Optional[str],
        _opt("--budget-usd", metavar="USD", help="Dollars, at --price or the catalog price per GPU-hour."),
    ] = None,
    mfu: Annotated[
        Optional[str], _opt("--mfu", metavar="FRACTION", help="Model FLOPs utilization in (0, 1] \\[default: 0.40].")
    ] = None,
    precision: Annotated[
        Optional[str],
        _opt("--precision", metavar="FORMAT", help="Compute precision \\[default: bf16; fp16 on cards without bf16]."),
    ] = None,
    price: Annotated[
        Optional[str], _opt("--price", metavar="USD", help="USD per GPU-hour (default: the catalog's snapshot price).")
    ] = None,
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
    model_name: ModelOpt = None,
    preset: PresetOpt = None,
    hf_config: HfConfigOpt = None,
    d_embed: DEmbedOpt = None,
    n_heads: NHeadsOpt = None,
    n_layers: NLayersOpt = None,
    n_vocab: NVocabOpt = None,
    d_mlp: DMlpOpt = None,
    d_head: DHeadOpt = None,
    n_kv_heads: NKvHeadsOpt = None,
    n_positions: NPositionsOpt = None,
    n_experts: NExpertsOpt = None,
    n_active_experts: NActiveExpertsOpt = None,
    mlp: MlpOpt = None,
    norm: NormOpt = None,
    position: PositionOpt = None,
    qk_norm: QkNormOpt = None,
    tied: TiedOpt = None,
    bias: BiasOpt = None,
) -> None:
    """Compute-optimal parameters and tokens for a budget (Hoffmann et al. 2022), the loss each fit predicts,
    the iso-FLOP curve with the optimum marked, and the presets near it.

    Examples: `llm-budget scale --flops 5.76e23`; `llm-budget scale --gpu a100-80gb --gpus 1024 --days 30 --mfu 0.4`;
    `llm-budget scale --budget-usd 1e6 --gpu h100-sxm`; `llm-budget scale --params 7b --flops 1e23`.
    """
    from llm_budget.compute import make_budget, model_size, plan_scale
    from llm_budget.hardware import load_gpu
    from llm_budget.units import parse_count, parse_decimal

    def num(text: Optional[str], what: str) -> Optional[float]:
        return None if text is None else float(parse_decimal(text, what=what))

    model = build_spec(
        model=model_name,
        preset=preset,
        hf_config=hf_config,
        tied=tied,
        bias=bias,
        sizes=dict(
            d_embed=d_embed,
            n_heads=n_heads,
            n_layers=n_layers,
            n_vocab=n_vocab,
            d_mlp=d_mlp,
            d_head=d_head,
            n_kv_heads=n_kv_heads,
            n_positions=n_positions,
            n_experts=n_experts,
            n_active_experts=n_active_experts,
        ),
        kinds=dict(mlp=mlp, norm=norm, position=position, qk_norm=qk_norm),
        required=False,
    )
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
