"""`llm-budget fit` and `llm-budget gpus`: does it fit, and if not, what would make it fit."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from llm_budget.errors import LLMBudgetError
from llm_budget.model.spec import ModelSpec
from llm_budget.units import MemoryUnit, MiB, parse_count, parse_decimal
from llm_budget.cli._app import app
from llm_budget.cli._options import JsonOpt, emit_json, user_errors, with_model

Opt = typer.Option


@app.command()
@user_errors
@with_model(required=False)
def fit(
    model: Optional[ModelSpec],
    gpu: Annotated[str, Opt("--gpu", help="GPU from the catalog (llm-budget gpus): a100-80gb, v100-32gb, h100-sxm …")],
    params: Annotated[Optional[str], Opt("--params", help="A parameter count alone (1e9, 7b): the lecture's bytes per parameter.")] = None,
    gpus: Annotated[str, Opt("--gpus", help="GPUs available.")] = "1",
    mode: Annotated[str, Opt("--mode", help="train | infer | both")] = "both",
    precision: Annotated[Optional[str], Opt("--precision", help="fp32 | fp16 | bf16 | fp8 | int8 | int4 | nf4 (default bf16)")] = None,
    recipe: Annotated[Optional[str], Opt("--recipe", help="fp32 | mixed | pure | lora | qlora")] = None,
    convention: Annotated[str, Opt("--convention", help="autocast | zero | megatron | grad-copy")] = "autocast",
    optimizer: Annotated[str, Opt("--optimizer", help="adamw | adam | adamw8bit | sgd | sgd-momentum | adafactor | lion")] = "adamw",
    optimizer_impl: Annotated[Optional[str], Opt("--optimizer-impl", help="foreach | for-loop | fused")] = None,
    batch: Annotated[str, Opt("--batch", help="Micro-batch (training) or concurrent sequences (serving).")] = "1",
    seq: Annotated[Optional[str], Opt("--seq", help="Training sequence length (default: context window).")] = None,
    checkpointing: Annotated[str, Opt("--checkpointing", help="none | selective | full (the search also tries full)")] = "none",
    attention: Annotated[Optional[str], Opt("--attention", help="sdpa | eager (default: sdpa, eager where FlashAttention cannot run)")] = None,
    lora_rank: Annotated[Optional[str], Opt("--lora-rank", help="Train LoRA adapters of this rank.")] = None,
    context: Annotated[Optional[str], Opt("--context", help="Serving: tokens per sequence (default: context window).")] = None,
    kv_precision: Annotated[Optional[str], Opt("--kv-precision", help="Serving: KV-cache precision.")] = None,
    gpus_per_node: Annotated[str, Opt("--gpus-per-node", help="Tensor parallelism stays within a node.")] = "8",
    max_gpus: Annotated[str, Opt("--max-gpus", help="Largest cluster the layout search considers.")] = "1024",
    cuda_context: Annotated[str, Opt("--cuda-context", help="MiB per GPU PyTorch cannot use: the driver's share and the CUDA context.")] = "1280",
    fragmentation: Annotated[str, Opt("--fragmentation", help="Share of the rest kept back for allocator fragmentation.")] = "0.05",
    check: Annotated[bool, Opt("--check", help="Exit 1 when it does not fit (for scripts).")] = False,
    units: Annotated[MemoryUnit, Opt("--units", help="gb | gib", case_sensitive=False)] = MemoryUnit.gb,
    json: JsonOpt = False,
) -> None:
    """Does a model fit on given GPUs, for serving and for training, and what is the cheapest way to make it fit?

    Example: `llm-budget fit --preset llama3-70b --gpu a100-80gb --gpus 8 --mode train --seq 4096 --batch 1`.
    """
    from llm_budget.fit import advise
    from llm_budget.hardware import load_gpu
    from llm_budget.memory import InferSetup, TrainSetup
    from llm_budget.hardware import Precision, parse_precision

    card = load_gpu(gpu)
    if mode not in ("train", "infer", "both"):
        raise LLMBudgetError(f"--mode must be train, infer or both, not '{mode}'")
    if model is not None and params is not None:
        raise LLMBudgetError("give --params or a model, not both")
    n_gpus = parse_count(gpus, what="--gpus")
    prec = parse_precision(precision) if precision else Precision.bf16
    try:
        train_kw = dict(
            precision=prec if prec not in (Precision.int8, Precision.int4, Precision.nf4) or lora_rank else Precision.bf16,
            recipe=recipe,
            convention=convention,
            optimizer=optimizer,
            optimizer_impl=optimizer_impl,
            batch=parse_count(batch, what="--batch"),
            seq=parse_count(seq, what="--seq") if seq else None,
            checkpointing=checkpointing,
            lora_rank=parse_count(lora_rank, what="--lora-rank") if lora_rank else None,
        )
        if attention:
            train_kw["attention"] = attention
        if prec in (Precision.fp8_e4m3, Precision.fp8_e5m2):
            train_kw["precision"] = Precision.bf16
        train = TrainSetup(**train_kw)
        infer = InferSetup(
            precision=prec,
            kv_precision=parse_precision(kv_precision, what="--kv-precision") if kv_precision else None,
            batch=parse_count(batch, what="--batch"),
            context=parse_count(context, what="--context") if context else None,
        )
    except ValidationError as e:
        from llm_budget.cli.memory import _setup_error

        raise LLMBudgetError(_setup_error(e)) from None
    if mode != "infer" and prec in (Precision.int8, Precision.int4, Precision.nf4) and not lora_rank:
        if mode == "train":
            raise LLMBudgetError(f"{prec.value} weights cannot be trained directly; train adapters on a quantized base: --lora-rank 16")
    report = advise(
        model,
        card,
        mode=mode,  # type: ignore[arg-type]
        gpus=n_gpus,
        train=train,
        infer=infer,
        n_params=parse_count(params, what="--params") if params else None,
        gpus_per_node=parse_count(gpus_per_node, what="--gpus-per-node"),
        max_gpus=parse_count(max_gpus, what="--max-gpus"),
        cuda_context=int(parse_decimal(cuda_context, what="--cuda-context") * MiB) if cuda_context not in ("0", "0.0") else 0,
        fragmentation=float(fragmentation),
    )
    if json:
        emit_json(report.model_dump_json(indent=2))
    else:
        from llm_budget.render import console
        from llm_budget.render.fit import fit_view

        console().print(fit_view(report, unit=units))
    if check and not report.fits:
        raise typer.Exit(code=1)


@app.command()
@user_errors
def gpus(
    units: Annotated[MemoryUnit, Opt("--units", help="gb | gib", case_sensitive=False)] = MemoryUnit.gb,
    json: JsonOpt = False,
) -> None:
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
