"""What one tensor-parallel rank keeps of the tensors a step saves for backward.

Source: Korthikanti et al. 2022 §4.2: tensor parallelism splits the attention and MLP tensors; the
norms, the matmul inputs they feed and the residual dropouts are replicated on every rank unless
sequence parallelism splits them along the sequence (§4.2.2). Selective recomputation (§5) drops
the attention core's tensors and recomputes them in backward.
"""

from __future__ import annotations

from typing import NamedTuple

from llm_budget.memory.activations import Saved
from llm_budget.memory.allocator import rounded

REPLICATED_UNDER_TP = (
    "attention norm",
    "MLP norm",
    "post-attention norm",
    "post-MLP norm",
    "attention input",
    "MLP: input",
    "router input",
    "attention residual dropout",
    "MLP residual dropout",
    # MLA's latents are computed whole on every rank (the down-projections and their norms are replicated;
    # the up-projections split by head): DeepSeek-V2 §2.1, vLLM's ReplicatedLinear for kv_a
    "q latent norm",
    "kv latent norm",
    "q up-projection input",
    "kv up-projection input",
    "router input (FP32 copy)",
)
"""Saved tensors (by name prefix) that every tensor-parallel rank holds in full without sequence parallelism."""

SELECTIVE_RECOMPUTE = {
    "attention probabilities",
    "causal mask",
    "attention dropout mask",
    "dropped probabilities",
    "k, repeated to all heads",
    "v, repeated to all heads",
    "log-sum-exp (FP32)",
}
"""What selective recomputation (Korthikanti et al. 2022 §5) does not keep: the attention core's tensors."""

HEAD_INPUTS = ("unembedding input", "final norm")
"""Saved tensors of the head (freed by the final norm's and the unembedding's backward); the rest sits at the embedding end."""


def saved_bytes_on_rank(items: list[Saved], tp: int, sp: bool, device: str) -> int:
    """Bytes of saved tensors on one tensor-parallel rank, each its own allocation."""
    total = 0
    for x in items:
        replicated = x.name.startswith(REPLICATED_UNDER_TP)
        ranks = tp if (sp or not replicated) else 1
        total += rounded(-(-x.bytes // ranks), device)
    return total


class RankActivations(NamedTuple):
    """Saved-activation bytes on one tensor-parallel rank."""

    per_block: int  # one block's saved tensors
    selective: int  # of which the attention core (not kept under selective recomputation)
    embedding_side: int  # outside the blocks, held until the embedding's backward
    head: int  # the final norm's and the unembedding's inputs


CORE_INPUTS = {"q (attention input)", "k (attention input)", "k", "v"}
"""The attention core's q, k, v as the core itself saves them (SDPA, or eager attention without GQA's repeat)."""


def activations_on_rank(
    per_block: list[Saved],
    head: list[Saved],
    tp: int,
    sp: bool,
    device: str,
    core_inputs: list[Saved] | None = None,
) -> RankActivations:
    """`core_inputs`: what a checkpointed attention core keeps instead of its own q, k, v (see
    activations.checkpointed_core_inputs); None: the core's own saved q, k, v are what is kept."""
    dropped = [x for x in per_block if x.name in SELECTIVE_RECOMPUTE]
    selective = saved_bytes_on_rank(dropped, tp, sp, device)
    if core_inputs is not None:
        own = [x for x in per_block if x.name in CORE_INPUTS]
        selective += saved_bytes_on_rank(own, tp, sp, device) - saved_bytes_on_rank(core_inputs, tp, sp, device)
    return RankActivations(
        per_block=saved_bytes_on_rank(per_block, tp, sp, device),
        selective=selective,
        embedding_side=saved_bytes_on_rank([x for x in head if not x.name.startswith(HEAD_INPUTS)], tp, sp, device),
        head=saved_bytes_on_rank([x for x in head if x.name.startswith(HEAD_INPUTS)], tp, sp, device),
    )
