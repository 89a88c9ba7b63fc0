"""Inference bounds: prefill FLOPs and time, and upper bounds on decode tokens/s per GPU type.

Prefill costs the forward pass, 2·N + 4·L·H·Q·T per token (llm_budget.compute.flops). Decode at
small batch is bounded by memory bandwidth (pope2022): every step reads all the weights once plus
each sequence's KV cache (llm_budget.memory's KV formula; kwon2023 §3), so aggregate
tokens/s ≤ B·bandwidth / (weight bytes + B·KV bytes per sequence), and also ≤ peak / FLOPs per
token (compute bound). These are upper bounds: real serving reaches a fraction of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Optional

from llm_budget.compute.flops import attention_span, forward_flops_per_token
from llm_budget.compute.frozen import Frozen
from llm_budget.compute.model_size import ModelSize
from llm_budget.compute.peaks import PeakChoice, check_utilization, parse_compute_precision, resolve_peak, storage_bits
from llm_budget.defaults import DEFAULT_MFU
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec, Precision, parse_precision
from llm_budget.memory import InferSetup, kv_bytes, serving_need, usable_memory
from llm_budget.memory.kv import KVCache, KVLayout, kv_cache_at_bits
from llm_budget.refs import cite

DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 8, 64)
SRC_PREFILL = cite("kaplan2020: Table 1 (forward pass ≈ 2N + 2·n_layer·n_ctx·d_attn per token)")
SRC_DECODE = cite("pope2022: §2 (decode is memory-bandwidth bound at small batch)")
SRC_KV = cite("kwon2023: §3 (KV cache per token 2 × layers × heads × head size × bytes)")


class DecodeBound(Frozen):
    """Upper bound on decode throughput for a batch of B sequences at a context length, on one GPU."""

    batch_size: int
    context_tokens: int
    weight_bytes_read: int  # per decode step (MoE: the experts the batch is expected to touch)
    kv_bytes_read: int  # per decode step: B × KV cache of one sequence
    bytes_per_step: int
    memory_bound_tokens_per_s: float  # aggregate: B × bandwidth / bytes_per_step
    compute_bound_tokens_per_s: float  # aggregate: peak / decode FLOPs per token
    tokens_per_s: float  # aggregate bound: the smaller of the two
    tokens_per_s_per_sequence: float
    limited_by: Literal["memory bandwidth", "compute"]
    memory_needed_bytes: int  # all weights + KV cache of B sequences (what decode reads)
    serving_need_bytes: int  # `llm-budget fit --mode infer`'s need: weights, KV cache and prefill workspace
    usable_bytes: int  # `llm-budget fit`'s usable memory of one card (minus CUDA context and fragmentation)
    fits: bool  # on one GPU, as `llm-budget fit --mode infer --gpus 1` says: serving_need_bytes ≤ usable_bytes
    min_gpus: int  # at least this many GPUs: ceil(serving need / usable) (tensor parallelism would also add bandwidth)


class GpuInference(Frozen):
    gpu: str
    gpu_display_name: str
    precision: str
    precision_note: Optional[str]
    peak_tflops: float
    bandwidth_gb_s: float
    memory_bytes: int
    prefill_s: float  # one prompt of context_tokens at the MFU on one GPU
    decode: list[DecodeBound]


class InferenceEstimate(Frozen):
    storage_bits: int  # bits per weight and per KV value (from the precision)
    weight_bytes: int  # all weights
    kv_bytes_per_token: int  # 2 · L · n_kv · Q · bytes (0 without an architecture)
    context_tokens: int
    kv_bytes_per_sequence: int  # at context_tokens (sliding and chunked layers capped at their window or chunk)
    kv_cache: Optional[KVCache] = (
        None  # one sequence at context_tokens, one row per attention kind (None: no architecture)
    )
    prefill_flops_per_token: int  # 2·N + 4·L·H·Q·T
    prefill_flops: int  # one prompt of context_tokens tokens
    decode_flops_per_token: int  # 2·N + 4·L·H·Q·S at context S
    mfu: float  # used for the prefill time
    gpus: list[GpuInference]
    formula: str
    source: str


def _stored_bytes(n_values: int, bits: int) -> int:
    """Bytes to hold n values of `bits` bits: ceil(n · bits / 8) (as llm_budget.hardware.bytes_for)."""
    return (n_values * bits + 7) // 8


def kv_bytes_per_token(size: ModelSize, *, bits: int, layout: KVLayout = "transformers") -> int:
    """Bytes of K and V cached per token, all layers (llm_budget.memory's KV formula; 0 without an architecture).

    Formula: 2 × n_layers × n_kv_heads × d_head × bytes (K and V; GQA caches n_kv_heads heads); MLA: the
             latent's kv_lora_rank + qk_rope_head_dim per layer (or every head's K and V: layout per_head).
    Source:  kwon2023 §3 (OPT-13B: 2 × 5120 × 40 × 2 B = 800 KB per token); memory/kv.py.
    """
    if not size.has_architecture:
        return 0
    if size.spec is not None:
        return _sequence_cache(size, 1, bits, layout).bytes_per_token
    assert size.n_layers is not None and size.n_kv_heads is not None and size.d_head is not None
    return kv_bytes(n_layers=size.n_layers, kv_heads=size.n_kv_heads, head_dim=size.d_head, tokens=1, bits=bits)


def _sequence_cache(size: ModelSize, context_tokens: int, bits: int, layout: KVLayout) -> KVCache:
    """One sequence's cache at a context, per attention kind (memory/kv.py)."""
    assert size.spec is not None
    return kv_cache_at_bits(size.spec, batch=1, tokens=context_tokens, bits=bits, layout=layout)


