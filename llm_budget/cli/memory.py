"""`llm-budget memory`: where the bytes go, from the lecture's rule of thumb to a real training step."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from llm_budget.errors import LLMBudgetError
from llm_budget.model.spec import ModelSpec
from llm_budget.units import MemoryUnit, parse_count
from llm_budget.cli._app import app
from llm_budget.cli._options import ExplainOpt, JsonOpt, emit_json, user_errors, with_model

Opt = typer.Option


def _enum_help(values: list[str]) -> str:
    return " | ".join(values)


@app.command()
@user_errors
@with_model(required=False)
def memory(
    model: Optional[ModelSpec],
    params: Annotated[Optional[str], Opt("--params", help="A parameter count alone (7b, 1e9): the lecture's bytes-per-parameter table.")] = None,
    mode: Annotated[str, Opt("--mode", help="train | infer")] = "train",
    precision: Annotated[Optional[str], Opt("--precision", help="fp32 | fp16 | bf16 | fp8-e4m3 | fp8-e5m2 | int8 | int4 | nf4 (default: fp32 for --params, else bf16)")] = None,
    recipe: Annotated[Optional[str], Opt("--recipe", help="fp32 | mixed | pure | lora | qlora (default from --precision)")] = None,
    convention: Annotated[str, Opt("--convention", help="Mixed-precision bytes/param: autocast (PyTorch/HF, 4+4+8 +2 copies) | zero (16) | megatron (18) | grad-copy (20)")] = "autocast",
    optimizer: Annotated[str, Opt("--optimizer", help="adamw | adam | adamw8bit | sgd | sgd-momentum | adafactor | lion")] = "adamw",
    optimizer_impl: Annotated[Optional[str], Opt("--optimizer-impl", help="foreach | for-loop | fused (default: foreach on CUDA)")] = None,
    batch: Annotated[str, Opt("--batch", help="Micro-batch size (sequences).")] = "1",
    seq: Annotated[Optional[str], Opt("--seq", help="Training sequence length (default: the model's context window).")] = None,
    checkpointing: Annotated[str, Opt("--checkpointing", help="none | selective | full")] = "none",
    attention: Annotated[str, Opt("--attention", help="sdpa (flash/memory-efficient) | eager (keeps s² probabilities)")] = "sdpa",
    lora_rank: Annotated[Optional[str], Opt("--lora-rank", help="Train LoRA adapters of this rank on a frozen base.")] = None,
    lora_targets: Annotated[str, Opt("--lora-targets", help="all | attention")] = "all",
    context: Annotated[Optional[str], Opt("--context", help="Inference: tokens per sequence in the KV cache (default: context window).")] = None,
    prompt: Annotated[Optional[str], Opt("--prompt", help="Inference: prefill length processed at once (default: --context).")] = None,
    kv_precision: Annotated[Optional[str], Opt("--kv-precision", help="Inference: KV-cache precision (default: the compute precision).")] = None,
    implementation: Annotated[str, Opt("--implementation", help="hf (Hugging Face transformers' ops, the default) | reference (the probe's own model)")] = "hf",
    device: Annotated[str, Opt("--device", help="cuda (allocator rounding, FP32 norm statistics) | cpu (the probe's fake path)")] = "cuda",
    units: Annotated[MemoryUnit, Opt("--units", help="gb (10^9 bytes, the lecture's) | gib (2^30, what PyTorch prints)", case_sensitive=False)] = MemoryUnit.gb,
    json: JsonOpt = False,
    explain: ExplainOpt = False,
) -> None:
    """How much memory a model needs to train or serve, component by component.

    `llm-budget memory --params 1e9` prints the lecture's table (4 GB to store, 24 GB to train at FP32);
    with a model (--preset, --hf-config or sizes) it accounts a real PyTorch training step or a serving workload.
    """
    from llm_budget.memory import InferSetup, TrainSetup, inference_memory, rule_of_thumb, training_memory
    from llm_budget.hardware import Precision, parse_precision

    prec = parse_precision(precision) if precision else None
    if model is None:
        if params is None:
            raise LLMBudgetError("give --params N (the lecture's rule of thumb) or a model (--preset NAME, --hf-config PATH or sizes)")
        report = rule_of_thumb(parse_count(params, what="--params"), prec or Precision.fp32)
    else:
        if params is not None:
            raise LLMBudgetError("give --params or a model, not both (a model's parameters are counted exactly)")
        try:
            if mode == "train":
                setup = TrainSetup(
                    precision=prec or Precision.bf16,
                    recipe=recipe,
                    convention=convention,
                    optimizer=optimizer,
                    optimizer_impl=optimizer_impl,
                    batch=parse_count(batch, what="--batch"),
                    seq=parse_count(seq, what="--seq") if seq else None,
                    checkpointing=checkpointing,
                    attention=attention,
                    device=device,
                    lora_rank=parse_count(lora_rank, what="--lora-rank") if lora_rank else None,
                    lora_targets=lora_targets,
                    implementation=implementation,
                )
                report = training_memory(model, setup)
            elif mode == "infer":
                report = inference_memory(
                    model,
                    InferSetup(
                        precision=prec or Precision.bf16,
                        kv_precision=parse_precision(kv_precision, what="--kv-precision") if kv_precision else None,
                        batch=parse_count(batch, what="--batch"),
                        context=parse_count(context, what="--context") if context else None,
                        prompt=parse_count(prompt, what="--prompt") if prompt else None,
                        device=device,
                    ),
                )
            else:
                raise LLMBudgetError(f"--mode must be train or infer, not '{mode}'")
        except ValidationError as e:
            raise LLMBudgetError(_setup_error(e)) from None
    if json:
        emit_json(report.model_dump_json(indent=2))
        return
    from llm_budget.render import console
    from llm_budget.render.memory import memory_view

    console().print(memory_view(report, unit=units, explain=explain))


def _setup_error(e: ValidationError) -> str:
    """One line: the first problem, naming the option and the accepted values."""
    err = e.errors()[0]
    field = ".".join(str(x) for x in err["loc"])
    option = f"--{field.replace('_', '-')}" if field else ""
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "enum":
        allowed = err.get("ctx", {}).get("expected", "")
        return f"{option}: unknown value {err.get('input')!r}; expected {allowed}"
    return f"{option}: {msg}" if option else msg
