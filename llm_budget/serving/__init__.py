"""Serving capacity as the engines compute it (vLLM, SGLang): KV-cache blocks, tokens and concurrency at
start-up, to the block, and throughput bounds at that concurrency."""

from llm_budget.serving.capacity import ServeView, resolve_max_model_len, serve_capacity, serve_view
from llm_budget.serving.engines import ENGINES, EngineVersion, engine_version
from llm_budget.serving.results import BudgetLine, Concurrency, KVGroup, ServeReport
from llm_budget.serving.setup import ServeSetup
from llm_budget.serving.weights import is_large_gpu, loaded_weight_bytes

__all__ = [
    "ENGINES",
    "BudgetLine",
    "Concurrency",
    "EngineVersion",
    "KVGroup",
    "ServeReport",
    "ServeSetup",
    "ServeView",
    "engine_version",
    "is_large_gpu",
    "loaded_weight_bytes",
    "resolve_max_model_len",
    "serve_capacity",
    "serve_view",
]
