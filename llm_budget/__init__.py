"""llm-budget: exact parameter counts and GPU memory/compute budgets for transformer LLMs.

The public API is plain functions on pydantic models; the CLI (llm_budget.cli) only
parses options and renders their results. Nothing here imports torch, and names are
imported lazily so that `llm-budget` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ModelSpec", "ParamCount", "count_params", "__version__"]

if TYPE_CHECKING:
    from llm_budget.model.counter import ParamCount, count_params
    from llm_budget.model.spec import ModelSpec

_LAZY = {"ModelSpec": "model.spec", "ParamCount": "model.counter", "count_params": "model.counter"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)
