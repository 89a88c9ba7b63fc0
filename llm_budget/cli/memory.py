"""`llm-budget memory`: where the bytes go, from the lecture's rule of thumb to a real training step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

import typer

from llm_budget.choices import Optimizer
from llm_budget.cli.options import (
    AdapterPrecisionOpt,
    AttentionOpt,
    BatchOpt,
    BiasOpt,
    ContextOpt,
    ConventionOpt,
    DEmbedOpt,
    Device,
    DHeadOpt,
    DMlpOpt,
    DoubleQuantOpt,
    DpOpt,
    ExplainOpt,
    FrameworkOpt,
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
    Mode,
    ModelOpt,
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
    TrainCheckpointingOpt,
    UnitsOpt,
    build_model,
    emit_json,
    memory_size,
    refuse_unused,
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
from llm_budget.units import MemoryUnit, parse_count

if TYPE_CHECKING:
    from llm_budget.memory import MemoryReport

app = typer.Typer(add_completion=False)


@app.command()
@user_errors
def memory(
    params: ParamsOpt = None,
    mode: Annotated[Mode, typer.Option("--mode", help="What the memory is for.")] = "train",
    precision: PrecisionOpt = None,
    recipe: RecipeOpt = None,
    convention: ConventionOpt = None,
    optimizer: OptimizerOpt = Optimizer.adamw,
    optimizer_impl: OptimizerImplOpt = None,
    batch: BatchOpt = "1",
    seq: SeqOpt = None,
    checkpointing: TrainCheckpointingOpt = None,
    attention: AttentionOpt = "sdpa",
    lora_rank: LoraRankOpt = None,
    lora_targets: LoraTargetsOpt = None,
    lora_dropout: LoraDropoutOpt = None,
    adapter_precision: AdapterPrecisionOpt = None,
    double_quant: DoubleQuantOpt = None,
    paged_optimizer: PagedOptimizerOpt = None,
    loss: LossOpt = None,
    framework: FrameworkOpt = None,
    context: ContextOpt = None,
    prompt: Annotated[
        Optional[str],
        typer.Option(
            "--prompt",
            help="Serving: prefill length processed at once (default: --context).",
            metavar="TOKENS",
            show_default=False,
        ),
    ] = None,
    kv_precision: KvPrecisionOpt = None,
    implementation: Annotated[
        Literal["hf", "reference"],
        typer.Option(
            "--implementation", help="hf (Hugging Face transformers' ops) or reference (the probe's own model)."
        ),
    ] = "hf",
    device: Annotated[
        Device,
        typer.Option(
            "--device", help="cuda (allocator rounding, FP32 norm statistics) or cpu (the probe's fake path)."
        ),
    ] = "cuda",
    gpus: Annotated[
        str,
        typer.Option(
            "--gpus",
            help="Training: GPUs the step runs on (dp × tp × pp).",
            metavar="N",
            rich_help_panel="Parallel layout",
        ),
    ] = "1",
    gpus_per_node: Annotated[
        str,
        typer.Option(
            "--gpus-per-node",
            help="Ranks sharing one host's RAM (offload), and HSDP's default shard group.",
            metavar="N",
            rich_help_panel="Parallel layout",
        ),
    ] = "8",
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
    units: UnitsOpt = MemoryUnit.gb,
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
    """How much memory a model needs to train or serve, component by component.

    `llm-budget memory --params 1e9` prints the lecture's table (4 GB to store, 24 GB to train at FP32);
    with a model (--preset, --hf-config or sizes) it accounts a real PyTorch training step or a serving workload.
    Precision defaults to fp32 with --params, else bf16.
    """
    from llm_budget.hardware import Precision, parse_precision
    from llm_budget.memory import inference_memory, rule_of_thumb
    from llm_budget.memory.card import training_report, with_card

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
    prec = parse_precision(precision) if precision else None
    if model is None:
        if params is None:
            raise LLMBudgetError(
                "give --params N (the lecture's rule of thumb) or a model (--preset NAME, --hf-config PATH or sizes)"
            )
        refuse_unused(
            {"--batch": (batch, "1"), "--seq": (seq, None), "--context": (context, None), "--prompt": (prompt, None),
             "--lora-rank": (lora_rank, None)},
            why="apply to a model (--preset, --hf-config or sizes); --params alone is the lecture's bytes per parameter",
        )  # fmt: skip
        report = rule_of_thumb(parse_count(params, what="--params"), prec or Precision.fp32)
    elif params is not None:
        raise LLMBudgetError("give --params or a model, not both (a model's parameters are counted exactly)")
    elif mode == "train":
        layout: dict[str, Any] = dict(
            tp=tp, pp=pp, dp=dp, sharding=sharding, shard_group=shard_group, sequence_parallel=sequence_parallel,
            micro_batches=micro_batches, offload=offload, optimizer_in_backward=optimizer_in_backward,
        )  # fmt: skip
        parallel = parallel_setup(
            model,
            gpus=parse_count(gpus, what="--gpus"),
            gpus_per_node=parse_count(gpus_per_node, what="--gpus-per-node"),
            **layout,
        )
        chosen = dict(
            recipe=recipe, convention=convention, checkpointing=checkpointing, optimizer_impl=optimizer_impl,
            lora_rank=lora_rank, lora_targets=lora_targets, lora_dropout=lora_dropout,
            adapter_precision=adapter_precision, double_quant=double_quant, paged_optimizer=paged_optimizer, loss=loss,
        )  # fmt: skip
        train_prec = prec or Precision.bf16
        check_lora_targets(model, lora_targets)
        options, applied = with_framework(framework, chosen, train_prec)
        report = training_report(
            model,
            train_setup(
                precision=train_prec,
                optimizer=optimizer,
                batch=batch,
                seq=seq,
                attention=attention,
                device=device,
                implementation=implementation,
                parallel=parallel,
                **options,  # type: ignore[arg-type]
            ),
            gpus_per_node=parse_count(gpus_per_node, what="--gpus-per-node"),
            host_ram=memory_size(host_ram, "--host-ram"),
        )
        if applied is not None:
            report = report.model_copy(update={"framework": applied})
    else:
        refuse_unused(
            {"--gpus": (gpus, "1"), "--host-ram": (host_ram, None),
             "layout options (--tp, --pp, --dp, --sharding, --offload …)": (layout_given(
                 tp=tp, pp=pp, dp=dp, sharding=sharding, shard_group=shard_group, sequence_parallel=sequence_parallel,
                 micro_batches=micro_batches, offload=offload, optimizer_in_backward=optimizer_in_backward), False)},
            why="apply to training (--mode train); serving's tensor parallelism is `llm-budget fit --mode infer`",
        )  # fmt: skip
        refuse_unused(
            {"--lora-rank": (lora_rank, None), "--lora-targets": (lora_targets, None), "--lora-dropout": (lora_dropout, None),
             "--adapter-precision": (adapter_precision, None), "--paged-optimizer": (paged_optimizer, None),
             "--loss": (loss, None), "--framework": (framework, None), "--recipe": (recipe, None)},
            why="apply to training (--mode train)",
        )  # fmt: skip
        weights = resolved.weights if resolved else None  # a checkpoint serves as stored unless --precision is given
        report = with_card(
            inference_memory(
                model,
                infer_setup(
                    precision=prec or (parse_precision(weights.precision) if weights else Precision.bf16),
                    checkpoint=weights,
                    kv_precision=kv_precision,
                    batch=batch,
                    context=context,
                    prompt=prompt,
                    device=device,
                    double_quant=_double_quant(double_quant, prec),
                ),
            )
        )
    render(report, json=json, units=units, explain=explain)


def _double_quant(given: Optional[bool], precision: object) -> bool:
    """Serving --double-quant: the nf4 absmax quantized again (QLoRA §3); only nf4 weights have it."""
    from llm_budget.hardware import Precision

    if given and precision is not Precision.nf4:
        raise LLMBudgetError("--double-quant quantizes the nf4 absmax: it needs --precision nf4")
    return bool(given)


def render(report: MemoryReport, *, json: bool, units: MemoryUnit, explain: bool) -> None:
    if json:
        emit_json(report.model_dump_json(indent=2))
        return
    from llm_budget.render import console
    from llm_budget.render.memory import memory_view

    console().print(memory_view(report, unit=units, explain=explain))
