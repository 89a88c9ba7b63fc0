"""What config.json says about attention beyond the sizes: KV heads, sliding windows, layer patterns, the
rotated share, each with its configuration class's default when a key is absent.

Each family's configuration class decides differently which blocks slide when `layer_types` is absent
(transformers/models/<type>/configuration_<type>.py, `__post_init__`); the mappers pass that rule here.
"""

from __future__ import annotations

from collections.abc import Callable

from llm_budget.errors import SpecError
from llm_budget.model.hf.keys import Config, Fields, layer_pattern, optional, required, shortest_period

SLIDING, FULL = "sliding_attention", "full_attention"

Rule = Callable[[int], bool]
"""Block i slides (the family's default when config.json has no `layer_types`)."""


def every_layer(i: int) -> bool:
    """Mistral, Phi-3, StarCoder2: the window, when set, applies to every block."""
    return True


def all_but_every(n: int) -> Rule:
    """Gemma 2 (n = 2), Gemma 3 (sliding_window_pattern, 6), Cohere 2 (4): block i slides unless (i + 1) % n == 0."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SpecError(f"config.json: 'sliding_window_pattern' must be a positive whole number, got {n!r}")
    return lambda i: bool((i + 1) % n)


def from_layer(first: int) -> Rule:
    """Qwen2/Qwen3 with use_sliding_window: blocks i ≥ max_window_layers slide."""
    return lambda i: i >= first


def window_fields(
    cfg: Config, n_layers: int, window: int | None, rule: Rule, *, reads_layer_types: bool = True
) -> Fields:
    """ModelSpec.sliding_window and layer_pattern: `layer_types` when given, else `rule` over the blocks.

    `window` is the window after the family's defaults (None: no block slides, whatever the pattern says,
    as in transformers, where a sliding block without a window attends to everything). Families whose
    attention reads only `sliding_window` (Mistral, Phi-3, StarCoder2) pass reads_layer_types=False: a
    `layer_types` key in their config.json changes nothing in transformers, so nothing here either.
    """
    if window is None:
        return dict(sliding_window=None, layer_pattern=None)
    given = layer_pattern(cfg, n_layers) if reads_layer_types else None
    pattern = given if given is not None else shortest_period([SLIDING if rule(i) else FULL for i in range(n_layers)])
    if SLIDING not in pattern:
        return dict(sliding_window=None, layer_pattern=None)
    if pattern == [SLIDING]:
        return dict(sliding_window=window, layer_pattern=None)
    return dict(sliding_window=window, layer_pattern=pattern)


def kv_heads(cfg: Config, n_heads: int, absent: int | None = None) -> int:
    """num_key_value_heads: the configuration class's field default when the key is absent (Mistral 8, Qwen2/3 32,
    Gemma 16, Gemma 2/3 4, StableLM 32, StarCoder2 2; None: n_heads), n_heads when it is null (their __post_init__)."""
    if "num_key_value_heads" not in cfg:
        return n_heads if absent is None else absent
    return required(cfg, "num_key_value_heads") if cfg["num_key_value_heads"] is not None else n_heads


def window_or(cfg: Config, default: int | None) -> int | None:
    """`sliding_window` with the configuration class's default when the key is absent (an explicit null: none)."""
    return cfg.get("sliding_window", default)


def rotary_fraction(cfg: Config, default: float) -> float:
    """Share of each head that RoPE rotates: `partial_rotary_factor` (top level, or in rope_parameters /
    rope_scaling as transformers 5 stores it), GPT-NeoX's `rotary_pct`, else the family's default."""
    for key in ("rope_parameters", "rope_scaling"):
        nested = cfg.get(key)
        if isinstance(nested, dict) and nested.get("partial_rotary_factor") is not None:
            return _fraction(nested["partial_rotary_factor"])
    for key in ("partial_rotary_factor", "rotary_pct"):
        if cfg.get(key) is not None:
            return _fraction(cfg[key])
    return default


def _fraction(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise SpecError(f"config.json: the rotary share must be a number in (0, 1], got {value!r}")
    return float(value)


def flag(cfg: Config, key: str, default: bool) -> bool:
    """A boolean key with the configuration class's default when absent or null."""
    return bool(optional(cfg, key, default))
