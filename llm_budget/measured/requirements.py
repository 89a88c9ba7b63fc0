"""What the transformers fallback needs installed, and the one-line error when it is not."""

from __future__ import annotations

from llm_budget.errors import LLMBudgetError

INSTALL_HINT = "pip install 'llm-gpu-budget[probe]' transformers"
"""The distribution is llm-gpu-budget; its `probe` extra holds torch, and transformers is installed beside it."""


def require_torch_and_transformers(model_type: object, native: list[str]) -> None:
    """Import torch and transformers, or raise the one-line error that names the install and the native families."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise LLMBudgetError(
            f"model_type {model_type!r} has no native mapper; measuring it from transformers' own class needs "
            f"torch and transformers ({INSTALL_HINT}); native: {', '.join(sorted(native))}"
        ) from None
