"""What the user asks for: how a training step is run (TrainSetup, Parallel) and how a model is served (InferSetup)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from llm_budget.checkpoint.weights import CheckpointWeights
from llm_budget.choices import (
    Checkpointing,
    Convention,
    LoraTargets,
    LossKind,
    Optimizer,
    OptimizerImpl,
    Recipe,
)
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import Precision
from llm_budget.model.spec import ModelSpec

QUANTIZED_BASES = (Precision.int8, Precision.int4, Precision.nf4)
"""Integer and 4-bit formats: weights that cannot be trained, only frozen under adapters (QLoRA)."""


AdapterPrecision = Literal["fp32", "bf16", "fp16"]
"""The dtype LoRA adapters, their gradients and optimizer states are kept in."""

Offload = Literal["none", "optimizer", "params", "all"]
"""What lives in host RAM instead of on the GPU: optimizer = optimizer states, FP32 master weights and the
gradients once made (ZeRO-Offload, Ren et al. 2021 §4.1, Fig. 2); params = the sharded weights too (ZeRO-3's
offload_param, ZeRO-Infinity); all = both (FSDP's CPUOffload(offload_params=True), which also runs the step on the CPU)."""


class Parallel(BaseModel):
    """How one step is spread over GPUs: data parallel dp (ZeRO stage 0-3; 0 is DDP), tensor parallel tp
    (optionally with sequence parallelism), pipeline parallel pp; hybrid sharding, offload, optimizer in backward."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dp: PositiveInt = 1
    tp: PositiveInt = 1
    pp: PositiveInt = 1
    zero: int = Field(default=0, ge=0, le=3)
    sp: bool = False
    micro_batches: PositiveInt | None = None  # pipeline micro-batches per step (default: pp)
    # Not in settings.parallel's JSON (its keys are pinned); MemoryReport.layout shows them.
    shard_group: PositiveInt | None = Field(default=None, exclude=True)  # hybrid sharding: ZeRO over groups of dp ranks
    offload: Offload = Field(default="none", exclude=True)
    optimizer_in_backward: bool = Field(
        default=False, exclude=True
    )  # each parameter stepped as backward makes its gradient

    @model_validator(mode="after")
    def _check(self) -> Parallel:
        if self.shard_group is not None:
            if self.zero == 0:
                raise ValueError("--shard-group applies to sharded data parallelism (ZeRO-1/2/3, FSDP, HSDP)")
            if self.dp % self.shard_group:
                raise ValueError(f"--shard-group {self.shard_group} does not divide the {self.dp} data-parallel ranks")
        if self.offload in ("params", "all") and self.zero < 3:
            raise ValueError("offloading parameters needs sharded weights: ZeRO-3 or FSDP (--sharding zero-3/fsdp)")
        if self.optimizer_in_backward and self.offload != "none":
            raise ValueError(
                "--optimizer-in-backward steps each parameter on the GPU as its gradient is made: no --offload"
            )
        if self.offloads_optimizer and self.dp > 1 and self.zero == 0:
            raise ValueError("offloading the optimizer shards it over data parallelism: ZeRO-1/2/3 or FSDP, not DDP")
        return self

    @property
    def gpus(self) -> int:
        return self.dp * self.tp * self.pp

    @property
    def is_parallel(self) -> bool:
        return self.gpus > 1

    @property
    def shards(self) -> int:
        """The data-parallel ranks ZeRO splits a state over: dp, or the shard group under hybrid sharding."""
        return self.shard_group or self.dp

    @property
    def offloads_optimizer(self) -> bool:
        return self.offload in ("optimizer", "all")

    @property
    def offloads_params(self) -> bool:
        return self.offload in ("params", "all")

    @property
    def sharding_label(self) -> str:
        """DDP, ZeRO-1/2/3 (FSDP full shard) or hybrid shard."""
        if self.dp == 1:
            return "no data parallelism"
        if self.zero == 0:
            return "DDP"
        if self.shard_group and self.shard_group < self.dp:
            return f"ZeRO-{self.zero}, hybrid: shard groups of {self.shard_group}"
        return "ZeRO-3 / FSDP full shard" if self.zero == 3 else f"ZeRO-{self.zero}"


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
    # adapted matrices: a named set (LoraTargets) or the modules' names ("q,v", "q_proj,v_proj"; see adapters.py)
    lora_targets: LoraTargets | tuple[str, ...] = LoraTargets.all
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)  # PEFT's default 0: nn.Identity, no copy
    adapter_precision: AdapterPrecision | None = None  # default: FP32 (PEFT), the base dtype under --recipe pure
    double_quant: bool = False  # QLoRA's double quantization of the nf4 absmax (Dettmers et al. 2023 §3)
    paged_optimizer: bool = False  # bitsandbytes' paged optimizers: states in CUDA unified memory
    loss: LossKind = LossKind.full  # how the cross-entropy is computed (memory/loss.py)
    n_layers: PositiveInt | None = None  # probe a truncated model (the probe's --layers)
    parallel: Parallel = Parallel()
    implementation: Literal["hf", "reference"] = "hf"  # Hugging Face transformers, or the probe's reference model

    @field_validator("lora_targets", mode="before")
    @classmethod
    def _targets(cls, value: object) -> object:
        """'all' / 'attention' / 'all-linear' / 'mlp' name a set; anything else is a comma-separated list of modules."""
        if isinstance(value, str):
            named = {t.value: t for t in LoraTargets}
            if value in named:
                return named[value]
            names = tuple(n.strip() for n in value.split(",") if n.strip())
            if not names:
                raise ValueError("--lora-targets is empty: give q,v, attention, all-linear, mlp or module names")
            return names
        return value

    @model_validator(mode="after")
    def _check(self) -> TrainSetup:
        recipe = self.resolved_recipe
        if self.precision in QUANTIZED_BASES and self.lora_rank is None:
            raise ValueError(
                f"{self.precision.value} weights cannot be trained directly: integer and 4-bit formats have no "
                "gradients. Train adapters on a frozen quantized base instead: --lora-rank 16 (QLoRA)"
            )
        if self.precision in QUANTIZED_BASES and self.recipe in (Recipe.lora, Recipe.fp32):
            raise ValueError(
                f"a {self.precision.value} base is QLoRA: --recipe qlora (16-bit rest, FP32 adapters), pure (all "
                "16-bit, torchtune) or mixed (the rest FP32 under autocast, peft's prepare_model_for_kbit_training)"
            )
        if self.lora_rank is None:
            for name, given in (
                ("--lora-targets", self.lora_targets is not LoraTargets.all),
                ("--lora-dropout", self.lora_dropout != 0.0),
                ("--adapter-precision", self.adapter_precision is not None),
            ):
                if given:
                    raise ValueError(f"{name} applies to LoRA adapters: give --lora-rank")
        if self.double_quant and self.precision is not Precision.nf4:
            raise ValueError("--double-quant quantizes the nf4 absmax: it needs --precision nf4")
        if self.paged_optimizer and self.optimizer not in (Optimizer.adamw, Optimizer.adamw8bit, Optimizer.adam):
            raise ValueError(
                "--paged-optimizer is bitsandbytes' PagedAdamW / PagedAdamW8bit: --optimizer adamw or adamw8bit"
            )
        if self.precision in (Precision.fp8_e4m3, Precision.fp8_e5m2):
            raise ValueError("FP8 training keeps 16/32-bit master weights (Transformer Engine); use --precision bf16")
        if recipe in (Recipe.lora, Recipe.qlora) and self.lora_rank is None:
            raise ValueError(f"recipe {recipe.value} needs --lora-rank")
        if self.recipe is Recipe.qlora and self.precision not in QUANTIZED_BASES:
            raise ValueError("recipe qlora needs a quantized base: --precision nf4, int4 or int8")
        if self.recipe is Recipe.pure and self.precision is Precision.fp32:
            raise ValueError("recipe pure is for 16-bit precisions; fp32 is recipe fp32")
        if self.recipe is Recipe.mixed and self.precision is Precision.fp32:
            raise ValueError("mixed precision needs a 16-bit compute precision (bf16 or fp16)")
        return self

    @property
    def resolved_recipe(self) -> Recipe:
        """The recipe of the step: lora / qlora whenever adapters are trained (base_recipe then says how the
        frozen base is stored and computed), else the one given or the precision's default."""
        if self.lora_rank is not None:
            return Recipe.qlora if self.precision in QUANTIZED_BASES else Recipe.lora
        if self.recipe is not None:
            return self.recipe
        if self.precision is Precision.fp32:
            return Recipe.fp32
        if self.precision in (Precision.fp16, Precision.bf16):
            return Recipe.mixed
        return Recipe.qlora

    @property
    def base_recipe(self) -> Recipe | None:
        """Under LoRA, the recipe the frozen base runs in: mixed (FP32 base, autocast: HF Trainer bf16=True,
        litgpt bf16-mixed), pure (all in the 16-bit dtype: litgpt bf16-true), fp32; None: a base in --precision
        with FP32 adapters (PEFT on a bf16 model)."""
        if self.lora_rank is None:
            return None
        if self.recipe in (Recipe.mixed, Recipe.pure, Recipe.fp32):
            return self.recipe
        return Recipe.fp32 if self.precision is Precision.fp32 else None

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


def check_layout(parallel: Parallel, spec: ModelSpec) -> None:
    """A layout the model can run: tensor parallelism splits whole heads (Megatron-LM splits query heads, and
    KV heads or replicates them when tp is a multiple of their count), every pipeline stage holds a block."""
    tp, pp = parallel.tp, parallel.pp
    if spec.n_heads % tp:
        raise LLMBudgetError(f"--tp {tp} does not divide the {spec.n_heads} attention heads")
    if spec.kv_heads % tp and tp % spec.kv_heads:
        raise LLMBudgetError(
            f"--tp {tp} neither divides the {spec.kv_heads} KV heads nor is a multiple of them (to replicate each)"
        )
    if pp > spec.n_layers:
        raise LLMBudgetError(f"--pp {pp} pipeline stages for {spec.n_layers} layers: every stage needs a layer")
