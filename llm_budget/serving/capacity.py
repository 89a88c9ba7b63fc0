"""Serving capacity: one entry point that checks the settings as the engine would and asks the engine's model."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict

from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec
from llm_budget.model.spec import ModelSpec
from llm_budget.serving.engines import engine_version
from llm_budget.serving.results import EngineChange, ServeReport
from llm_budget.serving.setup import ServeSetup
from llm_budget.serving.throughput import ThroughputBounds, throughput_bounds
from llm_budget.units import GiB


def resolve_max_model_len(spec: ModelSpec, setup: ServeSetup) -> int:
    """--max-model-len, else the model's context window; longer than the window is refused as vLLM refuses it
    (vllm/config/model.py _get_and_verify_max_len) unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1."""
    window = spec.context_window
    if setup.max_model_len is None:
        if window is None:
            raise LLMBudgetError("--max-model-len: the model states no context window; give --max-model-len")
        return window
    if window is not None and setup.max_model_len > window and not setup.allow_long_max_model_len:
        raise LLMBudgetError(
            f"--max-model-len {setup.max_model_len} is greater than the model's context window ({window}): "
            "vLLM refuses it unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 (outputs may be wrong past the window)"
        )
    return setup.max_model_len


def serve_capacity(spec: ModelSpec, gpu: GpuSpec, setup: ServeSetup) -> ServeReport:
    """The KV-cache capacity `setup.engine` computes at start-up for `spec` on one `gpu` per rank."""
    row = engine_version(setup.engine, setup.engine_version)
    max_model_len = resolve_max_model_len(spec, setup)
    if setup.kv_cache_dtype == "fp8_ds_mla" and spec.mla is None:
        raise LLMBudgetError("--kv-cache-dtype fp8_ds_mla is DeepSeek's MLA cache layout; this model has no MLA")
    if setup.weights_bytes is not None and setup.weights_bytes // setup.world_size >= gpu.device_memory_bytes:
        raise LLMBudgetError(
            f"the weights ({setup.weights_bytes / GiB:.2f} GiB over {setup.world_size} rank(s)) do not fit on "
            f"{gpu.display_name}"
        )
    if setup.engine == "sglang":
        from llm_budget.serving.sglang import sglang_capacity

        return sglang_capacity(spec, gpu, setup, row, max_model_len)
    from llm_budget.serving.vllm import vllm_capacity

    return vllm_capacity(spec, gpu, setup, row, max_model_len)


class ServeView(BaseModel):
    """The capacity the engine logs, and throughput bounds at that concurrency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity: ServeReport
    throughput: Optional[ThroughputBounds] = None  # None when the engine refuses to start
    changes: list[EngineChange] = []  # one at a time: what the engine computes with each (serving/changes.py)


def serve_view(spec: ModelSpec, gpu: GpuSpec, setup: ServeSetup, *, prompt: Optional[int] = None) -> ServeView:
    """serve_capacity, then decode and prefill bounds for as many max_model_len sequences as run at once
    (at most max_num_seqs), and a prefill of `prompt` tokens (default: max_model_len)."""
    from llm_budget.serving.changes import engine_changes

    report = serve_capacity(spec, gpu, setup)
    changes = engine_changes(spec, gpu, setup)
    if not report.starts:
        return ServeView(capacity=report, changes=changes)
    peak = gpu.peak_tflops(setup.dtype.value) or gpu.peak_tflops("fp16") or gpu.peak_tflops("fp32")
    if peak is None:
        raise LLMBudgetError(f"{gpu.display_name} lists no peak for {setup.dtype.value}: no throughput bound")
    batch = max(1, min(report.max_num_seqs, int(report.max_concurrency)))
    bounds = throughput_bounds(
        spec,
        gpu,
        report,
        concurrency=batch,
        context=report.max_model_len,
        prompt=min(prompt or report.max_model_len, report.max_model_len),
        peak_tflops=peak,
    )
    return ServeView(capacity=report, throughput=bounds, changes=changes)
