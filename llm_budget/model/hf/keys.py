"""Reading config.json keys: what every mapper shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from llm_budget.errors import SpecError

Config = dict[str, Any]
Fields = dict[str, Any]  # ModelSpec fields, not yet validated


class Mapper(NamedTuple):
    family: str  # ModelSpec.family of the specs it builds
    fields: Callable[[Config], Fields]
    follows: str  # the transformers modeling file it was written from (under src/transformers/models/)


def section(cfg: Config, key: str) -> Config:
    """A nested object such as DBRX's attn_config; {} when absent."""
    value = cfg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"config.json: '{key}' must be an object, got {type(value).__name__}")
    return value


def required(cfg: Config, *keys: str) -> int:
    """The first of the size `keys` present in cfg (configs rename keys across versions): a whole number."""
    for key in keys:
        value = cfg.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int):
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "…"
                raise SpecError(f"config.json: '{key}' must be a whole number, got {shown}")
            return value
    raise SpecError(f"config.json has no '{keys[0]}' (needed for model_type '{cfg.get('model_type')}')")


def optional(cfg: Config, key: str, default: Any) -> Any:
    """cfg[key], or `default` when the key is absent or null."""
    value = cfg.get(key)
    return default if value is None else value


def activation(name: str | None, default: str) -> str:
    """transformers' activation name (ACT2FN keys in transformers/activations.py) -> ModelSpec.activation."""
    name = (name if isinstance(name, str) and name else default).lower()
    if name in ("silu", "swish"):
        return "silu"
    if name == "gelu_new":
        return "gelu_new"
    if name in ("gelu_pytorch_tanh", "gelu_fast", "gelu_tanh"):
        return "gelu_tanh"
    if name.startswith("gelu"):
        return "gelu"
    if name == "relu":
        return "relu"
    return default


def tied(cfg: Config, default: bool) -> bool:
    """tie_word_embeddings; its default differs by family (PretrainedConfig: true; Llama's config: false)."""
    return bool(optional(cfg, "tie_word_embeddings", default))


def dropout(cfg: Config, key: str, default: float = 0.0) -> float:
    value = optional(cfg, key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"config.json: '{key}' must be a number, got {type(value).__name__}")
    return float(value)
