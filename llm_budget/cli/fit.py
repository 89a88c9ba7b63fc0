"""`llm-budget fit`: does it fit, and if not, what would make it fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

import typer

from llm_budget.choices import Checkpointing, Optimizer
from llm_budget.cli.options import (
    AdapterPrecisionOpt,
    Attention,
    BatchOpt,
    BiasOpt,
    ContextOpt,
    ConventionOpt,
    DEmbedOpt,
    DHeadOpt,
    DMlpOpt,
    DoubleQuantOpt,
    DpOpt,
    FrameworkOpt,
    GpuOpt,
    HfConfigOpt,
    HostRamOpt,
    JsonOpt,
    KvPrecisionOpt,
    LoraDropoutOpt,
    LoraRankOpt,
    LoraTargetsOpt,
    LossOpt,
    MicroBatchesOpt,
    MlpOpt,
    ModelOpt,
    ModeOrBoth,
    NActiveExpertsOpt,
    NExpertsOpt,
    NHeadsOpt,
    NKvHeadsOpt,
    NLayersOpt,
    NormOpt,
    NPositionsOpt,
    NVocabOpt,
    OffloadOpt,
    OptimizerImplOpt,
    OptimizerInBackwardOpt,
    OptimizerOpt,
    PagedOptimizerOpt,
    ParamsOpt,
    PositionOpt,
    PpOpt,
    PrecisionOpt,
    PresetOpt,
    QkNormOpt,
    RecipeOpt,
    SeqOpt,
    SequenceParallelOpt,
    ShardGroupOpt,
    ShardingOpt,
    TiedOpt,
    TpOpt,
    UnitsOpt,
    build_model,
    count,
    emit_json,
    memory_size,
    user_errors,
)
from llm_budget.cli.setups import (
    check_lora_targets,
    infer_setup,
    layout_given,
    parallel_setup,
    train_setup,
    with_framework,
)
from llm_budget.errors import LLMBudgetError
from llm_budget.units import MemoryUnit, MiB, parse_count, parse_decimal

if TYPE_CHECKING:
    from llm_budget.checkpoint.weights import CheckpointWeights
    from llm_budget.hardware import GpuSpec, Precision
    from llm_budget.model.spec import ModelSpec

app = typer.Typer(add_completion=False)

_CLUSTER = "Cluster and allowances"


@app.command()
@user_errors
def fit(
    gpu: GpuOpt,
    params: ParamsOpt = None,
    gpus: Annotated[str, typer.Option("--gpus", help="GPUs available.", metavar="N")] = "1",
    mode: Annotated[ModeOrBoth, typer.Option("--mode", help="Serving, training, or both.")] = "both",
    precision: PrecisionOpt = None,
    recipe: RecipeOpt = None,
    convention: ConventionOpt = None,
    optimizer: OptimizerOpt = Optimizer.adamw,
    optimizer_impl: OptimizerImplOpt = None,
    batch: BatchOpt = "1",
    seq: SeqOpt = None,
    checkpointing: Annotated[
        Optional[Checkpointing],
        typer.Option(
            "--checkpointing",
            help="Activation checkpointing (default none; the search also tries full).",
            show_default=False,
        ),
    ] = None,
    attention: Annotated[
        Optional[Attention],
        typer.Option(
            "--attention",
            help="sdpa or eager (default: sdpa, eager where FlashAttention cannot run).",
            show_default=False,
        ),
    ] = None,
    lora_rank: LoraRankOpt = None,
    lora_targets: LoraTargetsOpt = None,
    lora_dropout: LoraDropoutOpt = None,
    adapter_precision: AdapterPrecisionOpt = None,
    double_quant: DoubleQuantOpt = None,
    paged_optimizer: PagedOptimizerOpt = None,
    loss: LossOpt = None,
    framework: FrameworkOpt = None,
    context: ContextOpt = None,
    kv_precision: KvPrecisionOpt = None,
    gpus_per_node: Annotated[
        str,
        typer.Option(
            "--gpus-per-node", help="Tensor parallelism stays within a node.", metavar="N", rich_help_panel=_CLUSTER
        ),
    ] = "8",
    max_gpus: Annotated[
        str,
        typer.Option(
            "--max-gpus", help="Largest cluster the layout search considers.", metavar="N", rich_help_panel=_CLUSTER
        ),
    ] = "1024",
    cuda_context: Annotated[
        str,
        typer.Option(
            "--cuda-context",
            help="MiB per GPU PyTorch cannot use: the driver's share and the CUDA context.",
            metavar="MiB",
            rich_help_panel=_CLUSTER,
        ),
    ] = "1280",
    fragmentation: Annotated[
        str,
        typer.Option(
            "--fragmentation",
            help="Share of the rest kept back for allocator fragmentation.",
            metavar="FRACTION",
            rich_help_panel=_CLUSTER,
        ),
    ] = "0.05",
    tp: TpOpt = None,
    pp: PpOpt = None,
    dp: DpOpt = None,
    sharding: ShardingOpt = None,
    shard_group: ShardGroupOpt = None,
    sequence_parallel: SequenceParallelOpt = False,
    micro_batches: MicroBatchesOpt = None,
    offload: OffloadOpt = "none",
    optimizer_in_backward: OptimizerInBackwardOpt = False,
    host_ram: HostRamOpt = None,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when it does not fit (for scripts).")] = False,
    engine: Annotated[
        Literal["transformers", "vllm", "sglang"],
        typer.Option(
            "--engine",
            help="Serving engine: transformers (weights + KV + workspace), or vLLM's/SGLang's own KV-cache arithmetic (see `llm-budget serve`).",
        ),
    ] = "transformers",
    units: UnitsOpt = MemoryUnit.gb,
    json: JsonOpt = False,
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
    """Does a model fit on given GPUs, for serving and for training, and what is the cheapest way to make it fit?

    Example: `llm-budget fit --preset llama3-70b --gpu a100-80gb --gpus 8 --mode train --seq 4096 --batch 1`.
    With a layout (--tp, --pp, --sharding, --offload …) the training verdict is for exactly that layout.
    """
    from llm_budget.fit import advise
    from llm_budget.hardware import Precision, load_gpu, parse_precision

    model, resolved = build_model(
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
    card = load_gpu(gpu)
    if model is not None and params is not None:
        raise LLMBudgetError("give --params or a model, not both")
    if engine != "transformers":
        _engine_verdict(
            model,
            card,
            engine,
            mode=mode,
            gpus=gpus,
            context=context,
            kv_precision=kv_precision,
            precision=precision,
            json=json,
            check=check,
            checkpoint=resolved.weights if resolved else None,
        )
        return
    n_gpus = parse_count(gpus, what="--gpus")
    prec = parse_precision(precision) if precision else Precision.bf16
    weights = resolved.weights if resolved else None  # a checkpoint serves as stored unless --precision says otherwise
    served = prec if precision or weights is None else parse_precision(weights.precision)
    chosen = dict(
        recipe=recipe, convention=convention, checkpointing=checkpointing, optimizer_impl=optimizer_impl,
        lora_rank=lora_rank, lora_targets=lora_targets, lora_dropout=lora_dropout, adapter_precision=adapter_precision,
        double_quant=double_quant, paged_optimizer=paged_optimizer, loss=loss,
    )  # fmt: skip
    check_lora_targets(model, lora_targets)
    options, applied = with_framework(framework, chosen, prec)
    lora_rank = options["lora_rank"]  # type: ignore[assignment]
    train = train_setup(
        precision=_training_precision(prec, lora_rank),
        optimizer=optimizer,
        batch=batch,
        seq=seq,
        **options,  # type: ignore[arg-type]
        **({"attention": attention} if attention else {}),
    )
    if applied is not None and not json:
        from llm_budget.render import console
        from llm_budget.render.memory import framework_settings_line

        console().print(framework_settings_line(applied))
    infer = infer_setup(precision=served, kv_precision=kv_precision, batch=batch, context=context, checkpoint=weights)
    if mode == "train" and _quantized(prec) and not lora_rank:
        raise LLMBudgetError(
            f"{prec.value} weights cannot be trained directly; train adapters on a quantized base: --lora-rank 16"
        )
    layout: dict[str, Any] = dict(
        tp=tp, pp=pp, dp=dp, sharding=sharding, shard_group=shard_group, sequence_parallel=sequence_parallel,
        micro_batches=micro_batches, offload=offload, optimizer_in_backward=optimizer_in_backward,
    )  # fmt: skip
    n_per_node = parse_count(gpus_per_node, what="--gpus-per-node")
    parallel = (
        parallel_setup(model, gpus=n_gpus, gpus_per_node=n_per_node, **layout) if layout_given(**layout) else None
    )
    if parallel is None and host_ram is not None:
        raise LLMBudgetError("--host-ram is checked against what --offload puts in host RAM: give --offload too")
    report = advise(
        model,
        card,
        mode=mode,
        gpus=n_gpus,
        train=train,
        infer=infer,
        n_params=count(params, "--params"),
        gpus_per_node=n_per_node,
        max_gpus=parse_count(max_gpus, what="--max-gpus"),
        cuda_context=int(parse_decimal(cuda_context, what="--cuda-context") * MiB)
        if cuda_context not in ("0", "0.0")
        else 0,
        fragmentation=_share(fragmentation, "--fragmentation"),
        layout=parallel,
        host_ram=memory_size(host_ram, "--host-ram"),
    )
    if json:
        from llm_budget.render.fit import fit_json

        emit_json(fit_json(report))
    else:
        from llm_budget.render import console
        from llm_budget.render.fit import fit_view

        console().print(fit_view(report, unit=units))
    if check and not report.fits:
        raise typer.Exit(code=1)


def _engine_verdict(
    model: Optional[ModelSpec],
    card: GpuSpec,
    engine: Literal["vllm", "sglang"],
    *,
    mode: str,
    gpus: str,
    context: Optional[str],
    kv_precision: Optional[str],
    precision: Optional[str],
    json: bool,
    check: bool,
    checkpoint: Optional[CheckpointWeights] = None,
) -> None:
    """--engine vllm|sglang: the engine's start-up verdict (serving only), its changes one at a time."""
    from llm_budget.hardware import parse_precision
    from llm_budget.serving import ServeSetup, is_large_gpu, loaded_weight_bytes, serve_view

    if mode != "infer":
        raise LLMBudgetError("--engine vllm|sglang answers for serving: use it with --mode infer")
    if model is None:
        raise LLMBudgetError("--engine needs a model (--preset, --hf-config or sizes), not --params")
    kv = {None: "auto", "fp8-e4m3": "fp8_e4m3", "fp8-e5m2": "fp8_e5m2", "bf16": "bfloat16", "fp16": "float16"}
    if kv_precision not in kv:
        raise LLMBudgetError(f"--kv-precision {kv_precision}: the engines cache in bf16, fp16 or fp8")
    weights = loaded_weight_bytes(
        model, precision=parse_precision(precision) if precision else None, checkpoint=checkpoint
    )
    setup = ServeSetup(
        engine=engine,
        max_model_len=count(context, "--context"),
        kv_cache_dtype=kv[kv_precision],
        tensor_parallel_size=parse_count(gpus, what="--gpus"),
        weights_bytes=weights,
        large_gpu=is_large_gpu(card),
    )
    view = serve_view(model, card, setup)
    if json:
        emit_json(view.model_dump_json(indent=2))
    else:
        from llm_budget.render import console
        from llm_budget.render.serve import serve_render

        console().print(serve_render(view))
    if check and not view.capacity.starts:
        raise typer.Exit(code=1)


def _quantized(precision: Precision) -> bool:
    from llm_budget.hardware import Precision

    return precision in (Precision.int8, Precision.int4, Precision.nf4)


def _training_precision(precision: Precision, lora_rank: Optional[str]) -> Precision:
    """What `--mode both` trains in: bf16 when the serving precision cannot be trained (FP8, or a quantized base
    without adapters)."""
    from llm_budget.hardware import Precision

    if (_quantized(precision) and not lora_rank) or precision in (Precision.fp8_e4m3, Precision.fp8_e5m2):
        return Precision.bf16
    return precision


def _share(text: str, option: str) -> float:
    """A share in [0, 1) as typed ('0.05', '0'), or a one-line error naming the option."""
    try:
        value = float(text)
    except ValueError:
        raise LLMBudgetError(f"{option}: cannot read {text!r} as a share (examples: 0.05, 0)") from None
    if not 0 <= value < 1:
        raise LLMBudgetError(f"{option} must be at least 0 and below 1, got {text!r}")
    return value
