"""The KV cache: the one formula every command uses for the keys and values a model keeps.

Formula: bytes = 2 · n_layers · n_kv_heads · d_head · bits/8 · tokens held
         (K and V; grouped-query attention caches n_kv_heads heads; a sliding window caps the tokens held)
Source:  Kwon et al. 2023 (vLLM) §3: OPT-13B keeps 2 × 40 layers × 5120 × 2 bytes = 800 KB per token;
         Ainslie et al. 2023 (GQA) for n_kv_heads.
"""

from __future__ import annotations

from typing import Optional

from llm_budget.hardware import Precision
from llm_budget.model.spec import ModelSpec


def kv_bytes(*, n_layers: int, kv_heads: int, head_dim: int, tokens: int, bits: int) -> int:
    """Bytes of K and V for `tokens` cached positions (all sequences together), every layer."""
    return 2 * n_layers * kv_heads * head_dim * ((tokens * bits + 7) // 8)


def tokens_held(tokens: int, sliding_window: Optional[int]) -> int:
    """Positions a sequence keeps in its cache: all of them, or the last `sliding_window` (Mistral 7B v0.1: 4,096)."""
    return min(tokens, sliding_window) if sliding_window else tokens


def kv_cache_bytes(spec: ModelSpec, *, batch: int, tokens: int, precision: Precision) -> int:
    """Keys and values of every layer for `tokens` positions of `batch` sequences.

    Formula: 2 · n_layers · n_kv_heads · d_head · bytes · batch · tokens, with tokens capped at the
             sliding window when the model has one (Mistral 7B v0.1: 4,096).
    Source:  kwon2023: §3 (2 × 5120 × 40 × 2 bytes = 800 KB per token for OPT-13B); ainslie2023 (n_kv_heads).
    """
    held = tokens_held(tokens, spec.sliding_window)
    return kv_bytes(
        n_layers=spec.n_layers, kv_heads=spec.kv_heads, head_dim=spec.head_dim, tokens=batch * held, bits=precision.bits
    )