def kv_bytes_per_sequence(size: ModelSize, *, context_tokens: int, bits: int, layout: KVLayout = "transformers") -> int:
    """One sequence's KV cache at a context: full layers hold every position, sliding layers their window,
    chunked layers their chunk (memory/kv.py); 0 without an architecture."""
    if not size.has_architecture:
        return 0
    if size.spec is not None:
        return _sequence_cache(size, context_tokens, bits, layout).total_bytes
    return kv_bytes_per_token(size, bits=bits) * attention_span(size, context_tokens)


def _expert_weights_read(size: ModelSize, batch_size: int) -> int:
    """Expert weights one decode step reads (an expectation, not a bound, for B > 1).

    Formula: expert weights × (1 − (1 − k/E)^B): each of E experts is touched by at least one of B
             tokens with that probability under uniform top-k routing (B = 1: exactly the k active).
    Source:  shazeer2017 §2 (top-k gating); pope2022 §2 (every weight a step touches is read once).
    """
    if size.n_experts <= 1:
        return size.expert_params
    E, k = size.n_experts, size.n_active_experts
    return round(size.expert_params * (1 - (1 - k / E) ** batch_size))


_WEIGHTS_AT = {"tf32": Precision.fp32, "fp8": Precision.fp8_e4m3}  # the rest name their storage format


def _serving_need(size: ModelSize, *, batch_size: int, context_tokens: int, precision: str) -> int:
    """What `llm-budget fit --mode infer --precision P --batch B --context T` needs on one GPU
    (llm_budget.memory.serving_need): the weights in the compute precision's storage format (TF32 math reads
    FP32 tensors, the FP8 tensor cores E4M3 ones)."""
    weights = _WEIGHTS_AT.get(precision) or parse_precision(precision)
    setup = InferSetup(precision=weights, batch=batch_size, context=context_tokens)
    return serving_need(size.spec, setup, size.params_total)


