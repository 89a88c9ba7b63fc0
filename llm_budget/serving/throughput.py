"""Throughput bounds at the engine's concurrency: decode tokens/s from memory bandwidth and compute, prefill time,
and the roofline crossover. Bounds, not predictions: kernels reach a share of the peaks.

  decode step  ≥ max(bytes read / bandwidth, FLOPs / peak)       bytes read = weights + B · KV of one sequence
  per sequence ≤ 1 / step;   in total ≤ B / step                  (pope2022 §2: decode is memory-bound at small B)
  prefill      ≥ max(P · FLOPs per token / peak, weights / bandwidth)
  crossover    B* = (W / bw) / (F / peak − kv / bw): the batch where compute time meets memory time
FLOPs per token: compute/flops.py forward_flops_per_token (2·N + 4·L·H·Q·T), one home. Per rank: weights, KV
and FLOPs divided over the tensor-parallel ranks (communication not counted).
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict

from llm_budget.compute.flops import forward_flops_per_token
from llm_budget.compute.model_size import model_size
from llm_budget.hardware import GpuSpec
from llm_budget.model.spec import ModelSpec
from llm_budget.refs import cite
from llm_budget.serving.results import ServeReport

SOURCE = cite("pope2022: §2")


class ThroughputBounds(BaseModel):
    """Upper bounds on decode speed and lower bounds on prefill time, per rank group (one replica)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int  # sequences decoding together (B)
    context: int  # tokens each holds (T)
    weights_bytes_per_rank: int
    kv_bytes_per_sequence: int  # per rank, at T tokens
    memory_time_s: float  # one decode step, bytes / bandwidth
    compute_time_s: float  # one decode step, FLOPs / peak
    bound: str  # "memory" or "compute"
    decode_tokens_per_s_per_sequence: float
    decode_tokens_per_s_total: float
    prompt: int
    prefill_time_s: float
    crossover_batch: Optional[float]  # None: memory-bound at every batch (KV reads grow as fast as FLOPs)
    source: str = SOURCE


def kv_bytes_per_sequence(report: ServeReport, tokens: int) -> int:
    """KV bytes one sequence of `tokens` has on a rank, as the engine lays it out (sliding layers: the window)."""
    per_token_layer = report.page_bytes // report.block_size if report.engine == "vllm" else report.page_bytes
    if report.engine != "vllm":
        return per_token_layer * tokens
    return sum(per_token_layer * g.layers * min(tokens, g.window or tokens) for g in report.groups)


def throughput_bounds(
    spec: ModelSpec,
    gpu: GpuSpec,
    report: ServeReport,
    *,
    concurrency: int,
    context: int,
    prompt: int,
    peak_tflops: float,
) -> ThroughputBounds:
    """Decode and prefill bounds for `concurrency` sequences of `context` tokens on the report's ranks."""
    tp, pp = report.tensor_parallel_size, report.pipeline_parallel_size
    weights = report.weights_bytes_per_rank
    kv = kv_bytes_per_sequence(report, context)
    bw = gpu.bandwidth_gb_s * 1e9
    peak = peak_tflops * 1e12
    flops_token = forward_flops_per_token(model_size(spec), seq_len=context) / (tp * pp)
    memory = (weights + concurrency * kv) / bw
    compute = concurrency * flops_token / peak
    step = max(memory, compute) * pp  # a token passes every pipeline stage in turn
    prefill = max(prompt * forward_flops_per_token(model_size(spec), seq_len=prompt) / (tp * peak), weights / bw)
    slope = flops_token / peak - kv / bw
    return ThroughputBounds(
        concurrency=concurrency,
        context=context,
        weights_bytes_per_rank=weights,
        kv_bytes_per_sequence=kv,
        memory_time_s=memory,
        compute_time_s=compute,
        bound="memory" if memory >= compute else "compute",
        decode_tokens_per_s_per_sequence=1 / step,
        decode_tokens_per_s_total=concurrency / step,
        prompt=prompt,
        prefill_time_s=prefill,
        crossover_batch=(weights / bw) / slope if slope > 0 else None,
    )
