"""Hardware truths: what a card cannot do (an error) or does slowly (a warning)."""

from __future__ import annotations

from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec, Precision


def hardware_warnings(gpu: GpuSpec, precision: Precision, mode: str) -> list[str]:
    """What the card cannot do, or does slowly. Raises for what it cannot do at all (FP8 before Ada/Hopper)."""
    out: list[str] = []
    if precision is Precision.bf16 and gpu.peak_tflops("bf16") is None:
        out.append(
            f"{gpu.display_name} has no BF16 tensor cores: BF16 runs emulated and slowly. Use --precision fp16 "
            "(mixed precision with loss scaling, Micikevicius et al. 2018); the memory is the same."
        )
    if precision in (Precision.fp8_e4m3, Precision.fp8_e5m2) and gpu.peak_tflops("fp8") is None:
        raise LLMBudgetError(
            f"{gpu.display_name} ({gpu.architecture}) has no FP8 tensor cores: FP8 needs Ada, Hopper or newer "
            "(L4, L40S, RTX 4090, H100, H200, B200, MI300X); use --precision bf16 or int8"
        )
    if precision is Precision.int8 and gpu.peak_tflops("int8") is None:
        out.append(
            f"{gpu.display_name} has no INT8 tensor cores (Turing or newer): int8 weights are dequantized to 16 bits "
            "for every matmul, which saves memory but runs slower."
        )
    if mode in ("train", "both") and not gpu.has_flash_attention:
        out.append(
            f"{gpu.display_name} cannot run FlashAttention (sm80+): training is estimated with eager attention, "
            "whose batch × heads × seq² probabilities are kept (pass --attention sdpa if PyTorch's memory-efficient "
            "SDPA kernel runs there, as it does for FP16 on V100)."
        )
    if gpu.devices > 1:
        out.append(f"{gpu.display_name} is {gpu.devices} devices to PyTorch: per-GPU figures here are per device.")
    return out
