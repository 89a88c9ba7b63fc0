"""Training compute, wall-clock time, GPU-hours and cost, and the inference bounds.

Which N: the parameters a token uses, i.e. the exact total count (embeddings included, as
Hoffmann et al. 2022 and the published MFU figures count it; `--params` is taken as such a
total), and for a mixture of experts the *active* count (routed experts a token skips cost no
FLOPs). Kaplan et al.'s non-embedding N is reported beside it, not used.

Training FLOPs per token (chowdhery2022, Appendix B, the form nanoGPT's `estimate_mfu` uses):

    6·N + 12·L·H·Q·T        L layers, H query heads, Q head size, T sequence length

6·N is Kaplan et al.'s "C ≈ 6N" (forward 2N, backward 4N; kaplan2020 §2.1, Table 1); 12·L·H·Q·T
is the attention score and value products (forward 4·L·H·Q·T: QKᵀ and A·V, 2 FLOPs per
multiply-add, no discount for the causal mask; times 3 for training). Sliding-window attention
uses min(T, window). Without an architecture (`--params` only) the attention term is 0.
With full activation recomputation the hardware runs the forward twice: 8·N + 16·L·H·Q·T
(narayanan2021's 8·T·P estimate, generalised to the attention term).

Utilization: MFU = model FLOPs (no recompute) per second ÷ (GPUs × dense peak) (chowdhery2022,
Appendix B). HFU counts the recompute FLOPs too. The default MFU is 0.40 because published
large runs cluster at 35-50% (PaLM 46.2%, Megatron-LM 52%, OPT-175B ~47%, LLaMA 43-51%,
Llama 2 38-46% implied by their GPU-hours; gpu-and-compute-facts.md §4.3).

Inference: prefill costs the forward pass, 2·N + 4·L·H·Q·T per token (kaplan2020: forward 2N);
decode at small batch is bounded by memory bandwidth (pope2022): every new token reads all the
weights once per step plus each sequence's KV cache, 2·L·n_kv·Q·bytes per cached token
(kwon2023 §3), so aggregate tokens/s ≤ B·bandwidth / (weight bytes + B·KV bytes per sequence),
and also ≤ peak / FLOPs per token (compute bound). These are upper bounds: real serving reaches
a fraction of them.
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Sequence

from pydantic import BaseModel, ConfigDict

from llm_budget.memory.kv import kv_bytes, tokens_held
from llm_budget.defaults import DEFAULT_MFU, sequence_length
from llm_budget.model.counter import count_params
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec
from llm_budget.hardware import ALIASES as STORAGE_ALIASES
from llm_budget.refs import cite
from llm_budget.model.spec import ModelSpec

DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 8, 64)
SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400

COMPUTE_PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
_STORAGE_BITS = {"fp32": 32, "tf32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8}
"""Bits a weight or KV-cache value takes at a compute precision (TF32 math reads FP32 tensors)."""

SRC_6ND = cite("kaplan2020: §2.1, Table 1 (C ≈ 6N per token)")
SRC_ATTENTION = cite("chowdhery2022: Appendix B (6N + 12LHQT per token; MFU)")
SRC_RECOMPUTE = cite("narayanan2021: training time ≈ 8·T·P / (n·X) with activation recomputation")
SRC_MFU = cite("chowdhery2022: Appendix B (model FLOPs utilization)")
SRC_PREFILL = cite("kaplan2020: Table 1 (forward pass ≈ 2N + 2·n_layer·n_ctx·d_attn per token)")
SRC_DECODE = cite("pope2022: §2 (decode is memory-bandwidth bound at small batch)")
SRC_KV = cite("kwon2023: §3 (KV cache per token 2 × layers × heads × head size × bytes)")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- the model, as the FLOP formulas see it ---------------------------------------------------------------


class ModelSize(Frozen):
    """What the compute formulas need from a model: N, and the attention shape when known."""

    label: str
    params: int  # N used in the formulas: active parameters (= total for a dense model)
    params_total: int
    params_non_embedding: Optional[int]  # Kaplan et al.'s N; None with --params
    n_layers: Optional[int]  # None with --params: no attention term, no KV cache
    n_heads: Optional[int]
    n_kv_heads: Optional[int]
    d_head: Optional[int]
    sliding_window: Optional[int]
    context_window: Optional[int]
    expert_params: int  # weights of all routed experts (0 for a dense model)
    n_experts: int
    n_active_experts: int
    params_note: str

    @property
    def has_architecture(self) -> bool:
        return self.n_layers is not None


def model_size(spec: Optional[ModelSpec] = None, *, params: Optional[int] = None) -> ModelSize:
    """N (active parameters, embeddings included) and the attention shape of a spec, or a bare count."""
    if (spec is None) == (params is None):
        raise LLMBudgetError("give a model (--preset, --hf-config or sizes) or --params, exactly one")
    if params is not None:
        if params <= 0:
            raise LLMBudgetError(f"parameters must be positive, got {params}")
        return ModelSize(
            label=f"{params:,} parameters",
            params=params,
            params_total=params,
            params_non_embedding=None,
            n_layers=None,
            n_heads=None,
            n_kv_heads=None,
            d_head=None,
            sliding_window=None,
            context_window=None,
            expert_params=0,
            n_experts=1,
            n_active_experts=1,
            params_note="N = --params as given (total parameters); no architecture, so no attention term and no KV cache",
        )
    assert spec is not None
    count = count_params(spec)
    note = "N = exact total parameters, embeddings included (as Hoffmann et al. 2022 and published MFU figures count)"
    if spec.is_moe:
        note = (
            f"N = active parameters ({spec.active_experts} of {spec.n_experts} experts per token; "
            f"total {count.total:,}): routed experts a token skips cost no FLOPs"
        )
    return ModelSize(
        label=spec.label,
        params=count.active,
        params_total=count.total,
        params_non_embedding=count.non_embedding,
        n_layers=spec.n_layers,
        n_heads=spec.n_heads,
        n_kv_heads=spec.kv_heads,
        d_head=spec.head_dim,
        sliding_window=spec.sliding_window,
        context_window=spec.context_window,
        expert_params=count.get("Experts"),
        n_experts=spec.n_experts,
        n_active_experts=spec.active_experts,
        params_note=note,
    )


def default_seq_len(size: ModelSize, seq_len: Optional[int] = None) -> int:
    """--seq, else the model's context window, else 2048."""
    if seq_len is not None:
        if seq_len <= 0:
            raise LLMBudgetError(f"sequence length must be positive, got {seq_len}")
        return seq_len
    return sequence_length(None, size.context_window)


