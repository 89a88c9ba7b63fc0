"""The safe reader: a config.json -> dict. Only JSON parsing, never code from the model's repository."""

from __future__ import annotations

import json
from pathlib import Path

from llm_budget.errors import LLMBudgetError
from llm_budget.model.hf.keys import Config


def read_hf_config(path: str | Path) -> Config:
    """Parse a config.json (or the config.json in a folder), turning I/O and syntax problems into one-line user errors."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LLMBudgetError(f"{p}: no such file") from None
    except OSError as e:
        raise LLMBudgetError(f"{p}: cannot read ({e.strerror})") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise LLMBudgetError(f"{p}:{e.lineno}:{e.colno}: malformed JSON: {e.msg}") from None
    if not isinstance(cfg, dict):
        raise LLMBudgetError(f"{p}: expected a JSON object, got {type(cfg).__name__}")
    return cfg
