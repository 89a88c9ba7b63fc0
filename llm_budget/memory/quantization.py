"""Weights stored in fewer bits than they compute in: bytes of the values plus their scales.

quantized_weight_bytes is the accountant's own estimate for `--precision int8|int4|nf4|fp8`; scheme_weight_bytes
applies a real checkpoint's scheme (llm_budget/checkpoint/quantization.py) when only its config.json is known.
"""

from __future__ import annotations

from llm_budget.checkpoint.quantization import QuantScheme, skips, stored_linear_bytes
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


_HF_MODULES = {
    "q": "self_attn.q_proj",
    "k": "self_attn.k_proj",
    "v": "self_attn.v_proj",
    "o": "self_attn.o_proj",
    "gate": "mlp.gate_proj",
    "up": "mlp.up_proj",
    "down": "mlp.down_proj",
    "router": "mlp.gate",
    "embedding": "model.embed_tokens",
    "unembedding": "lm_head",
}
"""The inventory's tensor names as transformers' Llama-style modules name them, for a scheme's skip list."""


def hf_module_name(t: ParamTensor) -> str:
    """A representative transformers module path of an inventory tensor (layer 0, expert 0)."""
    name = _HF_MODULES.get(t.name, t.name)
    if t.expert:
        name = name.replace("mlp.", "mlp.experts.0.")
    return f"model.layers.0.{name}" if t.layer else name


def scheme_quantizes(t: ParamTensor, scheme: QuantScheme) -> bool:
    """Whether a checkpoint in `scheme` stores this tensor quantized: the blocks' linear weights, less routers
    (transformers' MoE gates are left in the compute dtype), less the scheme's skipped modules; MXFP4 (gpt-oss)
    quantizes only the experts (transformers quantizers/quantizer_mxfp4.py, modules_to_not_convert)."""
    if not (is_quantized_matrix(t) and t.component != "Router"):
        return False
    if scheme.experts_only and not t.expert:
        return False
    return not skips(scheme, hf_module_name(t))


def scheme_weight_bytes(tensors: list[ParamTensor], scheme: QuantScheme, compute_bytes: int) -> int:
    """Stored weights of a checkpoint known only by its config.json: quantized matrices by the scheme's formula
    (checkpoint/quantization.py, stored_linear_bytes), everything else N × the compute dtype's bytes."""
    return sum(
        (
            stored_linear_bytes(scheme, t.shape[0], t.shape[1])
            if scheme_quantizes(t, scheme)
            else t.numel * compute_bytes
        )
        * t.copies
        for t in tensors
    )