def _attention_span(size: ModelSize, seq_len: int) -> int:
    return tokens_held(seq_len, size.sliding_window)


# -- training FLOPs -----------------------------------------------------------------------------------------


class FlopTerm(Frozen):
    name: str
    formula: str  # symbols
    expression: str  # numbers
    flops: int
    source: str  # refs.py key: section


class TrainingFlops(Frozen):
    """FLOPs to train on `tokens` tokens. Exact integers."""

    params: int  # N (active)
    tokens: int  # D
    seq_len: int  # T
    attention_span: int  # min(T, sliding window)
    dense_flops_per_token: int  # 6·N
    attention_flops_per_token: int  # 12·L·H·Q·T (0 without an architecture)
    model_flops_per_token: int
    model_flops: int  # (6·N + 12·L·H·Q·T)·D: what MFU counts
    flops_6nd: int  # 6·N·D alone (Kaplan; Chinchilla's C)
    recompute: bool
    hardware_flops_per_token: int  # 8·N + 16·L·H·Q·T with recompute, else = model
    hardware_flops: int
    terms: list[FlopTerm]


def training_flops(size: ModelSize, tokens: int, *, seq_len: int, recompute: bool = False) -> TrainingFlops:
    """Model FLOPs (and hardware FLOPs with recomputation) to train `size` on `tokens` tokens.

    Formula: C = (6·N + 12·L·H·Q·T)·D; with full activation recomputation the hardware does
             (8·N + 16·L·H·Q·T)·D (one more forward pass); N active parameters, D tokens,
             L layers, H query heads, Q head size, T sequence length (sliding window: min(T, W)).
    Source:  kaplan2020 §2.1 (6N), chowdhery2022 Appendix B (12LHQT), narayanan2021 (8·T·P).
    """
    if tokens <= 0:
        raise LLMBudgetError(f"tokens must be positive, got {tokens}")
    N, D = size.params, tokens
    T = _attention_span(size, seq_len)
    dense = 6 * N
    terms = [FlopTerm(name="Dense (6·N·D)", formula="6 × N × D", expression=f"6 × {N:,} × {D:,}", flops=dense * D, source=SRC_6ND)]
    lhqt = 0  # L·H·Q·T
    if size.has_architecture:
        L, H, Q = size.n_layers, size.n_heads, size.d_head
        assert L is not None and H is not None and Q is not None
        lhqt = L * H * Q * T
        span = "T" if T == seq_len else "W"
        terms.append(
            FlopTerm(
                name="Attention (12·L·H·Q·T·D)",
                formula=f"12 × L × H × Q × {span} × D",
                expression=f"12 × {L} × {H} × {Q} × {T:,} × {D:,}",
                flops=12 * lhqt * D,
                source=SRC_ATTENTION,
            )
        )
    attn = 12 * lhqt
    model = dense + attn
    hardware = model
    if recompute:
        hardware = 8 * N + 16 * lhqt
        extra = hardware - model  # 2·N + 4·L·H·Q·T
        terms.append(
            FlopTerm(
                name="Recompute (one more forward)",
                formula="(2 × N + 4 × L × H × Q × T) × D",
                expression=f"{extra:,} × {D:,}",
                flops=extra * D,
                source=SRC_RECOMPUTE,
            )
        )
    return TrainingFlops(
        params=N,
        tokens=D,
        seq_len=seq_len,
        attention_span=T,
        dense_flops_per_token=dense,
        attention_flops_per_token=attn,
        model_flops_per_token=model,
        model_flops=model * D,
        flops_6nd=6 * N * D,
        recompute=recompute,
        hardware_flops_per_token=hardware,
        hardware_flops=hardware * D,
        terms=terms,
    )


