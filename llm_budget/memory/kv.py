"""The KV cache: the one formula every command uses for the keys and values a model keeps.

Formula: bytes = Σ over layer kinds: layers of the kind · values per token and layer · bits/8 · tokens held
           values per token and layer: 2 · n_kv_heads · d_head (K and V; GQA caches n_kv_heads heads);
             MLA, latent layout: kv_lora_rank + qk_rope_head_dim (the compressed latent and the shared rope key);
             MLA, per-head layout: n_heads · (qk_head_dim + v_head_dim) (the up-projected keys and values);
           tokens held: full attention all of them; sliding the last sliding_window; chunked attention_chunk.
Source:  Kwon et al. 2023 (vLLM) §3: OPT-13B keeps 2 × 40 layers × 5120 × 2 bytes = 800 KB per token;
         Ainslie et al. 2023 (GQA) for n_kv_heads; DeepSeek-V2 §2.1.2 Table 1 for MLA's (d_c + d_h^R) per token.
Engines: transformers ≥ 5 caches MLA's latent (transformers/models/deepseek_v3/modeling_deepseek_v3.py,
         DeepseekV3Attention.forward: `cache.update(kv_nope, k_rot)` on the (b, 1, s, kv_lora_rank) and
         (b, 1, s, qk_rope_head_dim) latents), as vLLM (vllm/v1/attention/backends/mla/common.py: one
         kv_lora_rank + qk_rope_head_dim "head" per token) and SGLang do (sglang/srt/mem_cache/memory_pool.py,
         MLATokenToKVPool: kv_cache_dim = kv_lora_rank + qk_rope_head_dim). transformers 4.x cached the per-head
         keys (qk_head_dim) and values (v_head_dim) of every head, as engines without an MLA kernel do.
         Sliding and chunked layers: transformers' DynamicSlidingWindowLayer (cache_utils.py) keeps the last
         window − 1 positions between steps and concatenates the new token, so a step reads `window` positions:
         the figure here (chunked layers are sliding layers of attention_chunk there: get_layer_types_and_kwargs).
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict

from llm_budget.hardware import Precision
from llm_budget.model.spec import LayerKind, ModelSpec

KVLayout = Literal["transformers", "latent", "per_head"]
"""How MLA's cache is laid out: transformers (the installed version's own cache: the latent since 5.0),
latent (vLLM, SGLang: kv_lora_rank + qk_rope_head_dim per token and layer) or per_head (transformers 4.x,
engines without an MLA kernel: every head's key and value). Other attention kinds have one layout."""

KV_LAYOUTS: tuple[str, ...] = ("transformers", "latent", "per_head")


class KVRow(BaseModel):
    """The cache of the layers of one attention kind."""

    model_config = ConfigDict(frozen=True)

    kind: str  # full_attention | sliding_attention | chunked_attention (transformers' layer_types names)
    layers: int
    values_per_token: int  # cached values per token and layer (K and V together)
    cap: Optional[int]  # the window or chunk that caps the positions held (None: grows with the context)
    tokens_held: int  # positions each sequence keeps: min(tokens, cap)
    bytes: int  # layers · values_per_token · bits/8 · batch · tokens_held


class KVCache(BaseModel):
    """The KV cache of a model for `batch` sequences of `tokens` positions, one row per attention kind present."""

    model_config = ConfigDict(frozen=True)

    layout: str  # "standard" (K and V per kv head), or MLA's "latent" / "per_head"
    bits: int
    batch: int
    tokens: int
    rows: list[KVRow]
    total_bytes: int
    bytes_per_token: int  # the cache one more token of one sequence adds while no window is full


def cache_bytes(*, n_layers: int, values_per_token: int, tokens: int, bits: int) -> int:
    """The one cache formula: layers × values per token and layer × ceil(tokens · bits / 8) bytes.
    Values per token: 2·n_kv_heads·d_head for K and V; MLA's latent: kv_lora_rank + qk_rope_head_dim."""
    return n_layers * values_per_token * ((tokens * bits + 7) // 8)


def kv_bytes(*, n_layers: int, kv_heads: int, head_dim: int, tokens: int, bits: int) -> int:
    """Bytes of K and V for `tokens` cached positions (all sequences together), every layer."""
    return cache_bytes(n_layers=n_layers, values_per_token=2 * kv_heads * head_dim, tokens=tokens, bits=bits)


def tokens_held(tokens: int, sliding_window: Optional[int]) -> int:
    """Positions a sequence keeps in its cache: all of them, or the last `sliding_window` (Mistral 7B v0.1: 4,096)."""
    return min(tokens, sliding_window) if sliding_window else tokens


def mla_layout(layout: KVLayout) -> Literal["latent", "per_head"]:
    """The MLA layout a layout name stands for: the installed transformers (5.x) caches the latent."""
    return "per_head" if layout == "per_head" else "latent"


def values_per_token(spec: ModelSpec, layout: KVLayout = "transformers") -> int:
    """Cached values per token and layer: 2·n_kv_heads·d_head; MLA: kv_lora_rank + qk_rope_head_dim (latent)
    or n_heads·(qk_head_dim + v_head_dim) (per head)."""
    if spec.mla is None:
        return 2 * spec.kv_heads * spec.head_dim
    m = spec.mla
    if mla_layout(layout) == "latent":
        return m.kv_lora_rank + m.qk_rope_head_dim
    return spec.n_heads * (m.qk_head_dim + m.v_head_dim)


def kind_cap(spec: ModelSpec, kind: LayerKind) -> Optional[int]:
    """Positions a layer of this kind attends to at most: the window, the chunk, or None (all of them)."""
    if kind is LayerKind.sliding:
        return spec.sliding_window
    if kind is LayerKind.chunked:
        return spec.attention_chunk
    return None


def kv_cache(
    spec: ModelSpec, *, batch: int, tokens: int, precision: Precision, layout: KVLayout = "transformers"
) -> KVCache:
    """The cache per attention kind for `batch` sequences of `tokens` positions, stored at `precision`."""
    return kv_cache_at_bits(spec, batch=batch, tokens=tokens, bits=precision.bits, layout=layout)


def kv_cache_at_bits(
    spec: ModelSpec, *, batch: int, tokens: int, bits: int, layout: KVLayout = "transformers"
) -> KVCache:
    """The cache per attention kind for `batch` sequences of `tokens` positions, `bits` per value.

    Formula: per kind: layers · values per token · ceil(batch · min(tokens, cap) · bits / 8)
    Source:  kwon2023: §3; ainslie2023 (n_kv_heads); deepseek-v2 §2.1.2 (MLA); transformers' cache_utils.py.
    """
    width = values_per_token(spec, layout)
    rows = []
    for kind in LayerKind:
        n = spec.count_layers(kind)
        if not n:
            continue
        cap = kind_cap(spec, kind)
        held = tokens_held(tokens, cap)
        rows.append(
            KVRow(
                kind=kind.value,
                layers=n,
                values_per_token=width,
                cap=cap,
                tokens_held=held,
                bytes=cache_bytes(n_layers=n, values_per_token=width, tokens=batch * held, bits=bits),
            )
        )
    per_token = sum(r.layers for r in rows) * width * bits // 8
    return KVCache(
        layout="standard" if spec.mla is None else mla_layout(layout),
        bits=bits,
        batch=batch,
        tokens=tokens,
        rows=rows,
        total_bytes=sum(r.bytes for r in rows),
        bytes_per_token=per_token,
    )


def kv_cache_bytes(
    spec: ModelSpec, *, batch: int, tokens: int, precision: Precision, layout: KVLayout = "transformers"
) -> int:
    """Keys and values of every layer for `tokens` positions of `batch` sequences (kv_cache's total).

    Formula: 2 · n_layers · n_kv_heads · d_head · bytes · batch · tokens, with tokens capped at the
             sliding window in sliding layers (Mistral 7B v0.1: all of them, 4,096) and at the chunk in
             chunked ones; MLA: see values_per_token.
    Source:  kwon2023: §3 (2 × 5120 × 40 × 2 bytes = 800 KB per token for OPT-13B); ainslie2023 (n_kv_heads).
    """
    return kv_cache(spec, batch=batch, tokens=tokens, precision=precision, layout=layout).total_bytes
