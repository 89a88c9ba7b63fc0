"""The safe reader: a config.json -> dict. Only JSON parsing, never code from the model's repository."""

from __future__ import annotations

from pathlib import Path

from llm_budget.errors import LLMBudgetError
from llm_budget.model.files import load_json, show_path
from llm_budget.model.hf.keys import Config


def read_hf_config(path: str | Path) -> Config:
    """Parse a config.json (or the config.json in a folder), turning I/O and syntax problems into one-line user errors.

    The file goes through model/files.py: UTF-8, at most a few MiB, a nesting limit, numbers within 1e30.
    """
    p = Path(path)
    try:
        if p.is_dir():
            p = p / "config.json"
    except (OSError, ValueError):  # too long a name, a NUL byte: load_json names the problem
        pass
    cfg = load_json(p)
    if not isinstance(cfg, dict):
        raise LLMBudgetError(f"{show_path(p)}: expected a JSON object, got {type(cfg).__name__}")
    return cfg
