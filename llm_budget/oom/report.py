"""What `explain_oom` returns: the printed figures in exact bytes, what follows from them, and the
diagnosis, findings and recommendations as data (a kind and the numbers it rests on).

The sentences a user reads are written by llm_budget.render.oom from these kinds and numbers."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

TEMPLATE_SOURCE = (
    "pytorch/pytorch c10/cuda/CUDACachingAllocator.cpp, DeviceCachingAllocator::malloc (the OOM message) "
    "and reportProcessMemoryInfo; the current wording since pytorch/pytorch#99699 "
    "<https://github.com/pytorch/pytorch/blob/main/c10/cuda/CUDACachingAllocator.cpp>"
)

Diagnosis = Literal[
    "fragmentation", "full", "other-processes", "exceeds-card", "memory-fraction", "free-covers-request"
]

# Which statement of the diagnosis applies: the diagnosis itself, or one of its cases.
VerdictCase = Literal[
    "exceeds-card",
    "memory-fraction",
    "free-covers-request",
    "fragmentation",
    "other-processes",  # the other processes' share is measured (per-process figures)
    "other-processes-at-least",  # only a lower bound: total − free − reserved − the context allowance
    "full-barely-above",  # free ≥ request, by less than the margin that rules out a shortage
    "full-live-tensors",  # short, and the live tensors (allocated) are known
    "full-short",  # short, allocated unknown (message cut)
]

FindingKind = Literal[
    "nvml-unmeasured",  # NVML printed more than the card (2^64 − 1): figure ignored
    "container-pid",  # the only 'Process N' that holds PyTorch's reserve is taken to be this process
    "reserved-exceeds-in-use",  # reserved > total − free: not all device memory (Windows shared memory)
    "message-cut",  # the message stops before the allocator's figures
    "unallocated-would-cover",  # free + unallocated ≥ request, but unallocated is below the fragmentation share
    "unallocated-too-small",  # free + unallocated < request
    "fragmentation-pieces",  # free + unallocated ≥ request: the bytes exist, in pieces
    "cannot-fit-anyway",  # live tensors + request > total − outside PyTorch
    "large-request",  # one allocation ≥ the large-request share of the card
    "outside-split",  # outside PyTorch = this process's non-PyTorch memory + other processes
    "own-overhead-large",  # this process's non-PyTorch memory > the context allowance
    "outside-unsplit",  # outside PyTorch, without a per-process figure
    "other-ranks",  # ≥ 2 other processes of the same small size: other ranks' contexts
    "private-pools",  # allocated memory in private pools (CUDA Graphs)
    "no-nvml",  # no per-process figures at all
]

RecommendationKind = Literal[
    "expandable-segments",
    "expandable-segments-one-allocation",
    "max-split-size",
    "stable-shapes",
    "smaller-micro-batch",
    "activation-checkpointing",
    "lower-precision",
    "shard-optimizer-state",
    "inference-mode",
    "shrink-large-tensor",
    "find-other-processes",
    "empty-other-cache",
    "empty-cache-between-phases",
    "tensor-parallel",
    "raise-memory-fraction",
    "watch-gpu",
]

Setting = Union[bool, int, float, str]


class Figure(BaseModel):
    """One size as the message printed it, in exact bytes, with the rounding it carries."""

    model_config = ConfigDict(frozen=True)

    printed: Optional[str] = Field(description="As the message printed it; None for a derived figure")
    bytes: int
    tolerance_bytes: int = Field(
        description="Half a unit of the last printed digit (0.005 of the unit); 0 for 'N bytes'; "
        "a derived figure adds its inputs'"
    )
    formula: Optional[str] = Field(default=None, description="How a derived figure is computed from printed ones")


class ProcessUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    pid: Optional[int] = Field(description="None for 'this process'")
    this_process: bool
    bytes: Optional[int] = Field(description="None when NVML could not tell (it reports 2^64 − 1)")
    printed: str


class GpuCandidate(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    display_name: str
    memory_bytes: int = Field(description="The catalog's total (nvidia-smi), per device")
    below_catalog_bytes: int = Field(description="Catalog total − printed total capacity")
    exact: bool = Field(description="Equal within the printed rounding")


class Verdict(BaseModel):
    """The diagnosis as data: which statement applies and the figures (bytes) it rests on."""

    model_config = ConfigDict(frozen=True)

    case: VerdictCase
    numbers: dict[str, int] = Field(default_factory=dict, description="Bytes, by name (request, total, free, …)")


class Finding(BaseModel):
    """One observation: its kind and the numbers it rests on (bytes unless the name says otherwise)."""

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    numbers: dict[str, int] = Field(default_factory=dict)
    printed: Optional[str] = Field(
        default=None, description="A figure as the message printed it, when the finding quotes one"
    )


class Recommendation(BaseModel):
    """What to change, as data: a kind, the allocator settings it makes (with the variable that takes them), the
    numbers it rests on, and its source key (llm_budget.refs)."""

    model_config = ConfigDict(frozen=True)

    kind: RecommendationKind
    env: Optional[str] = Field(
        default=None, description="The environment variable that takes `settings` (PYTORCH_CUDA_ALLOC_CONF …)"
    )
    settings: dict[str, Setting] = Field(
        default_factory=dict, description="Allocator options, e.g. {'max_split_size_mb': 128}"
    )
    numbers: dict[str, int] = Field(default_factory=dict, description="Bytes the advice rests on, by name")
    source: str = ""


class FitSuggestion(BaseModel):
    """A change that would (or would not) fit this card, from the fit advisor (``--preset``).

    Mirrors llm_budget.fit.Change field by field, so it is built from one with from_attributes."""

    model_config = ConfigDict(frozen=True)

    change: str
    settings: dict[str, Setting] = Field(
        description="Option names (snake_case) → values, e.g. {'precision': 'nf4', 'lora_rank': 16}"
    )
    required_bytes_per_gpu: int
    gpus: int
    fits: bool


class OomReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["legacy", "current"]
    wording: str = Field(description="Which variant of the message: legacy / legacy-cached / current / current-2.1")
    exception: Optional[str] = Field(default=None, description="The exception class printed before the message, if any")
    backend: str = Field(
        description="CUDA, HIP (ROCm) or XPU, as printed; '' when the message says only 'Out of memory'"
    )
    gpu_index: Optional[int] = Field(description="None when the device index is missing from the message")
    complete: bool = Field(description="False when the current form was cut before its allocated/reserved figures")
    tried_to_allocate_bytes: int
    total_capacity_bytes: int
    free_bytes: int
    allocated_bytes: Optional[int] = Field(description="Held by live tensors (allocated by PyTorch)")
    reserved_bytes: Optional[int] = Field(description="Held by PyTorch's caching allocator, allocated or not")
    reserved_unallocated_bytes: Optional[int] = Field(
        description="reserved − allocated: cached, in partly used segments"
    )
    non_pytorch_bytes: Optional[int] = Field(
        description="total − free − reserved: CUDA context, libraries, other processes"
    )
    process_in_use_bytes: Optional[int] = Field(description="This process, all memory (NVML), when printed")
    process_in_use_inferred: bool = Field(
        default=False, description="Taken from the only 'Process N' entry (a container hides the real PID)"
    )
    this_process_non_pytorch_bytes: Optional[int] = Field(description="process in use − reserved")
    other_processes_bytes: Optional[int] = Field(
        description="total − free − process in use (or the sum of the other entries)"
    )
    other_processes_min_bytes: Optional[int] = Field(
        description="Without a per-process figure: at least total − free − reserved − 2 GiB"
    )
    allowed_bytes: Optional[int] = Field(
        default=None, description="The cap from torch.cuda.set_per_process_memory_fraction, if printed"
    )
    private_pools_bytes: Optional[int] = Field(
        default=None, description="Allocated in private pools (CUDA Graphs), part of allocated"
    )
    processes: list[ProcessUsage] = Field(default_factory=list)
    shortfall_bytes: int = Field(description="request − free (what cudaMalloc lacked), ≥ 0")
    available_to_pytorch_bytes: Optional[int] = Field(
        description="free + reserved: what this process's allocator could hold, all else unchanged"
    )
    figures: dict[str, Figure] = Field(description="Every printed size, keyed by field name")
    gpu_candidates: list[GpuCandidate] = Field(default_factory=list)
    diagnosis: Diagnosis
    verdict: Verdict = Field(description="The diagnosis's statement and the figures it rests on")
    observations: list[Finding] = Field(default_factory=list, description="What else the figures show, in order")
    recommendations: list[Recommendation] = Field(default_factory=list)
    suggestions: list[FitSuggestion] = Field(
        default_factory=list, description="With a model (--preset …): changes that would fit this card"
    )
    model_need_bytes: Optional[int] = Field(
        default=None, description="With a model: the accountant's need per GPU for the given setup"
    )
    model_usable_bytes: Optional[int] = Field(
        default=None,
        description="With a model: what PyTorch can use on this card (total capacity − memory outside PyTorch − fragmentation margin)",
    )
    model_fits: Optional[bool] = Field(default=None, description="With a model: need ≤ usable")
    pytorch_hint: Optional[str] = Field(default=None, description="The setting PyTorch's own message suggested")
    message: str = Field(description="The message as read (whitespace collapsed)")
    messages_found: int = Field(description="Out-of-memory messages in the input; the last readable one is explained")
    template_source: str = TEMPLATE_SOURCE
