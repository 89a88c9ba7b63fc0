"""A GPU's dense peak at a compute precision, the storage width that precision implies, and
utilization (the fraction of the peak a run reaches: MFU, HFU; chowdhery2022 Appendix B)."""

from __future__ import annotations

import math
from typing import Optional

from llm_budget.compute.frozen import Frozen
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import ALIASES as STORAGE_ALIASES
from llm_budget.hardware import GpuSpec, parse_precision

COMPUTE_PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
"""The keys of the GPU catalog's dense peaks (`GpuSpec.peak_tflops_dense`)."""


class PeakChoice(Frozen):
    precision: str
    peak_tflops: float
    note: Optional[str]


def parse_compute_precision(text: str) -> str:
    """'bf16', 'bfloat16', 'fp8-e4m3' … -> one of COMPUTE_PRECISIONS (the keys of the GPU catalog)."""
    key = text.strip().lower()
    if key in STORAGE_ALIASES:  # the storage names (bfloat16, e4m3 …); both FP8 formats run on the FP8 tensor cores
        key = STORAGE_ALIASES[key].value
        key = "fp8" if key.startswith("fp8") else key
    if key not in COMPUTE_PRECISIONS:
        raise LLMBudgetError(f"unknown compute precision '{text}'; known: {', '.join(COMPUTE_PRECISIONS)}")
    return key


def storage_bits(precision: str) -> int:
    """Bits a weight or KV-cache value takes at a compute precision: the number format's width
    (llm_budget.hardware's table); TF32 math reads FP32 tensors, the FP8 tensor cores 8-bit ones."""
    return parse_precision("fp32" if precision == "tf32" else precision).bits


def resolve_peak(gpu: GpuSpec, precision: Optional[str] = None) -> PeakChoice:
    """The card's dense peak for the precision; without one asked for, bf16, else fp16 (Volta, Turing) with a note.

    A precision the card has no tensor-core peak for is an error (the V100 has no bf16, the A100 no fp8).
    """
    if precision is None:
        peak = gpu.peak_tflops("bf16")
        if peak is not None:
            return PeakChoice(precision="bf16", peak_tflops=peak, note=None)
        peak = gpu.peak_tflops("fp16")
        if peak is not None:
            return PeakChoice(
                precision="fp16",
                peak_tflops=peak,
                note=f"{gpu.display_name} has no BF16 tensor cores: using its FP16 peak ({peak:g} TFLOPS); train in FP16 with loss scaling",
            )
        raise LLMBudgetError(
            f"{gpu.display_name} has no bf16 or fp16 peak in the catalog; give --precision ({_available(gpu)})"
        )
    p = parse_compute_precision(precision)
    peak = gpu.peak_tflops(p)
    if peak is None:
        raise LLMBudgetError(
            f"{gpu.display_name} has no {p} peak (no such tensor-core path); it has: {_available(gpu)}"
        )
    return PeakChoice(precision=p, peak_tflops=peak, note=None)


def _available(gpu: GpuSpec) -> str:
    return ", ".join(k for k, v in gpu.peak_tflops_dense.model_dump().items() if v is not None)


def check_utilization(value: float, what: str = "MFU") -> float:
    """A utilization is a fraction of peak in (0, 1]."""
    if not math.isfinite(value) or not 0 < value <= 1:
        raise LLMBudgetError(f"{what} must be in (0, 1] (a fraction of peak: 0.4 means 40%), got {value:g}")
    return value
