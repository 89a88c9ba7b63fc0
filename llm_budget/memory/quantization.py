"""Weights stored in fewer bits than they compute in: bytes of the values plus their scales."""

from __future__ import annotations

from llm_budget.hardware import Precision, bytes_for
from llm_budget.model.inventory import ParamTensor

QUANTIZED_WEIGHTS = (Precision.int8, Precision.int4, Precision.nf4, Precision.fp8_e4m3, Precision.fp8_e5m2)
"""Precisions whose linear weights carry scales (quantized_weight_bytes); the rest store N × bytes per value."""


def quantized_weight_bytes(t: ParamTensor, precision: Precision, *, double_quant: bool = False) -> int:
    """Bytes of one linear weight stored quantized, scales included (per copy).

    Formula: int8: N + 4·d_out (LLM.int8: one FP32 absmax per row, Dettmers et al. 2022);
             nf4: N/2 + 4·N/64 (QLoRA: FP32 absmax per block of 64), or with double quantization
             N/2 + N/64 + 4·N/(64·256) (8-bit absmax, FP32 per 256 blocks; Dettmers et al. 2023);
             int4: N/2 + 2.5·N/128 (group-wise: FP16 scale and 4-bit zero per 128 values, GPTQ/AWQ);
             fp8: N + 4 (one FP32 scale per tensor).
    """
    n = t.numel
    if precision is Precision.int8:
        return n + 4 * t.shape[0]
    if precision is Precision.nf4:
        blocks = -(-n // 64)
        if double_quant:
            return n // 2 + blocks + 4 * -(-blocks // 256)
        return n // 2 + 4 * blocks
    if precision is Precision.int4:
        groups = -(-n // 128)
        return n // 2 + groups * 2 + -(-groups // 2)
    if precision in (Precision.fp8_e4m3, Precision.fp8_e5m2):
        return n + 4
    return bytes_for(n, precision)


def is_quantized_matrix(t: ParamTensor) -> bool:
    """The tensors quantization applies to: the blocks' linear weights (bitsandbytes' and GPTQ's default);
    embeddings, norms and the unembedding stay in the compute dtype."""
    return t.kind == "linear" and bool(t.layer)
