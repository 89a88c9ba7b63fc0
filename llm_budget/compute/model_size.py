"""The model as the FLOP formulas see it: N (the parameters a token uses) and the attention shape.

Which N: the exact total count, embeddings included (as Hoffmann et al. 2022 and the published MFU
figures count it; `--params` is taken as such a total), and for a mixture of experts the *active*
count (routed experts a token skips cost no FLOPs). Kaplan et al.'s non-embedding N is reported
beside it, not used.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from llm_budget.compute.frozen import Frozen
from llm_budget.defaults import sequence_length
from llm_budget.errors import LLMBudgetError
from llm_budget.model.counter import count_params
from llm_budget.model.spec import ModelSpec


class ModelSize(Frozen):
    """What the compute formulas need from a model: N, and the attention shape when known."""

    label: str
    params: int  # N used in the formulas: active parameters (= total for a dense model)
    params_total: int
    params_non_embedding: Optional[int]  # Kaplan et al.'s N; None with --params
    n_layers: Optional[int]  # None with --params: no attention term, no KV cache
    n_heads: Optional[int]
    n_kv_heads: Optional[int]
    d_head: Optional[int]
    sliding_window: Optional[int]
    context_window: Optional[int]
    expert_params: int  # weights of all routed experts (0 for a dense model)
    n_experts: int
    n_active_experts: int
    params_note: str
    spec: Optional[ModelSpec] = Field(default=None, exclude=True, repr=False)  # the architecture, for memory

    @property
    def has_architecture(self) -> bool:
        return self.n_layers is not None


def model_size(spec: Optional[ModelSpec] = None, *, params: Optional[int] = None) -> ModelSize:
    """N (active parameters, embeddings included) and the attention shape of a spec, or a bare count."""
    if (spec is None) == (params is None):
        raise LLMBudgetError("give a model (--preset, --hf-config or sizes) or --params, exactly one")
    if params is not None:
        return _bare_count(params)
    assert spec is not None
    count = count_params(spec)
    note = "N = exact total parameters, embeddings included (as Hoffmann et al. 2022 and published MFU figures count)"
    if spec.is_moe:
        note = (
            f"N = active parameters ({spec.active_experts} of {spec.n_experts} experts per token; "
            f"total {count.total:,}): routed experts a token skips cost no FLOPs"
        )
    return ModelSize(
        label=spec.label,
        params=count.active,
        params_total=count.total,
        params_non_embedding=count.non_embedding,
        n_layers=spec.n_layers,
        n_heads=spec.n_heads,
        n_kv_heads=spec.kv_heads,
        d_head=spec.head_dim,
        sliding_window=spec.sliding_window,
        context_window=spec.context_window,
        expert_params=count.get("Experts"),
        n_experts=spec.n_experts,
        n_active_experts=spec.active_experts,
        params_note=note,
        spec=spec,
    )


def _bare_count(params: int) -> ModelSize:
    """`--params` alone: N as given, no architecture (so no attention term and no KV cache)."""
    if params <= 0:
        raise LLMBudgetError(f"parameters must be positive, got {params}")
    return ModelSize(
        label=f"{params:,} parameters",
        params=params,
        params_total=params,
        params_non_embedding=None,
        n_layers=None,
        n_heads=None,
        n_kv_heads=None,
        d_head=None,
        sliding_window=None,
        context_window=None,
        expert_params=0,
        n_experts=1,
        n_active_experts=1,
        params_note="N = --params as given (total parameters); no architecture, so no attention term and no KV cache",
    )


def default_seq_len(size: ModelSize, seq_len: Optional[int] = None) -> int:
    """--seq, else the model's context window, else 2048."""
    if seq_len is not None:
        if seq_len <= 0:
            raise LLMBudgetError(f"sequence length must be positive, got {seq_len}")
        return seq_len
    return sequence_length(None, size.context_window)
