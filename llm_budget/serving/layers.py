"""What each attention layer keeps per block of tokens on one rank: vLLM's KVCacheSpec, from a ModelSpec.

vLLM (vllm/v1/kv_cache_interface.py, vllm-project/vllm@001cabc1):
  AttentionSpec.page_size_bytes  = 2 · block_size · num_kv_heads · head_size · dtype bytes   (K and V)
  MLAAttentionSpec               =     block_size · 1 · (kv_lora_rank + qk_rope_head_dim) · dtype bytes
                                   (one latent per token; "fp8_ds_mla": block_size · 656 bytes)
  num_kv_heads on a rank         = max(1, total_num_kv_heads // tp)   (vllm/config/model.py
                                   get_num_kv_heads: replicated when tp > kv heads); MLA's latent is not
                                   split across ranks.
  layers on a pipeline rank      = n_layers // pp, the remainder going to the ranks before the last
                                   (vllm/distributed/utils.py get_pp_indices).
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict

from llm_budget.errors import LLMBudgetError
from llm_budget.memory.kv import cache_bytes, kv_bytes
from llm_budget.model.spec import LayerKind, ModelSpec

FP8_DS_MLA_BYTES_PER_TOKEN = 656
"""DeepSeek's FP8 MLA cache layout: 656 bytes per token per layer (vllm/v1/kv_cache_interface.py MLAAttentionSpec,
vllm/v1/attention/backends/mla/flashmla_sparse.py)."""

Kind = Literal["full", "sliding", "chunked", "mla"]


class LayerKV(BaseModel):
    """One attention layer's KV cache on one rank, as vLLM's KVCacheSpec describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    kv_heads: int  # on this rank (MLA: 1, the latent)
    head_size: int  # d_head; MLA: kv_lora_rank + qk_rope_head_dim
    bits: int  # of the cache dtype
    window: Optional[int] = None  # sliding window or attention chunk, tokens
    page_bytes_per_token: int  # bytes one token costs in this layer (a page is block_size of them)

    def page_bytes(self, block_size: int) -> int:
        return self.page_bytes_per_token * block_size


def latent_bytes(*, n_layers: int, width: int, tokens: int, bits: int) -> int:
    """MLA's cache: one latent of `width` = kv_lora_rank + qk_rope_head_dim per token and layer (no separate K, V):
    memory/kv.py's one cache formula. Source: DeepSeek-V2 §2.1.2; vLLM MLAAttentionSpec."""
    return cache_bytes(n_layers=n_layers, values_per_token=width, tokens=tokens, bits=bits)


def kv_heads_per_rank(spec: ModelSpec, tp: int) -> int:
    """KV heads one tensor-parallel rank holds: split when tp divides them, else one replicated head per rank."""
    if spec.n_heads % tp:
        raise LLMBudgetError(
            f"--tensor-parallel-size {tp} does not divide the {spec.n_heads} attention heads (vLLM: 'Total number "
            f"of attention heads ({spec.n_heads}) must be divisible by tensor parallel size ({tp}).')"
        )
    return max(1, spec.kv_heads // tp)


def layers_per_stage(n_layers: int, pp: int) -> list[int]:
    """Blocks on each pipeline stage: n // pp each, the remainder added to the stages before the last."""
    if pp > n_layers:
        raise LLMBudgetError(f"--pipeline-parallel-size {pp} is larger than the {n_layers} layers")
    parts = [n_layers // pp] * pp
    for i in range(2, n_layers % pp + 2):
        parts[-i] += 1
    return parts


_KINDS: dict[LayerKind, Kind] = {LayerKind.full: "full", LayerKind.sliding: "sliding", LayerKind.chunked: "chunked"}


def _kind(kind: LayerKind) -> Kind:
    return _KINDS[kind]


def layer_kv(spec: ModelSpec, *, tp: int, bits: int, fp8_ds_mla: bool = False) -> dict[Kind, LayerKV]:
    """The KV spec of each attention kind the model has, on one tensor-parallel rank."""
    if spec.mla is not None:
        width = spec.mla.kv_lora_rank + spec.mla.qk_rope_head_dim
        per_token = (
            FP8_DS_MLA_BYTES_PER_TOKEN if fp8_ds_mla else latent_bytes(n_layers=1, width=width, tokens=1, bits=bits)
        )
        kv_heads_per_rank(spec, tp)  # the query heads must still split
        return {"mla": LayerKV(kind="mla", kv_heads=1, head_size=width, bits=bits, page_bytes_per_token=per_token)}
    heads = kv_heads_per_rank(spec, tp)
    per_token = kv_bytes(n_layers=1, kv_heads=heads, head_dim=spec.head_dim, tokens=1, bits=bits)
    out: dict[Kind, LayerKV] = {}
    for kind in (LayerKind.full, LayerKind.sliding, LayerKind.chunked):
        if spec.count_layers(kind):
            window = {LayerKind.sliding: spec.sliding_window, LayerKind.chunked: spec.attention_chunk}.get(kind)
            out[_kind(kind)] = LayerKV(
                kind=_kind(kind),
                kv_heads=heads,
                head_size=spec.head_dim,
                bits=bits,
                window=window,
                page_bytes_per_token=per_token,
            )
    return out


def layer_counts(spec: ModelSpec, n_layers: int) -> dict[Kind, int]:
    """Layers of each kind among the first `n_layers` blocks (one pipeline stage: its share of each kind)."""
    if spec.mla is not None:
        return {"mla": n_layers}
    counts: dict[Kind, int] = {}
    for kind in (LayerKind.full, LayerKind.sliding, LayerKind.chunked):
        total = spec.count_layers(kind)
        if total:
            counts[_kind(kind)] = -(-total * n_layers // spec.n_layers)
    return counts