# -- GPUs: precision, peak, utilization ---------------------------------------------------------------------


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
        raise LLMBudgetError(f"{gpu.display_name} has no bf16 or fp16 peak in the catalog; give --precision ({_available(gpu)})")
    p = parse_compute_precision(precision)
    peak = gpu.peak_tflops(p)
    if peak is None:
        raise LLMBudgetError(f"{gpu.display_name} has no {p} peak (no such tensor-core path); it has: {_available(gpu)}")
    return PeakChoice(precision=p, peak_tflops=peak, note=None)


def _available(gpu: GpuSpec) -> str:
    return ", ".join(k for k, v in gpu.peak_tflops_dense.model_dump().items() if v is not None)


def check_utilization(value: float, what: str = "MFU") -> float:
    """A utilization is a fraction of peak in (0, 1]."""
    if not math.isfinite(value) or not 0 < value <= 1:
        raise LLMBudgetError(f"{what} must be in (0, 1] (a fraction of peak: 0.4 means 40%), got {value:g}")
    return value


def _positive(value: Optional[float], what: str) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise LLMBudgetError(f"{what} must be positive, got {value:g}")


# -- one training run on one GPU type -------------------------------------------------------------------------

MfuFrom = Literal["default", "mfu", "hfu", "gpu_hours"]


class TrainingRun(Frozen):
    """Time, GPU-hours and cost of training on `n_gpus` GPUs of one type."""

    gpu: str  # catalog name
    gpu_display_name: str
    precision: str
    precision_note: Optional[str]
    peak_tflops: float  # dense peak per GPU at that precision
    n_gpus: int
    mfu: float  # model FLOPs utilization used (0-1)
    mfu_from: MfuFrom  # default (0.40), mfu (--mfu), hfu (--hfu), gpu_hours (implied by --gpu-hours)
    hfu: float  # hardware FLOPs utilization (= mfu without recompute)
    model_tflops_per_gpu: float  # achieved model TFLOP/s per GPU = peak × MFU
    time_s: float
    days: float
    gpu_hours: float
    price_usd_per_gpu_hour: Optional[float]
    price_source: Optional[str]  # "--price" or the catalog's price_source
    cost_usd: Optional[float]
    formula: str
    source: str


