"""Serving capacity: one entry point that checks the settings as the engine would and asks the engine's model."""

from __future__ import annotations

from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec
from llm_budget.model.spec import ModelSpec
from llm_budget.serving.engines import engine_version
from llm_budget.serving.results import ServeReport
from llm_budget.serving.setup import ServeSetup
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
