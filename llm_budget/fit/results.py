"""The fit advisor's typed results: layouts (Plan), verdicts, changes and the report that holds them."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from llm_budget.fit.usable import Usable
from llm_budget.memory.report import HostMemory

Setting = Union[bool, int, float, str]
"""One option's value in a change: {"precision": "nf4", "lora_rank": 16}, keyed by the option's snake_case name."""


def layout_label(dp: int, tp: int, pp: int, zero: int, checkpointing: str) -> str:
    """Short label of a training layout: 'dp 8 ZeRO-3 · tp 2 · pp 1 · checkpointing full'."""
    label = f"dp {dp}" + (f" ZeRO-{zero}" if zero else "") + f" · tp {tp} · pp {pp}"
    return label + (f" · checkpointing {checkpointing}" if checkpointing != "none" else "")


class Plan(BaseModel):
    """One training layout and its per-GPU memory."""

    model_config = ConfigDict(frozen=True)

    gpus: int
    dp: int
    tp: int
    pp: int
    zero: int
    checkpointing: str
    micro_batch: int
    required_bytes_per_gpu: int
    headroom_bytes: int
    fits: bool
    seconds_per_million_tokens: Optional[float] = None

    @property
    def label(self) -> str:
        return layout_label(self.dp, self.tp, self.pp, self.zero, self.checkpointing)


class Verdict(BaseModel):
    """Serving or training on the requested GPUs: the layout used (structured, and as a short label) and its need."""

    model_config = ConfigDict(frozen=True)

    mode: Literal["infer", "train"]
    gpus: int
    layout: str
    fits: bool
    required_bytes_per_gpu: int
    usable_bytes_per_gpu: int
    headroom_bytes: int
    headroom_pct: float
    components: list[tuple[str, int]]
    peak_phase: str = ""
    dp: int = 1
    tp: int = 1
    pp: int = 1
    zero: int = 0
    checkpointing: str = "none"
    layout_given: bool = False  # the user's layout (--tp, --pp, --sharding …), evaluated as given
    host: Optional[HostMemory] = None  # with offload: host RAM per node against --host-ram (part of `fits`)


class Change(BaseModel):
    """One change to the requested setup: the option values that make it, and the per-GPU need it leads to."""

    model_config = ConfigDict(frozen=True)

    change: str  # a short name of the change
    settings: dict[str, Setting]  # option name (snake_case) -> value; the renderer turns them into flags
    required_bytes_per_gpu: int
    gpus: int
    fits: bool


class FitReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    params: int
    gpu: str
    gpu_name: str
    gpus: int
    mode: str
    fits: bool = Field(description="Every requested mode fits on --gpus GPUs")
    gpus_needed: Optional[int] = Field(
        description="Fewest GPUs whose best layout fits (training when requested, else inference)"
    )
    usable_bytes_per_gpu: int
    required_bytes_per_gpu: int = Field(
        description="Per-GPU need of the requested mode on --gpus GPUs (training if requested)"
    )
    usable: Usable
    verdicts: list[Verdict]
    plans: list[Plan]
    max_batch: Optional[int] = None
    max_seq: Optional[int] = None
    max_context: Optional[int] = Field(
        default=None, description="Longest serving context the memory allows (the same as max_context_memory)"
    )
    max_context_memory: Optional[int] = Field(
        default=None, description="Longest serving context (tokens) whose KV cache fits the usable memory"
    )
    context_window: Optional[int] = Field(
        default=None, description="Longest context the model supports (its config's context window)"
    )
    changes: list[Change] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    search_seconds: float = 0.0
