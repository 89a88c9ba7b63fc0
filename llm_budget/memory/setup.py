"""What the user asks for: how a training step is run (TrainSetup, Parallel) and how a model is served (InferSetup)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from llm_budget.checkpoint.weights import CheckpointWeights
from llm_budget.choices import (
    Checkpointing,
    Convention,
    LoraTargets,
    Optimizer,
    OptimizerImpl,
    Recipe,
)
from llm_budget.hardware import Precision

QUANTIZED_BASES = (Precision.int8, Precision.int4, Precision.nf4)
"""Integer and 4-bit formats: weights that cannot be trained, only frozen under adapters (QLoRA)."""


class Parallel(BaseModel):
    """How one step is spread over GPUs: data parallel dp (ZeRO stage 0-3), tensor parallel tp
    (optionally with sequence parallelism), pipeline parallel pp."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dp: PositiveInt = 1
    tp: PositiveInt = 1
    pp: PositiveInt = 1
    zero: int = Field(default=0, ge=0, le=3)
    sp: bool = False
    micro_batches: PositiveInt | None = None  # pipeline micro-batches per step (default: pp)

    @property
    def gpus(self) -> int:
        return self.dp * self.tp * self.pp

    @property
    def is_parallel(self) -> bool:
        return self.gpus > 1


class TrainSetup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    precision: Precision = Precision.bf16
    recipe: Recipe | None = None  # default: fp32 for fp32; mixed for 16-bit; qlora for 4/8-bit
    convention: Convention = Convention.autocast
    optimizer: Optimizer = Optimizer.adamw
    optimizer_impl: OptimizerImpl | None = None  # default: foreach on CUDA, for-loop on the CPU
    batch: PositiveInt = 1
    seq: PositiveInt | None = None  # default: the model's context window, else 2048
    checkpointing: Checkpointing = Checkpointing.none
    attention: Literal["sdpa", "eager"] = "sdpa"
    device: Literal["cuda", "cpu"] = "cuda"
    lora_rank: PositiveInt | None = None
    lora_targets: LoraTargets = LoraTargets.all
    n_layers: PositiveInt | None = None  # probe a truncated model (the probe's --layers)
    parallel: Parallel = Parallel()
    implementation: Literal["hf", "reference"] = "hf"  # Hugging Face transformers, or the probe's reference model

    @model_validator(mode="after")
    def _check(self) -> TrainSetup:
        recipe = self.resolved_recipe
        if self.precision in QUANTIZED_BASES and (self.lora_rank is None or recipe is not Recipe.qlora):
            raise ValueError(
                f"{self.precision.value} weights cannot be trained directly: integer and 4-bit formats have no "
                "gradients. Train adapters on a frozen quantized base instead: --lora-rank 16 (QLoRA)"
            )
        if self.precision in (Precision.fp8_e4m3, Precision.fp8_e5m2):
            raise ValueError("FP8 training keeps 16/32-bit master weights (Transformer Engine); use --precision bf16")
        if recipe in (Recipe.lora, Recipe.qlora) and self.lora_rank is None:
            raise ValueError(f"recipe {recipe.value} needs --lora-rank")
        if recipe is Recipe.qlora and self.precision not in QUANTIZED_BASES:
            raise ValueError("recipe qlora needs a quantized base: --precision nf4, int4 or int8")
        if recipe is Recipe.pure and self.precision is Precision.fp32:
            raise ValueError("recipe pure is for 16-bit precisions; fp32 is recipe fp32")
        if recipe is Recipe.mixed and self.precision is Precision.fp32:
            raise ValueError("mixed precision needs a 16-bit compute precision (bf16 or fp16)")
        return self

    @property
    def resolved_recipe(self) -> Recipe:
        if self.recipe is not None:
            return self.recipe
        if self.lora_rank is not None:
            return Recipe.qlora if self.precision in QUANTIZED_BASES else Recipe.lora
        if self.precision is Precision.fp32:
            return Recipe.fp32
        if self.precision in (Precision.fp16, Precision.bf16):
            return Recipe.mixed
        return Recipe.qlora

    @property
    def resolved_impl(self) -> OptimizerImpl:
        if self.optimizer_impl is not None:
            return self.optimizer_impl
        return OptimizerImpl.foreach if self.device == "cuda" else OptimizerImpl.loop


class InferSetup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    precision: Precision = Precision.bf16  # weights
    kv_precision: Precision | None = None  # default: the compute precision (bf16, or fp32 for fp32 weights)
    batch: PositiveInt = 1
    context: PositiveInt | None = (
        None  # tokens per sequence held in the cache (prompt + generated); default: context window
    )
    prompt: PositiveInt | None = None  # prefill length (default: the whole context)
    double_quant: bool = False  # QLoRA's double quantization of nf4 scales
    device: Literal["cuda", "cpu"] = "cuda"
    # A real checkpoint's stored weights (its tensor table, or its quantization scheme): used when `precision`
    # is the checkpoint's own (CheckpointWeights.precision); another --precision overrides it, with a note.
    checkpoint: CheckpointWeights | None = None

    @property
    def uses_checkpoint(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.precision == self.precision.value

    @model_validator(mode="after")
    def _check(self) -> InferSetup:
        if self.kv_precision in (Precision.int4, Precision.nf4):
            raise ValueError("a 4-bit KV cache needs a custom kernel; use --kv-precision fp8-e4m3, int8, bf16 or fp16")
        if self.prompt is not None and self.context is not None and self.prompt > self.context:
            raise ValueError(f"--prompt {self.prompt} is longer than --context {self.context}")
        return self