def training_run(
    flops: TrainingFlops,
    gpu: GpuSpec,
    *,
    n_gpus: int = 1,
    mfu: Optional[float] = None,
    hfu: Optional[float] = None,
    gpu_hours: Optional[float] = None,
    precision: Optional[str] = None,
    price: Optional[float] = None,
    mfu_from: Optional[MfuFrom] = None,
) -> TrainingRun:
    """Wall-clock time, GPU-hours and cost at a utilization, or the MFU implied by published GPU-hours.

    Formula: time = C_model / (n · peak · MFU) = C_hardware / (n · peak · HFU);
             GPU-hours = n · time / 3600; cost = GPU-hours · price;
             implied MFU = C_model / (GPU-hours · 3600 · peak).
    Source:  chowdhery2022 Appendix B (MFU); narayanan2021 (8·T·P / (n·X) with recompute).
    """
    if n_gpus <= 0:
        raise LLMBudgetError(f"number of GPUs must be positive, got {n_gpus}")
    if sum(x is not None for x in (mfu, hfu, gpu_hours)) > 1:
        raise LLMBudgetError("give one of --mfu, --hfu or --gpu-hours")
    _positive(gpu_hours, "GPU-hours")
    _positive(price, "price per GPU-hour")
    choice = resolve_peak(gpu, precision)
    peak = choice.peak_tflops * 1e12
    ratio = flops.hardware_flops / flops.model_flops  # 1, or 4/3 with recompute
    source_of_mfu: MfuFrom
    if gpu_hours is not None:
        mfu_value = flops.model_flops / (gpu_hours * SECONDS_PER_HOUR * peak)
        source_of_mfu = "gpu_hours"
    elif hfu is not None:
        mfu_value = check_utilization(hfu, "HFU") / ratio
        source_of_mfu = "hfu"
    elif mfu is not None:
        mfu_value = check_utilization(mfu)
        source_of_mfu = "mfu"
    else:
        mfu_value = DEFAULT_MFU
        source_of_mfu = "default"
    mfu_from = mfu_from or source_of_mfu  # a caller may say where a given MFU came from
    hfu_value = mfu_value * ratio
    if source_of_mfu in ("mfu", "default") and hfu_value > 1:
        raise LLMBudgetError(
            f"MFU {mfu_value:g} with recomputation means the GPUs would run at {hfu_value:.0%} of peak (HFU); give a lower --mfu"
        )
    time_s = flops.model_flops / (n_gpus * peak * mfu_value)
    hours = gpu_hours if gpu_hours is not None else n_gpus * time_s / SECONDS_PER_HOUR
    price_source: Optional[str] = None
    if price is not None:
        price_source = "--price"
    elif gpu.price_usd_per_hour is not None:
        price, price_source = gpu.price_usd_per_hour, gpu.price_source or "GPU catalog"
    return TrainingRun(
        gpu=gpu.name,
        gpu_display_name=gpu.display_name,
        precision=choice.precision,
        precision_note=choice.note,
        peak_tflops=choice.peak_tflops,
        n_gpus=n_gpus,
        mfu=mfu_value,
        mfu_from=mfu_from,
        hfu=hfu_value,
        model_tflops_per_gpu=choice.peak_tflops * mfu_value,
        time_s=time_s,
        days=time_s / SECONDS_PER_DAY,
        gpu_hours=hours,
        price_usd_per_gpu_hour=price,
        price_source=price_source,
        cost_usd=None if price is None else hours * price,
        formula="implied MFU = C / (GPU-hours × 3600 × peak)" if source_of_mfu == "gpu_hours" else "time = C / (n × peak × MFU)",
        source=SRC_MFU,
    )


# -- inference ---------------------------------------------------------------------------------------------------


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
    memory_needed_bytes: int  # all weights + KV cache of B sequences
    fits: bool  # on one GPU (memory_needed_bytes ≤ the card's memory)
    min_gpus: int  # GPUs whose memory holds it (tensor parallelism would also add bandwidth)


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
    kv_bytes_per_sequence: int  # at context_tokens (capped by a sliding window)
    prefill_flops_per_token: int  # 2·N + 4·L·H·Q·T
    prefill_flops: int  # one prompt of context_tokens tokens
    decode_flops_per_token: int  # 2·N + 4·L·H·Q·S at context S
    mfu: float  # used for the prefill time
    gpus: list[GpuInference]
    formula: str
    source: str


def kv_bytes_per_token(size: ModelSize, *, bits: int) -> int:
    """Bytes of K and V cached per token, all layers.

    Formula: 2 × n_layers × n_kv_heads × d_head × bytes (K and V; GQA caches n_kv_heads heads).
    Source:  kwon2023 §3 (OPT-13B: 2 × 5120 × 40 × 2 B = 800 KB per token).
    """
    if not size.has_architecture:
        return 0
    assert size.n_layers is not None and size.n_kv_heads is not None and size.d_head is not None
    return kv_bytes(n_layers=size.n_layers, kv_heads=size.n_kv_heads, head_dim=size.d_head, tokens=1, bits=bits)


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