def decode_bound(
    size: ModelSize,
    gpu: GpuSpec,
    *,
    batch_size: int,
    context_tokens: int,
    bits: int,
    peak_tflops: float,
    precision: str = "bf16",
    kv_layout: KVLayout = "transformers",
) -> DecodeBound:
    """Upper bound on decode tokens/s: memory bandwidth, and compute.

    Formula: tokens/s ≤ B · bandwidth / (weight bytes + B · KV bytes per sequence)   (memory)
             tokens/s ≤ peak / (2·N + 4·L·H·Q·S)                                      (compute)
             KV bytes per sequence = 2·L·n_kv·Q·bytes · S per layer kind (S capped by a window or chunk).
    Source:  pope2022 §2 (memory-bandwidth bound decode); kwon2023 §3 (KV cache per token).
    """
    if batch_size <= 0:
        raise LLMBudgetError(f"batch size must be positive, got {batch_size}")
    serving = _serving_need(size, batch_size=batch_size, context_tokens=context_tokens, precision=precision)
    usable = usable_memory(gpu).usable_bytes
    kv_seq = kv_bytes_per_sequence(size, context_tokens=context_tokens, bits=bits, layout=kv_layout)
    shared = size.params_total - size.expert_params
    weights_read = _stored_bytes(shared + _expert_weights_read(size, batch_size), bits)
    kv_read = batch_size * kv_seq
    step = weights_read + kv_read
    memory_bound = batch_size * gpu.bandwidth_gb_s * 1e9 / step
    compute_bound = peak_tflops * 1e12 / forward_flops_per_token(size, seq_len=context_tokens)
    bound = min(memory_bound, compute_bound)
    needed = _stored_bytes(size.params_total, bits) + kv_read
    return DecodeBound(
        batch_size=batch_size,
        context_tokens=context_tokens,
        weight_bytes_read=weights_read,
        kv_bytes_read=kv_read,
        bytes_per_step=step,
        memory_bound_tokens_per_s=memory_bound,
        compute_bound_tokens_per_s=compute_bound,
        tokens_per_s=bound,
        tokens_per_s_per_sequence=bound / batch_size,
        limited_by="memory bandwidth" if memory_bound <= compute_bound else "compute",
        memory_needed_bytes=needed,
        serving_need_bytes=serving,
        usable_bytes=usable,
        fits=serving <= usable,
        min_gpus=-(-serving // usable),
    )


def _gpu_inference(
    size: ModelSize,
    gpu: GpuSpec,
    choice: PeakChoice,
    *,
    context_tokens: int,
    batch_sizes: Sequence[int],
    bits: int,
    mfu: float,
    kv_layout: KVLayout = "transformers",
) -> GpuInference:
    """One GPU type: the prefill time of one prompt at the MFU, and the decode bound at each batch size."""
    prefill = forward_flops_per_token(size, seq_len=context_tokens) * context_tokens
    return GpuInference(
        gpu=gpu.name,
        gpu_display_name=gpu.display_name,
        precision=choice.precision,
        precision_note=choice.note,
        peak_tflops=choice.peak_tflops,
        bandwidth_gb_s=gpu.bandwidth_gb_s,
        memory_bytes=gpu.memory_bytes,
        prefill_s=prefill / (choice.peak_tflops * 1e12 * mfu),
        decode=[
            decode_bound(
                size,
                gpu,
                batch_size=b,
                context_tokens=context_tokens,
                bits=bits,
                peak_tflops=choice.peak_tflops,
                precision=choice.precision,
                kv_layout=kv_layout,
            )
            for b in batch_sizes
        ],
    )


def inference_estimate(
    size: ModelSize,
    gpus: Sequence[GpuSpec],
    *,
    context_tokens: int,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    precision: Optional[str] = None,
    mfu: float = DEFAULT_MFU,
    kv_layout: KVLayout = "transformers",
) -> InferenceEstimate:
    """Prefill FLOPs and time, and the decode bounds per GPU type and batch size.

    Formula: prefill = (2·N + 4·L·H·Q·T) per token (forward only); prefill time = that × T / (peak · MFU);
             decode bounds as in `decode_bound`. Weights and KV cache are stored at the precision's
             width (bf16/fp16: 2 bytes; fp8/int8: 1; fp32/tf32: 4).
    Source:  kaplan2020 Table 1 (forward ≈ 2N); pope2022 §2; kwon2023 §3.
    """
    check_utilization(mfu)
    if not batch_sizes:
        raise LLMBudgetError("give at least one batch size")
    choices = [resolve_peak(g, precision) for g in gpus]
    bits = storage_bits(choices[0].precision if choices else parse_compute_precision(precision or "bf16"))
    forward = forward_flops_per_token(size, seq_len=context_tokens)
    kv_token = kv_bytes_per_token(size, bits=bits, layout=kv_layout)
    sequence_cache = _sequence_cache(size, context_tokens, bits, kv_layout) if size.spec is not None else None
    return InferenceEstimate(
        storage_bits=bits,
        weight_bytes=_stored_bytes(size.params_total, bits),
        kv_bytes_per_token=kv_token,
        context_tokens=context_tokens,
        kv_bytes_per_sequence=kv_bytes_per_sequence(size, context_tokens=context_tokens, bits=bits, layout=kv_layout),
        kv_cache=sequence_cache,
        prefill_flops_per_token=forward,
        prefill_flops=forward * context_tokens,
        decode_flops_per_token=forward,  # the same forward pass, one token at a context of context_tokens
        mfu=mfu,
        gpus=[
            _gpu_inference(
                size,
                g,
                c,
                context_tokens=context_tokens,
                batch_sizes=batch_sizes,
                bits=bits,
                mfu=mfu,
                kv_layout=kv_layout,
            )
            for g, c in zip(gpus, choices, strict=True)
        ],
        formula="tokens/s ≤ min(B · bandwidth / (weights + B · KV), peak / (2·N + 4·L·H·Q·S))",
        source=SRC_DECODE,
    )
