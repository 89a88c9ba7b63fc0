"""Seconds per million training tokens on one layout: what the search ranks layouts by (not a promise).

The FLOPs come from the compute package's one formula (active parameters for a mixture of experts,
the attention span of a sliding window); the pipeline bubble and tensor-parallel traffic are added here.
"""

from __future__ import annotations

from typing import Optional

from llm_budget.compute import ModelSize, training_flops
from llm_budget.defaults import DEFAULT_MFU
from llm_budget.hardware import GpuSpec, Precision
from llm_budget.memory import Parallel
from llm_budget.model.spec import ModelSpec

TOKENS_REF = 1_000_000


def _peak_tflops_per_device(gpu: GpuSpec, precision: Precision) -> Optional[float]:
    """Dense peak of one device at the training precision (TF32 for FP32), else the FP16 or FP32 peak."""
    key = {Precision.fp32: "tf32"}.get(precision, precision.value)
    peak = gpu.peak_tflops(key) or gpu.peak_tflops("fp16") or gpu.peak_tflops("fp32")
    return None if peak is None else peak / gpu.devices


def _tp_seconds(spec: ModelSpec, gpu: GpuSpec, plan: Parallel) -> float:
    """Tensor-parallel all-reduces for TOKENS_REF tokens, on one pipeline stage's GPUs.

    Formula: 4 all-reduces per block per micro-batch of b·s·d 16-bit values, 2(tp − 1)/tp of them
             over the interconnect (ring).
    Source:  narayanan2021: §3.1 (TP communication).
    """
    if plan.tp == 1 or not gpu.interconnect_gb_s:
        return 0.0
    per_token_bytes = 4 * spec.n_layers * spec.d_embed * 2 * 2 * (plan.tp - 1) / plan.tp
    return TOKENS_REF / (plan.dp * plan.pp) * per_token_bytes / (gpu.interconnect_gb_s * 1e9) / plan.pp


def seconds_per_million_tokens(
    size: ModelSize,
    spec: Optional[ModelSpec],
    gpu: GpuSpec,
    precision: Precision,
    plan: Parallel,
    checkpointing: str,
    seq: int,
) -> Optional[float]:
    """Seconds per million training tokens on this layout (for ranking, not a promise).

    Formula: compute's hardware FLOPs for TOKENS_REF tokens (6N + 12·L·H·Q·T per token, × 4/3 with full
             recomputation) ÷ (GPUs × dense peak × MFU), × (1 + pipeline bubble (pp − 1)/m with
             m = 4·pp micro-batches), + tensor-parallel all-reduces (_tp_seconds).
    Source:  chowdhery2022: Appendix B (via llm_budget.compute.training_flops); narayanan2021: §3.3 (bubble).
    """
    peak = _peak_tflops_per_device(gpu, precision)
    if peak is None:
        return None
    flops = training_flops(size, TOKENS_REF, seq_len=seq, recompute=checkpointing == "full").hardware_flops
    compute = flops / (plan.gpus * peak * 1e12 * DEFAULT_MFU)
    bubble = (plan.pp - 1) / (4 * plan.pp)
    comm = _tp_seconds(spec, gpu, plan) if spec is not None else 0.0
    return compute * (1 + bubble) + comm