def decode_bound(
    size: ModelSize, gpu: GpuSpec, *, batch_size: int, context_tokens: int, bits: int, peak_tflops: float
) -> DecodeBound:
    """Upper bound on decode tokens/s: memory bandwidth, and compute.

    Formula: tokens/s ≤ B · bandwidth / (weight bytes + B · KV bytes per sequence)   (memory)
             tokens/s ≤ peak / (2·N + 4·L·H·Q·S)                                      (compute)
             KV bytes per sequence = 2·L·n_kv·Q·bytes · S (S capped by a sliding window).
    Source:  pope2022 §2 (memory-bandwidth bound decode); kwon2023 §3 (KV cache per token).
    """
    if batch_size <= 0:
        raise LLMBudgetError(f"batch size must be positive, got {batch_size}")
    S = _attention_span(size, context_tokens)
    kv_seq = kv_bytes_per_token(size, bits=bits) * S
    shared = size.params_total - size.expert_params
    all_weights = (size.params_total * bits + 7) // 8
    weights_read = ((shared + _expert_weights_read(size, batch_size)) * bits + 7) // 8
    kv_read = batch_size * kv_seq
    step = weights_read + kv_read
    memory_bound = batch_size * gpu.bandwidth_gb_s * 1e9 / step
    flops_per_token = 2 * size.params + _decode_attention(size, S)
    compute_bound = peak_tflops * 1e12 / flops_per_token
    bound = min(memory_bound, compute_bound)
    needed = all_weights + kv_read
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
        fits=needed <= gpu.memory_bytes,
        min_gpus=-(-needed // gpu.memory_bytes),
    )


def _decode_attention(size: ModelSize, span: int) -> int:
    """Forward attention FLOPs per token at a context of `span` tokens.

    Formula: 4·L·H·Q·S (QKᵀ and A·V, 2 FLOPs per multiply-add; a third of the training term 12·L·H·Q·T)
    Source:  chowdhery2022 Appendix B.
    """
    if not size.has_architecture:
        return 0
    assert size.n_layers is not None and size.n_heads is not None and size.d_head is not None
    return 4 * size.n_layers * size.n_heads * size.d_head * span


