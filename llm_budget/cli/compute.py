"""`llm-budget compute`: training FLOPs, time, GPU-hours and cost on one or two GPU types, and inference bounds."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

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
from llm_budget.errors import LLMBudgetError

app = typer.Typer(add_completion=False)

_T, _H, _I = "Training", "Hardware", "Inference"


def _opt(*names: str, help: str, panel: str, metavar: str) -> Any:
    return typer.Option(*names, help=help, metavar=metavar, rich_help_panel=panel, show_default=False)


@app.command()
@user_errors
def compute(
    params: Annotated[
        Optional[str],
        _opt(
            "--params",
            metavar="COUNT",
            help="Parameter count instead of a model (7b, 1e9): 6·N·D only, no attention term.",
            panel="Model",
        ),
    ] = None,
    tokens: Annotated[
        Optional[str], _opt("--tokens", metavar="TOKENS", help="Training tokens (15t, 2e12, 1.4T).", panel=_T)
    ] = None,
    seq: Annotated[
        Optional[str],
        _opt(
            "--seq",
            metavar="TOKENS",
            help="Sequence length T (default: the model's context window, else 2048).",
            panel=_T,
        ),
    ] = None,
    recompute: Annotated[
        bool,
        typer.Option("--recompute", help="Full activation recomputation: the hardware does 8·N·D.", rich_help_panel=_T),
    ] = False,
    gpu: Annotated[
        Optional[str],
        _opt(
            "--gpu",
            metavar="NAME",
            help="GPU type (llm-budget gpus lists them): a100-80gb, h100-sxm, v100-32gb …",
            panel=_H,
        ),
    ] = None,
    vs: Annotated[
        Optional[str],
        _opt("--vs", metavar="NAME", help="A second GPU type, side by side (the lecture's V100 vs A100).", panel=_H),
    ] = None,
    gpus: Annotated[Optional[str], _opt("--gpus", metavar="N", help="Number of GPUs \\[default: 1].", panel=_H)] = None,
    mfu: Annotated[
        Optional[str],
        _opt(
            "--mfu",
            metavar="FRACTION",
            help="Model FLOPs utilization in (0, 1] \\[default: 0.40; published runs: 0.35-0.50].",
            panel=_H,
        ),
    ] = None,
    hfu: Annotated[
        Optional[str],
        _opt(
            "--hfu",
            metavar="FRACTION",
            help="Utilization counting recomputed FLOPs (Megatron's X / peak); with --recompute.",
            panel=_H,
        ),
    ] = None,
    gpu_hours: Annotated[
        Optional[str],
        _opt("--gpu-hours", metavar="HOURS", help="Published GPU-hours on --gpu: report the implied MFU.", panel=_H),
    ] = None,
    precision: Annotated[
        Optional[str],
        _opt(
            "--precision",
            metavar="FORMAT",
            help="Compute precision: bf16 (default; fp16 on cards without bf16), fp16, tf32, fp32, fp8, int8.",
            panel=_H,
        ),
    ] = None,
    price: Annotated[
        Optional[str],
        _opt(
            "--price",
            metavar="USD",
            help="USD per GPU-hour for --gpu (default: the catalog's snapshot price).",
            panel=_H,
        ),
    ] = None,
    batch: Annotated[
        Optional[str],
        _opt("--batch", metavar="N[,N…]", help="Decode batch sizes, comma-separated \\[default: 1,8,64].", panel=_I),
    ] = None,
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
    """Training FLOPs (6·N·D plus attention), time, GPU-hours and cost at an MFU, or the MFU implied by
    published GPU-hours; prefill FLOPs and the memory-bandwidth bound on decode.

    Examples: `llm-budget compute --preset llama3-8b --tokens 15t --gpu h100-sxm --gpus 1024 --mfu 0.4`;
    `llm-budget compute --params 1e9 --tokens 20b --gpu v100-32gb --vs a100-80gb`;
    `llm-budget compute --preset llama2-7b --tokens 2t --gpu a100-80gb --gpu-hours 184320`.
    """
    from llm_budget.compute import DEFAULT_BATCH_SIZES, estimate_compute, model_size
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
    if vs is not None and gpu is None:
        raise LLMBudgetError("--vs compares with --gpu: give --gpu too")
    size = model_size(model, params=None if params is None else parse_count(params, what="--params"))
    result = estimate_compute(
        size,
        tokens=None if tokens is None else parse_count(tokens, what="--tokens"),
        seq_len=None if seq is None else parse_count(seq, what="--seq"),
        gpus=[load_gpu(g) for g in (gpu, vs) if g is not None],
        n_gpus=1 if gpus is None else parse_count(gpus, what="--gpus"),
        mfu=num(mfu, "--mfu"),
        hfu=num(hfu, "--hfu"),
        gpu_hours=num(gpu_hours, "--gpu-hours"),
        recompute=recompute,
        precision=precision,
        price=num(price, "--price"),
        batch_sizes=DEFAULT_BATCH_SIZES
        if batch is None
        else [parse_count(b, what="--batch") for b in batch.split(",")],
    )
    if json:
        emit_json(result.model_dump_json(indent=2))
    else:
        from llm_budget.render import console
        from llm_budget.render.compute import compute_report

        console().print(compute_report(result, explain=explain))
