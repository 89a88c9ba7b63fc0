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


_LAYER_KINDS = {"full_attention", "sliding_attention", "chunked_attention"}


def shortest_period(kinds: list[str]) -> list[str]:
    """The shortest prefix that, repeated, gives the whole list (Gemma 3's 62 entries -> 5 sliding, 1 full)."""
    n = len(kinds)
    for p in range(1, n + 1):
        if all(kinds[i] == kinds[i % p] for i in range(n)):
            return kinds[:p]
    return kinds


def layer_pattern(cfg: Config, n_layers: int) -> list[str] | None:
    """transformers' `layer_types` (one entry per block, e.g. Gemma 2/3, gpt-oss, Cohere 2) as ModelSpec.layer_pattern.

    None when the config has no `layer_types`. An entry other than full/sliding/chunked attention (a linear
    or state-space mixer) is refused: those layers need a mapper that knows their parameters.
    """
    kinds = cfg.get("layer_types")
    if kinds is None:
        return None
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise SpecError("config.json: 'layer_types' must be a list of strings")
    if len(kinds) != n_layers:
        raise SpecError(f"config.json: 'layer_types' has {len(kinds)} entries for num_hidden_layers={n_layers}")
    unknown = sorted(set(kinds) - _LAYER_KINDS)
    if unknown:
        raise SpecError(f"config.json: layer type '{unknown[0]}' is not an attention layer this mapper knows")
    return shortest_period(kinds)