def inference_estimate(
    size: ModelSize,
    gpus: Sequence[GpuSpec],
    *,
    context_tokens: int,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    precision: Optional[str] = None,
    mfu: float = DEFAULT_MFU,
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
    bits = _STORAGE_BITS[choices[0].precision] if choices else _STORAGE_BITS[parse_compute_precision(precision or "bf16")]
    T = _attention_span(size, context_tokens)
    prefill_per_token = 2 * size.params + _decode_attention(size, T)
    prefill = prefill_per_token * context_tokens
    per_gpu = []
    for gpu, choice in zip(gpus, choices):
        per_gpu.append(
            GpuInference(
                gpu=gpu.name,
                gpu_display_name=gpu.display_name,
                precision=choice.precision,
                precision_note=choice.note,
                peak_tflops=choice.peak_tflops,
                bandwidth_gb_s=gpu.bandwidth_gb_s,
                memory_bytes=gpu.memory_bytes,
                prefill_s=prefill / (choice.peak_tflops * 1e12 * mfu),
                decode=[
                    decode_bound(size, gpu, batch_size=b, context_tokens=context_tokens, bits=bits, peak_tflops=choice.peak_tflops)
                    for b in batch_sizes
                ],
            )
        )
    kv_token = kv_bytes_per_token(size, bits=bits)
    return InferenceEstimate(
        storage_bits=bits,
        weight_bytes=(size.params_total * bits + 7) // 8,
        kv_bytes_per_token=kv_token,
        context_tokens=context_tokens,
        kv_bytes_per_sequence=kv_token * T,
        prefill_flops_per_token=prefill_per_token,
        prefill_flops=prefill,
        decode_flops_per_token=2 * size.params + _decode_attention(size, T),
        mfu=mfu,
        gpus=per_gpu,
        formula="tokens/s ≤ min(B · bandwidth / (weights + B · KV), peak / (2·N + 4·L·H·Q·S))",
        source=SRC_DECODE,
    )


# -- the whole `llm-budget compute` answer ------------------------------------------------------------------------


class ComputeEstimate(Frozen):
    """`llm-budget compute`: training FLOPs, time and cost per GPU type, and inference bounds."""

    model: str
    params: int  # N used (active)
    params_total: int
    params_non_embedding: Optional[int]
    params_note: str
    tokens: Optional[int]
    seq_len: int
    training: Optional[TrainingFlops]  # None without --tokens
    runs: list[TrainingRun]  # one per GPU type: --gpu, then --vs
    speedup: Optional[float]  # time on --gpu ÷ time on --vs (> 1: the --vs card is faster)
    inference: Optional[InferenceEstimate]  # None without --gpu
    notes: list[str]


def estimate_compute(
    size: ModelSize,
    *,
    tokens: Optional[int] = None,
    seq_len: Optional[int] = None,
    gpus: Sequence[GpuSpec] = (),
    n_gpus: int = 1,
    mfu: Optional[float] = None,
    hfu: Optional[float] = None,
    gpu_hours: Optional[float] = None,
    recompute: bool = False,
    precision: Optional[str] = None,
    price: Optional[float] = None,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
) -> ComputeEstimate:
    """Everything `llm-budget compute` prints. `gpus` is [--gpu] or [--gpu, --vs]; `price` applies to the first.

    With `gpu_hours` (published GPU-hours on the first GPU type), the implied MFU is used for every card.
    """
    if tokens is None and gpu_hours is not None:
        raise LLMBudgetError("--gpu-hours needs --tokens (the implied MFU compares FLOPs with GPU time)")
    if tokens is None and not gpus:
        raise LLMBudgetError("nothing to estimate: give --tokens (training FLOPs) and/or --gpu (time, cost, inference)")
    if (gpu_hours is not None or price is not None or mfu is not None or hfu is not None) and not gpus:
        raise LLMBudgetError("--mfu, --hfu, --gpu-hours and --price need --gpu")
    if hfu is not None and not recompute:
        raise LLMBudgetError("--hfu counts recomputed FLOPs: use it with --recompute (without it, HFU = MFU: use --mfu)")
    if n_gpus <= 0:
        raise LLMBudgetError(f"number of GPUs must be positive, got {n_gpus}")
    T = default_seq_len(size, seq_len)
    notes: list[str] = []
    flops = training_flops(size, tokens, seq_len=T, recompute=recompute) if tokens is not None else None
    runs: list[TrainingRun] = []
    if flops is not None and gpus:
        first = training_run(flops, gpus[0], n_gpus=n_gpus, mfu=mfu, hfu=hfu, gpu_hours=gpu_hours, precision=precision, price=price)
        runs.append(first)
        for other in gpus[1:]:
            if gpu_hours is not None:
                runs.append(
                    training_run(flops, other, n_gpus=n_gpus, mfu=min(first.mfu, 1.0), precision=precision, mfu_from="gpu_hours")
                )
                notes.append(f"{other.display_name}: assumes the MFU implied on {gpus[0].display_name} ({first.mfu:.1%})")
            else:
                runs.append(training_run(flops, other, n_gpus=n_gpus, mfu=mfu, hfu=hfu, precision=precision))
        if first.mfu_from == "gpu_hours" and not 0 < first.mfu <= 1:
            notes.append(f"the implied MFU {first.mfu:.1%} is above 100%: check the GPU type, tokens and GPU-hours")
    for run in runs:
        if run.price_usd_per_gpu_hour is None:
            notes.append(f"no catalog price for {run.gpu_display_name}: give --price for a cost")
    speedup = runs[0].time_s / runs[1].time_s if len(runs) == 2 else None
    inference = None
    if gpus:
        inf_mfu = runs[0].mfu if runs and runs[0].mfu <= 1 else (mfu or DEFAULT_MFU)
        inference = inference_estimate(size, gpus, context_tokens=T, batch_sizes=batch_sizes, precision=precision, mfu=inf_mfu)
    notes += _notes(size, T, flops, gpus, precision)
    return ComputeEstimate(
        model=size.label,
        params=size.params,
        params_total=size.params_total,
        params_non_embedding=size.params_non_embedding,
        params_note=size.params_note,
        tokens=tokens,
        seq_len=T,
        training=flops,
        runs=runs,
        speedup=speedup,
        inference=inference,
        notes=notes,
    )


def _notes(size: ModelSize, T: int, flops: Optional[TrainingFlops], gpus: Sequence[GpuSpec], precision: Optional[str]) -> list[str]:
    notes = []
    if not size.has_architecture:
        notes.append("--params only: attention FLOPs and the KV cache need the architecture (--preset, --hf-config or sizes)")
    if size.sliding_window and size.sliding_window < T:
        notes.append(f"sliding window: attention spans {size.sliding_window:,} of the {T:,} tokens")
    if precision is None:
        for g in gpus:
            choice = resolve_peak(g, None)
            if choice.note:
                notes.append(choice.note)
    return notes
