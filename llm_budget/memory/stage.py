"""One GPU's share of a training step: which blocks and ends of the model it holds (pipeline stage),
its model states after tensor parallelism and ZeRO, and the activations it keeps.

Sources: Shoeybi et al. 2019 (tensor parallelism splits weights); Korthikanti et al. 2022 (and
activations; sequence parallelism); Narayanan et al. 2021 (1F1B: the first stage holds as many
micro-batches as there are stages); Rajbhandari et al. 2020 §5 and memory/sharding.py (ZeRO);
Zhao et al. 2023 and FSDP2 (ZeRO-3 gathers two blocks at a time, keeps the root unit gathered).
"""

from __future__ import annotations

from typing import NamedTuple

from llm_budget.choices import Checkpointing
from llm_budget.memory.activations import masked_layers
from llm_budget.memory.allocator import rounded
from llm_budget.memory.setup import Parallel
from llm_budget.memory.sharding import (
    GRADIENTS,
    OPTIMIZER_STATES,
    WEIGHTS,
    sharded_bytes,
)
from llm_budget.memory.states import Parts
from llm_budget.memory.step import UnshardedStep


class Stage(NamedTuple):
    """One pipeline stage as one GPU holds it (pp = 1: the whole model, name "single")."""

    name: str  # single | first | last
    blocks: int
    has_embedding: bool
    has_head: bool
    micro_batches_held: int  # 1F1B: the first stage holds every micro-batch in flight; the others one


