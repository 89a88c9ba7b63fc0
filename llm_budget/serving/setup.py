"""The serving engine's settings, named as the engines name them (`vllm serve --gpu-memory-utilization ...`)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from llm_budget.hardware import Precision
from llm_budget.memory.prefill import prefill_workspace
from llm_budget.model.spec import ModelSpec
from llm_budget.units import GiB, MiB

KvCacheDtype = Literal["auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_ds_mla"]
"""--kv-cache-dtype as vLLM takes it (vllm/config/cache.py CacheDType; SGLang: auto, fp8_e4m3, fp8_e5m2, bf16)."""

KV_BITS: dict[str, Optional[int]] = {
    "auto": None,
    "bfloat16": 16,
    "float16": 16,
    "fp8": 8,
    "fp8_e4m3": 8,
    "fp8_e5m2": 8,
    "fp8_ds_mla": 8,
}

NON_TORCH_AT_START = int(0.35 * GiB)
"""Memory outside PyTorch's allocator that the first budgets subtract (CUDA context, cuBLAS/NCCL workspaces):
'non_torch_memory=0.35GiB' in a vLLM 0.6 start-up log, Llama-3.1-8B on an RTX 3090
(https://github.com/vllm-project/vllm/issues/10517). An estimate: the engine measures it."""

NON_TORCH_INCREASE = 128 * MiB
"""Non-torch memory that grows during the profile run once the start-up snapshot is taken (v1-requested budgets),
one rank; tensor parallelism adds NCCL and custom all-reduce buffers (NCCL_BUFFERS per rank). Estimates."""

NCCL_BUFFERS = 512 * MiB

CUDA_GRAPH_MEMORY = 512 * MiB
"""The CUDA-graph memory vLLM's v0.19 profiler subtracts (captured sizes up to min(2 · max_num_seqs, 512)
tokens). An estimate: the engine captures and measures it; 0 with --enforce-eager."""


class ServeSetup(BaseModel):
    """The engine's options, as its command line names them, plus what a checkpoint can tell (weights_bytes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Literal["vllm", "sglang"] = "vllm"
    engine_version: Optional[str] = None
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0)  # vllm/config/cache.py: default 0.9
    mem_fraction_static: Optional[float] = Field(None, gt=0.0, le=1.0)  # SGLang (default by TP size)
    max_model_len: Optional[PositiveInt] = None  # default: the model's context window
    max_num_seqs: Optional[PositiveInt] = None
    max_num_batched_tokens: Optional[PositiveInt] = None
    block_size: Optional[PositiveInt] = None
    kv_cache_dtype: KvCacheDtype = "auto"
    dtype: Precision = Precision.bf16  # the model's weights and activations (--dtype auto: the config's)
    tensor_parallel_size: PositiveInt = 1
    pipeline_parallel_size: PositiveInt = 1
    enforce_eager: bool = False
    kv_cache_memory_bytes: Optional[PositiveInt] = None  # vLLM --kv-cache-memory: skips the profiling
    weights_bytes: Optional[PositiveInt] = None  # the whole checkpoint as loaded (default: the spec at dtype)
    allow_long_max_model_len: bool = False  # VLLM_ALLOW_LONG_MAX_MODEL_LEN=1
    large_gpu: bool = False  # ≥ 70 GiB and not an A100: vLLM's larger scheduler defaults

    @model_validator(mode="after")
    def _check(self) -> ServeSetup:
        if self.dtype not in (Precision.bf16, Precision.fp16, Precision.fp32):
            raise ValueError("dtype: the compute dtype is bf16, fp16 or fp32 (a quantized checkpoint: weights_bytes)")
        return self

    @property
    def kv_bits(self) -> int:
        return KV_BITS[self.kv_cache_dtype] or self.dtype.bits

    @property
    def world_size(self) -> int:
        return self.tensor_parallel_size * self.pipeline_parallel_size

    def scheduler_defaults(self, *, v0_max_model_len: int = 0) -> tuple[int, int]:
        """max_num_seqs and max_num_batched_tokens for `vllm serve` (the OpenAI server).

        V1: 1024 and 8192 on GPUs of ≥ 70 GiB other than the A100, else 256 and 2048 (vllm/engine/arg_utils.py
        get_batch_defaults). V0 (`v0_max_model_len` given): 256 sequences, and without chunked prefill the whole
        max_model_len in one step (at least 2048); past 32K chunked prefill is on, 512 tokens a step
        (vllm/config.py SchedulerConfig, vllm/engine/arg_utils.py use_long_context, v0.6 line)."""
        if v0_max_model_len:
            seqs = self.max_num_seqs or 256
            chunked = v0_max_model_len > 32768
            return seqs, self.max_num_batched_tokens or (512 if chunked else max(v0_max_model_len, 2048))
        seqs = self.max_num_seqs or (1024 if self.large_gpu else 256)
        tokens = self.max_num_batched_tokens or (8192 if self.large_gpu else 2048)
        return seqs, tokens


def activation_peak(spec: ModelSpec, *, tokens: int, seqs: int, c: int) -> int:
    """The profile run's peak above the weights (vllm/v1/worker/gpu_model_runner.py profile_run): a forward of
    `tokens` tokens (llm_budget's prefill workspace: one block's live tensors), or after it the sampler's FP32
    logits and probabilities for min(seqs, tokens) requests beside the last hidden states, whichever is larger
    (the block's temporaries are freed before the sampler runs). An estimate; the engine measures it.
    Held to vLLM 0.6 logs: 2.07 GiB at 20,000 tokens and 2.99 GiB at 29,000 for Llama-3.1-8B (vllm#10517)."""
    rows = min(seqs, tokens)
    sampler = tokens * spec.d_embed * c + 2 * rows * spec.n_vocab * 4
    return max(prefill_workspace(spec, batch=1, prompt=tokens, c=c), sampler)
