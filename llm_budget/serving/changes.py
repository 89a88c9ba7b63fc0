"""What would change the engine's answer, one change at a time: a smaller max_model_len, an FP8 KV cache, more
tensor-parallel ranks, a quantized checkpoint, a higher memory share. Each is run through the same engine model
(serve_capacity), so a change's promise is the engine's own arithmetic on the changed settings."""

from __future__ import annotations

from typing import Any, Optional

from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec, Precision
from llm_budget.memory.inference import inference_memory
from llm_budget.memory.setup import InferSetup
from llm_budget.model.spec import ModelSpec
from llm_budget.serving.capacity import serve_capacity
from llm_budget.serving.results import EngineChange, ServeReport
from llm_budget.serving.setup import ServeSetup


def _longest(spec: ModelSpec, gpu: GpuSpec, setup: ServeSetup) -> Optional[int]:
    """The longest max_model_len that starts (the engine's own estimate in its refusal, else a binary search)."""
    report = serve_capacity(spec, gpu, setup)
    if report.starts:
        return report.max_model_len
    lo, hi, best = 1, report.max_model_len - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if serve_capacity(spec, gpu, setup.model_copy(update={"max_model_len": mid})).starts:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def _candidates(spec: ModelSpec, setup: ServeSetup) -> list[tuple[str, str, dict[str, Any]]]:
    out: list[tuple[str, str, dict[str, Any]]] = []
    if setup.kv_cache_dtype in ("auto", "bfloat16", "float16"):
        out.append(("FP8 KV cache", "--kv-cache-dtype fp8", {"kv_cache_dtype": "fp8"}))
    tp = setup.tensor_parallel_size * 2
    while tp <= 8 and spec.n_heads % tp:
        tp *= 2
    if tp <= 8:
        out.append((f"{tp} tensor-parallel ranks", f"--tensor-parallel-size {tp}", {"tensor_parallel_size": tp}))
    for precision, label in ((Precision.fp8_e4m3, "FP8"), (Precision.int4, "4-bit")):
        weights = inference_memory(spec, InferSetup(precision=precision)).components[0].bytes
        if setup.weights_bytes is None or weights < setup.weights_bytes:
            out.append(
                (f"an {label} checkpoint" if label == "FP8" else f"a {label} checkpoint (GPTQ/AWQ-like)",
                 f"--weights-bytes {weights}", {"weights_bytes": weights})
            )  # fmt: skip
    if setup.engine == "vllm" and setup.gpu_memory_utilization < 0.95:
        out.append(("a higher memory share", "--gpu-memory-utilization 0.95", {"gpu_memory_utilization": 0.95}))
    return out


def engine_changes(spec: ModelSpec, gpu: GpuSpec, setup: ServeSetup) -> list[EngineChange]:
    """The engine's answer under each change (first: the longest max_model_len that starts, when it refuses)."""
    base = serve_capacity(spec, gpu, setup)
    out: list[EngineChange] = []
    if not base.starts:
        longest = _longest(spec, gpu, setup)
        if longest:
            r = serve_capacity(spec, gpu, setup.model_copy(update={"max_model_len": longest}))
            out.append(_row("a shorter max_model_len", f"--max-model-len {longest}", r))
    for change, option, update in _candidates(spec, setup):
        try:
            r = serve_capacity(spec, gpu, setup.model_copy(update=update))
        except LLMBudgetError:
            continue  # e.g. the weights no longer fit at all
        out.append(_row(change, option, r))
    return out


def _row(change: str, option: str, r: ServeReport) -> EngineChange:
    return EngineChange(
        change=change,
        option=option,
        starts=r.starts,
        max_model_len=r.max_model_len,
        kv_cache_tokens=r.kv_cache_tokens,
        max_concurrency=r.max_concurrency,
    )