def stages(n_layers: int, parallel: Parallel) -> list[Stage]:
    """The stages whose peaks bound the step: the whole model, or a pipeline's first and last stage."""
    if parallel.pp == 1:
        return [Stage("single", n_layers, True, True, 1)]
    blocks = -(-n_layers // parallel.pp)
    in_flight = min(parallel.pp, parallel.micro_batches or parallel.pp)
    return [Stage("first", blocks, True, False, in_flight), Stage("last", blocks, False, True, 1)]


class RankStates(NamedTuple):
    """Model states on one GPU of one stage (and what it keeps in host RAM under offload)."""

    weights: int  # resident shard (none when offloaded), plus the blocks gathered for compute under ZeRO-3
    gathered: int  # of which gathered (ZeRO-3 / FSDP with dp > 1)
    reduce_scatter: int  # ZeRO-3: one block's full-size FP32 gradient buffer, reduce-scattered
    gradients_per_block: int
    gradients_embedding: int
    gradients_head: int
    gradients: int  # all of the stage's gradients, as made (sharded from ZeRO-2)
    gradients_resident: bool  # false: each leaves the GPU once made (offloaded optimizer, or stepped in backward)
    buckets: int  # DDP: the reducer's flat copy of every gradient, kept from the first backward on
    optimizer: int  # with the step counters (0 when offloaded)
    masters: int  # 0 when offloaded
    adapters: int
    host: int  # bytes this rank keeps in host RAM: offloaded optimizer states, masters, gradients, weight shard


def rank_states(step: UnshardedStep, parallel: Parallel, stage: Stage) -> RankStates:
    """Model states of one GPU: tensor parallel splits each state, ZeRO shards it over the shard group from its
    level; offload moves the optimizer's side (ZeRO-Offload, Ren et al. 2021 §4.1) or the weight shard to the host."""
    tp, states = parallel.tp, step.states

    def shard(n: int, level: int) -> int:
        return sharded_bytes(n, level=level, zero=parallel.zero, dp=parallel.shards, model_parallel=tp)

    def on_stage(parts: Parts, level: int) -> tuple[Parts, int]:
        sharded = Parts(shard(parts.block, level), shard(parts.embedding, level), shard(parts.head, level))
        return sharded, sharded.on_stage(stage.blocks, has_embedding=stage.has_embedding, has_head=stage.has_head)

    weights = shard(
        states.weights.on_stage(stage.blocks, has_embedding=stage.has_embedding, has_head=stage.has_head), WEIGHTS
    )
    gathered = reduce_scatter = 0
    if parallel.zero >= 3 and parallel.shards > 1:
        # two blocks gathered in the compute dtype (prefetch) and the root unit; a full FP32 gradient buffer per block
        stored, compute = step.storage.weight, step.storage.compute
        ends = (states.weights.embedding if stage.has_embedding else 0) + (states.weights.head if stage.has_head else 0)
        gathered = 2 * -(-states.weights.block * compute // (stored * tp)) + -(-ends * compute // (stored * tp))
        reduce_scatter = -(-states.weights.block * 4 // (stored * tp))
    gradient_parts, gradients = on_stage(states.gradients, GRADIENTS)
    _, optimizer = on_stage(states.optimizer, OPTIMIZER_STATES)
    _, masters = on_stage(states.masters, OPTIMIZER_STATES)
    optimizer += states.step_counters // max(tp * parallel.pp, 1)
    host = 0
    if parallel.offloads_optimizer:
        host += optimizer + masters + gradients
        optimizer = masters = 0
    if parallel.offloads_params:
        host += weights
        weights = 0
    return RankStates(
        weights=weights + gathered,
        gathered=gathered,
        reduce_scatter=reduce_scatter,
        gradients_per_block=gradient_parts.block,
        gradients_embedding=gradient_parts.embedding,
        gradients_head=gradient_parts.head,
        gradients=gradients,
        gradients_resident=not (parallel.offloads_optimizer or parallel.optimizer_in_backward),
        # torch.nn.parallel.DistributedDataParallel with gradient_as_bucket_view=False (its default) all-reduces
        # through buckets that hold a copy of every gradient, allocated once and kept (its docs: the memory
        # bucket views save "will be equal to the total gradients size")
        buckets=gradients if parallel.dp > 1 and parallel.zero == 0 else 0,
        optimizer=optimizer,
        masters=masters,
        adapters=shard(states.adapters_per_block * stage.blocks, OPTIMIZER_STATES) if states.adapters_per_block else 0,
        host=host,
    )


class RankActivationsHeld(NamedTuple):
    """Activations one GPU of one stage keeps through forward."""

    per_block_saved: int  # everything one block saves (recomputed in backward when checkpointed)
    per_block_held: int  # what one block keeps until its backward (checkpointing: less)
    blocks_held: int  # blocks × micro-batches in flight
    outside_blocks: int  # the embedding side's and the head's saved tensors (and eager's checkpointed mask)
    head: int  # of which freed by the final norm's and unembedding's backward
    copies_per_block: int  # autocast's 16-bit weight copies (not under ZeRO-3: FSDP casts as it gathers)
    copies_head: int


def rank_activations(step: UnshardedStep, parallel: Parallel, stage: Stage) -> RankActivationsHeld:
    tp, sp, setup, device = parallel.tp, parallel.sp, step.setup, step.setup.device
    acts = step.activations_on_rank(tp, sp)
    if setup.checkpointing is Checkpointing.full:  # each block keeps its input
        held = rounded(-(-step.tokens * step.spec.d_embed * step.residual_bytes // (tp if sp else 1)), device)
    elif setup.checkpointing is Checkpointing.selective:
        held = acts.per_block - acts.selective
    else:
        held = acts.per_block
    outside = (acts.embedding_side * stage.micro_batches_held if stage.has_embedding else 0) + (
        acts.head if stage.has_head else 0
    )
    if setup.checkpointing is Checkpointing.full and setup.implementation == "hf" and setup.attention == "eager":
        # transformers' eager attention takes a float (b, 1, s, s) causal mask in the residual dtype, built once per
        # forward; non-reentrant checkpoints save every block's inputs, this mask included, until block 0's backward.
        # One mask per attention kind present (masking_utils builds a causal and a sliding-window mask for
        # gpt-oss and Gemma; measured: gpt-oss ckpt=full forward -4.5% with one).
        st, kinds = step.conditions, len(set(step.spec.layer_pattern or (None,)))
        outside += rounded(st.b * st.s * st.s * st.r, device) * stage.micro_batches_held * kinds
    elif setup.checkpointing is Checkpointing.full and masked_layers(step.spec, step.conditions):
        # SDPA's sliding and chunked layers take a boolean mask, which the checkpoints hold like the eager one:
        # measured, a sliding window's is one (1, 1, s, s) expanded over the batch (Gemma 3), a chunk's has
        # (b, 1, s, s) of its own (Llama 4)
        st, spec = step.conditions, step.spec
        chunked = spec.attention_chunk is not None and st.s > spec.attention_chunk
        outside += rounded((st.b if chunked else 1) * st.s * st.s, device) * stage.micro_batches_held
    unsharded_copies = parallel.zero < 3
    return RankActivationsHeld(
        per_block_saved=acts.per_block,
        per_block_held=held,
        blocks_held=stage.blocks * stage.micro_batches_held,
        outside_blocks=outside,
        head=acts.head,
        copies_per_block=-(-step.copies.per_block // tp) if unsharded_copies else 0,
        copies_head=-(-step.copies.outside // tp) if (stage.has_head and unsharded_copies) else 0,
    )
