"""Typed results of the serving calculators (no prose formatting, no CLI): what the engines log at start-up."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BudgetLine(Frozen):
    """One term of the memory budget per GPU (requested memory, less each term, is the KV cache's)."""

    name: str
    bytes: int
    formula: str
    source: str
    assumed: bool = False  # an estimate of something the engine measures at start-up (profiling)


class KVGroup(Frozen):
    """One KV-cache group: layers of one attention kind sharing a block table (vLLM's KVCacheGroupSpec)."""

    kind: str  # full | sliding | chunked | mla
    groups: int  # groups of this kind
    layers: int  # real layers of this kind on the rank (the rest of groups × group_size is padding)
    window: Optional[int] = None
    blocks_per_request: int  # blocks one request of max_model_len needs in one group of this kind


class Concurrency(Frozen):
    """Requests of `tokens` the cache holds at once: 'Maximum concurrency for N tokens per request: X.XXx'."""

    tokens: int
    blocks_per_request: int
    concurrency: float


class EngineChange(Frozen):
    """One change of the settings and what the engine then computes."""

    change: str
    option: str  # the flags a user types
    starts: bool
    max_model_len: int
    kv_cache_tokens: int
    max_concurrency: float


class ServeReport(Frozen):
    """The KV-cache capacity an engine computes at start-up, per GPU (the smallest over ranks)."""

    engine: str
    engine_version: str
    read_at: str
    model: str
    gpu: str
    tensor_parallel_size: int
    pipeline_parallel_size: int
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    block_size: int
    kv_cache_dtype: str
    total_bytes: int  # one GPU as the driver reports it
    requested_bytes: int  # total × gpu_memory_utilization (SGLang: × mem_fraction_static)
    weights_bytes_per_rank: int  # the weights one rank loads (also when the KV budget is given)
    budget: list[BudgetLine]  # what is taken from the requested memory before the KV cache
    available_kv_bytes: int  # the engine's 'Available KV cache memory'
    page_bytes: int  # one layer's block (vLLM page_size_bytes); SGLang: one token's cell, every layer
    group_size: int  # layers sharing one memory pool (vLLM), 1 for SGLang
    groups: list[KVGroup]
    num_blocks: int  # vLLM's num_gpu_blocks; SGLang: max_total_num_tokens // page_size
    kv_cache_tokens: int  # 'GPU KV cache size: N tokens' (SGLang: max_total_num_tokens)
    kv_cache_bytes: int  # what is allocated: num_blocks × page × group_size
    max_concurrency: float  # at max_model_len
    by_length: list[Concurrency]  # the common request lengths up to max_model_len
    starts: bool
    error: Optional[str] = None  # the engine's own message when it refuses to start
    log_lines: list[str]
    assumptions: list[str]
