"""What the transformers fallback needs installed, and the one-line error when it is not."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from llm_budget.errors import LLMBudgetError, SpecError

INSTALL_HINT = "pip install 'llm-gpu-budget[probe]'"
"""The distribution is llm-gpu-budget; its `probe` extra holds torch and transformers."""


def require_torch_and_transformers(model_type: object, native: list[str]) -> None:
    """Import torch and transformers, or raise the one-line error that names the install and the native families."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        shown = repr(model_type) if len(repr(model_type)) <= 60 else repr(model_type)[:57] + "…"
        raise LLMBudgetError(
            f"model_type {shown} has no native mapper; measuring it from transformers' own class needs "
            f"torch and transformers ({INSTALL_HINT}); native: {', '.join(sorted(native))}"
        ) from None


@cache
def causal_lm_types() -> dict[str, str] | None:
    """model_type -> class name of every causal LM the installed transformers has, read from its
    models/auto/modeling_auto.py as text (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES): importing transformers'
    auto classes imports torch (seconds), and a type it lacks can be refused before that.
    None when transformers is not installed or the file is not laid out so."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("transformers")
    except (ImportError, ValueError):  # ValueError: sys.modules holds None for it (an import blocked)
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(next(iter(spec.submodule_search_locations))) / "models" / "auto" / "modeling_auto.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES" for t in node.targets
        ):
            out: dict[str, str] = {}
            for pair in ast.walk(node.value):
                if isinstance(pair, ast.Tuple) and len(pair.elts) == 2:
                    key, value = pair.elts
                    if (
                        isinstance(key, ast.Constant)
                        and isinstance(value, ast.Constant)
                        and isinstance(key.value, str)
                        and isinstance(value.value, str)
                    ):
                        out[key.value] = value.value
            return out
    return None


def refuse_unknown_types(model_type: object, native: list[str]) -> None:
    """A model_type the installed transformers has no causal LM for: refused at once, without importing torch."""
    known = causal_lm_types()
    if known is not None and model_type not in known:
        shown = repr(model_type) if len(repr(model_type)) <= 60 else repr(model_type)[:57] + "…"
        raise SpecError(
            f"unsupported model_type {shown} in config.json: the installed transformers has no causal-LM class for it "
            f"either (llm-budget counts decoder-only language models); supported natively: {', '.join(sorted(native))}"
        )
