"""What the memory calculators return: a report of components (MemoryLine), the points of the step
(Phase), and the settings the numbers were computed for (TrainSettings / InferSettings)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_budget.choices import Checkpointing, Optimizer, OptimizerImpl
from llm_budget.frameworks import FrameworkApplied
from llm_budget.hardware import Precision
from llm_budget.memory.setup import Parallel


class MemoryLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    bytes: int
    bytes_per_param: float | None = None
    formula: str = ""
    source: str = ""


class Phase(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    bytes: int


class TrainSettings(BaseModel):
    """The conditions of a training report, and the step's model-state and forward totals on one GPU."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch: int
    seq: int
    optimizer: Optimizer
    optimizer_impl: OptimizerImpl
    checkpointing: Checkpointing
    attention: Literal["sdpa", "eager"]
    device: Literal["cuda", "cpu"]
    activations_per_layer_bytes: int  # saved tensors of one block on this rank
    parallel: Parallel
    gathered_bytes: (
        int  # ZeRO-3 / FSDP: blocks gathered for compute (part of weight_bytes, not resident after the step)
    )
    weight_bytes: int
    optimizer_state_bytes: int
    gradient_bytes: int
    forward_end_bytes: int  # saved activations, autocast copies and loss buffers at the end of forward


class InferSettings(BaseModel):
    """The conditions of a serving report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch: int
    context: int
    prompt: int
    kv_precision: Precision
    device: Literal["cuda", "cpu"]


class NoSettings(BaseModel):
    """The rule of thumb depends on nothing but the parameter count and the precision (prints as {})."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class LayoutSummary(BaseModel):
    """The parallel layout a training report is for, every choice spelled out (settings.parallel is its core)."""

    model_config = ConfigDict(frozen=True)

    gpus: int
    dp: int
    tp: int
    pp: int
    zero: int
    sharding: str  # DDP, ZeRO-1/2/3 / FSDP full shard, or hybrid shard
    shard_group: int  # the data-parallel ranks a state is sharded over (dp, or the hybrid shard group)
    sequence_parallel: bool
    micro_batches: int  # pipeline micro-batches in flight on the first stage
    offload: str  # none | optimizer | params | all
    optimizer_in_backward: bool
    peak_rank: str  # which rank the rows are: "every rank alike", or the pipeline stage that peaks


class HostMemory(BaseModel):
    """Host RAM an offloaded layout needs: this rank's share, and a node's."""

    model_config = ConfigDict(frozen=True)

    per_gpu_bytes: int
    ranks_per_node: int
    per_node_bytes: int  # per_gpu_bytes × ranks_per_node (every rank as the peak rank)
    available_bytes: int | None = None  # --host-ram, per node
    fits: bool | None = None
    formula: str = ""


class CardMemory(BaseModel):
    """What the user sees on the card beside the allocated peak: the allocator's reserved memory and what
    nvidia-smi shows, each an estimate with its assumption."""

    model_config = ConfigDict(frozen=True)

    allocated_bytes: int  # torch.cuda.max_memory_allocated at the peak (the report's total)
    reserved_bytes: int  # torch.cuda.max_memory_reserved, estimated
    reserved_assumption: str
    cuda_context_bytes: int
    nvidia_smi_bytes: int  # reserved + the CUDA context
    nvidia_smi_assumption: str


class MemoryReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: Literal["rule-of-thumb", "train", "infer"]
    model: str
    params: int
    trainable_params: int
    precision: str
    recipe: str
    convention: str = ""
    total_bytes: int = Field(description="Peak bytes (train: the step's peak; infer: the serving peak)")
    components: list[MemoryLine]
    peak_phase: str = ""
    phases: list[Phase] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    settings: TrainSettings | InferSettings | NoSettings = Field(default_factory=NoSettings)
    layout: LayoutSummary | None = None  # training: the parallel layout, every choice spelled out
    host: HostMemory | None = None  # training with offload: the host RAM it needs
    card: CardMemory | None = None  # CUDA: reserved memory and what nvidia-smi shows
    framework: FrameworkApplied | None = None  # training with --framework: the options its profile set


class Component:
    """The components of a training report: the categories of live bytes the step's timeline tracks."""

    weights = "Weights"
    masters = "Master weights (FP32)"
    adapters = "Adapters"  # LoRA/QLoRA: FP32 (PEFT) or the base dtype (--adapter-precision)
    copies = "16-bit weight copies (autocast)"
    gradients = "Gradients"
    buckets = "DDP gradient buckets"
    optimizer = "Optimizer states"
    activations = "Activations (saved for backward)"
    loss = "Logits and loss"
    temporaries = "Temporaries"
    inputs = "Inputs (token ids, targets)"


TRAIN_COMPONENTS = (
    Component.weights,
    Component.masters,
    Component.adapters,
    Component.copies,
    Component.gradients,
    Component.buckets,
    Component.optimizer,
    Component.activations,
    Component.loss,
    Component.temporaries,
    Component.inputs,
)
"""The order a training report lists its components in."""
