"""The training step as a timeline of named phases, on one GPU; its largest point is the peak that
torch.cuda.max_memory_allocated reports.

Read `_stage_timeline` top to bottom: the forward has ended (saved activations, autocast copies, the
loss's buffers), then the loss's backward, the unembedding's, the final norm's, each block's four
regions (MLP, its norm, attention, its norm), the embedding's, and the optimizer step. Each phase is
a small function that sets what is live and marks the point. With pipeline parallelism the first
and the last stage are both laid out and the larger peak is the step's.

Sources: the autograd formulas of PyTorch 2.13 (backward.py, measured by tests/test_activations.py);
Hugging Face's ForCausalLMLoss (FP32 upcast, three batch × seq × vocab buffers in the cross-entropy's
backward); PyTorch's embedding_dense_backward and AccumulateGrad (tied tables); optimizers.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llm_budget.choices import Checkpointing, LossKind, OptimizerImpl
from llm_budget.memory.allocator import rounded
from llm_budget.memory.backward import norm_backward_bytes
from llm_budget.memory.loss import LossPhases, loss_phases
from llm_budget.memory.optimizers import step_temporaries
from llm_budget.memory.report import Component, Phase
from llm_budget.memory.setup import Parallel
from llm_budget.memory.sharding import OPTIMIZER_STATES, sharded_bytes
from llm_budget.memory.stage import (
    RankActivationsHeld,
    RankStates,
    Stage,
    rank_activations,
    rank_states,
    stages,
)
from llm_budget.memory.step import UnshardedStep


@dataclass(slots=True)
class Timeline:
    """Live bytes by category through one step; remembers the peak and what was live then."""

    live: dict[str, int] = field(default_factory=dict)
    points: list[tuple[str, int]] = field(default_factory=list)
    peak: tuple[int, str, dict[str, int]] = (-1, "", {})

    def set(self, category: str, n_bytes: int) -> None:
        self.live[category] = n_bytes

    def mark(self, phase: str, extra: dict[str, int] | None = None) -> None:
        """A point of the step: what is live, plus the phase's own transient bytes (`extra`)."""
        state = dict(self.live)
        for k, v in (extra or {}).items():
            state[k] = state.get(k, 0) + v
        total = sum(state.values())
        self.points.append((phase, total))
        if total > self.peak[0]:
            self.peak = (total, phase, state)


@dataclass(frozen=True)
class StepPeak:
    """The peak of one training step on one GPU, what was live then, and the step's totals."""

    bytes: int
    phase: str  # the point of the step at the peak (prefixed by the pipeline stage)
    live: dict[str, int]  # bytes by Component at the peak
    points: list[tuple[str, int]]  # every point of the peak stage's timeline, in order
    activations_per_block_bytes: int  # one block's saved tensors on this rank
    gathered_bytes: int  # ZeRO-3: gathered blocks, part of weight_bytes
    weight_bytes: int
    optimizer_state_bytes: int
    gradient_bytes: int
    forward_end_bytes: int  # saved activations, autocast copies and loss buffers when forward ends
    host_bytes: int = 0  # this rank's share of host RAM under offload (optimizer side and/or weight shard)

    @property
    def phases(self) -> list[Phase]:
        return [Phase(name=name, bytes=n) for name, n in self.points]


@dataclass(slots=True)
class _StageRun:
    """One stage's timeline and what it is computed from."""

    step: UnshardedStep
    parallel: Parallel
    stage: Stage
    states: RankStates
    acts: RankActivationsHeld
    loss: LossPhases  # the loss's buffers on this tensor-parallel rank (the vocabulary is split)
    residual_gradient: int  # the gradient flowing back through the residual stream
    tied_gradient: bool  # a tied table gets its gradient from both ends on this GPU (not across pipeline stages)
    timeline: Timeline


def _stage_run(step: UnshardedStep, parallel: Parallel, stage: Stage) -> _StageRun:
    tp, spec = parallel.tp, step.spec
    return _StageRun(
        step=step,
        parallel=parallel,
        stage=stage,
        states=rank_states(step, parallel, stage),
        acts=rank_activations(step, parallel, stage),
        loss=loss_phases(step.loss, tp, step.storage.compute),
        residual_gradient=rounded(step.tokens * spec.d_embed * step.residual_bytes, step.setup.device),
        tied_gradient=spec.tied_embeddings and not step.frozen_base and parallel.pp == 1,
        timeline=Timeline(),
    )


def step_peak(step: UnshardedStep, parallel: Parallel) -> StepPeak:
    """The step's peak on one GPU: the larger of the pipeline's first and last stage (or the whole model)."""
    best: StepPeak | None = None
    for stage in stages(step.spec.n_layers, parallel):
        peak = _stage_peak(step, parallel, stage)
        if best is None or peak.bytes > best.bytes:
            best = peak
    assert best is not None
    return best


def _stage_peak(step: UnshardedStep, parallel: Parallel, stage: Stage) -> StepPeak:
    run = _stage_run(step, parallel, stage)
    _stage_timeline(run)
    peak, phase, live = run.timeline.peak
    return StepPeak(
        bytes=peak,
        phase=(f"{stage.name} pipeline stage: " if parallel.pp > 1 else "") + phase,
        live=live,
        points=run.timeline.points,
        activations_per_block_bytes=run.acts.per_block_saved,
        gathered_bytes=run.states.gathered,
        weight_bytes=run.states.weights,
        optimizer_state_bytes=run.states.optimizer,
        gradient_bytes=run.states.gradients,
        forward_end_bytes=_forward_end_bytes(run),
        host_bytes=run.states.host,
    )


def _stage_timeline(run: _StageRun) -> None:
    """One step of one stage, in the order it runs (the head's phases on the last stage, the embedding's on the first)."""
    _forward_end(run)
    if run.stage.has_head:
        _cross_entropy_backward(run)
        _unembedding_backward(run)
        _final_norm_backward(run)
    _blocks_backward(run)
    if run.stage.has_embedding:
        _embedding_backward(run)
    _optimizer_step(run)


def _saved_activations(run: _StageRun) -> int:
    return run.acts.per_block_held * run.acts.blocks_held + run.acts.outside_blocks


def _forward_end(run: _StageRun) -> None:
    """Forward has ended: model states, inputs, every saved activation and autocast's weight copies are live;
    the last stage is computing log_softmax (16-bit logits, their FP32 upcast, the log-probabilities)."""
    tl, states, acts = run.timeline, run.states, run.acts
    tl.set(Component.weights, states.weights)
    # bitsandbytes' paged optimizers allocate their states with cudaMallocManaged (unified memory), outside
    # PyTorch's caching allocator: max_memory_allocated never sees them (bitsandbytes/functional.py, get_paged)
    tl.set(Component.optimizer, 0 if run.step.setup.paged_optimizer else states.optimizer)
    if states.masters:
        tl.set(Component.masters, states.masters)
    if states.adapters:
        tl.set(Component.adapters, states.adapters)
    if states.buckets:
        tl.set(Component.buckets, states.buckets)
    tl.set(Component.inputs, run.step.loss.inputs)
    tl.set(Component.activations, _saved_activations(run))
    if acts.copies_per_block or acts.copies_head:
        tl.set(Component.copies, acts.copies_per_block * run.stage.blocks + acts.copies_head)
    if run.stage.has_head:
        tl.mark("forward: log_softmax", {Component.loss: run.loss.forward_peak})
    else:
        tl.mark("forward: last block")
    if run.step.setup.checkpointing is Checkpointing.full and run.step.storage.flow == "autocast":
        tl.set(Component.copies, acts.copies_head)  # the autocast cache dies with forward


def _cross_entropy_backward(run: _StageRun) -> None:
    """The cross-entropy's backward (full: three batch × seq × vocab FP32 buffers, the loss and its weight;
    the other ways of computing it: loss.py)."""
    run.timeline.mark("backward: cross-entropy", {Component.loss: run.loss.backward_peak})


def _unembedding_backward(run: _StageRun) -> None:
    """.float()'s backward has turned the FP32 logits gradient into the logits' dtype; the unembedding's
    backward makes the input gradient and the weight gradient (under autocast first in 16 bits, then cast
    to FP32 for the FP32 parameter)."""
    step, tl, tp = run.step, run.timeline, run.parallel.tp
    spec, device = step.spec, step.setup.device
    head_gradients = run.states.gradients_head + (run.states.gradients_embedding if run.tied_gradient else 0)
    autocast_gradient = step.storage.flow == "autocast" and not step.frozen_base
    gradient16 = rounded(spec.n_vocab * spec.d_embed * 2 // tp, device) if autocast_gradient else 0
    input_gradient = rounded(step.tokens * spec.d_embed * step.storage.compute, device)
    if step.loss.kind is LossKind.fused:  # Liger made grad_input / grad_weight in forward: backward hands them out
        tl.mark("backward: unembedding (fused)", {Component.loss: run.loss.held, Component.gradients: head_gradients})
    elif gradient16:
        tl.mark(
            "backward: unembedding",
            {Component.loss: run.loss.logits_gradient, Component.temporaries: input_gradient + gradient16},
        )
        tl.mark(
            "backward: unembedding (FP32 gradient)",
            {Component.temporaries: input_gradient + gradient16, Component.gradients: head_gradients},
        )
    else:
        tl.mark(
            "backward: unembedding",
            {
                Component.loss: run.loss.logits_gradient,
                Component.temporaries: input_gradient,
                Component.gradients: head_gradients,
            },
        )
    tl.set(Component.gradients, head_gradients if run.states.gradients_resident else 0)


def _final_norm_backward(run: _StageRun) -> None:
    """The final norm's backward (backward.norm_backward_bytes); then the head's saved tensors are freed."""
    tl = run.timeline
    tl.mark(
        "backward: final norm",
        {Component.temporaries: norm_backward_bytes(run.step.spec, run.step.tokens, run.step.residual_bytes)},
    )
    tl.set(Component.activations, _saved_activations(run) - run.acts.head)


def _blocks_backward(run: _StageRun) -> None:
    """Each block's backward, last block first, in four regions (backward.block_backward_regions).

    Live bytes change linearly from block to block (activations freed, gradients made), so the largest
    point is in the first or the last block differentiated: only those two are evaluated. A checkpointed
    block first recomputes what it did not keep (and, under autocast, its weight copies)."""
    step, tl, acts, par = run.step, run.timeline, run.acts, run.parallel
    full = step.setup.checkpointing is Checkpointing.full
    regions = step.backward_regions(par.tp, par.sp, par.shards if par.zero >= 2 else 1)
    recomputed = acts.per_block_saved - acts.per_block_held + (acts.copies_per_block if full else 0)
    temporaries = run.residual_gradient + run.states.reduce_scatter
    activations0 = tl.live.get(Component.activations, 0)
    gradients0 = tl.live.get(Component.gradients, 0)
    copies0 = tl.live.get(Component.copies, 0)
    blocks = run.stage.blocks
    for done in sorted({0, blocks - 1}):
        tl.set(Component.activations, activations0 - done * acts.per_block_held)
        kept = run.states.gradients_per_block if run.states.gradients_resident else 0
        tl.set(Component.gradients, gradients0 + done * kept)
        if acts.copies_per_block and not full:
            tl.set(Component.copies, copies0 - done * acts.copies_per_block)
        for region, (freed, region_temporaries, made) in regions.items():
            # Full checkpointing recomputes the whole block when its backward starts; selective recomputes
            # the attention core only when the core's backward runs, after the MLP's and its norm's (issue 13:
            # eager attention's s² probabilities were counted during the MLP's backward, +12% at d 64).
            again = recomputed if full or region.startswith("attention") else 0
            tl.mark(
                f"backward: block {blocks - 1 - done}, {region}",
                {
                    Component.activations: again - freed,
                    Component.temporaries: temporaries + region_temporaries,
                    Component.gradients: made,
                },
            )
    tl.set(Component.copies, 0)
    tl.set(Component.activations, 0)


def _embedding_backward(run: _StageRun) -> None:
    """embedding_dense_backward builds a dense vocab × d gradient; a tied table already has one (from the
    unembedding), and AccumulateGrad adds the two out of place: three vocab × d tensors for a moment."""
    step, tl = run.step, run.timeline
    spec = step.spec
    tied = (
        2 * rounded(spec.n_vocab * spec.d_embed * step.storage.gradient // run.parallel.tp, step.setup.device)
        if run.tied_gradient
        else 0
    )
    if run.states.gradients_resident:
        remaining = run.states.gradients - tl.live.get(Component.gradients, 0)
    else:  # made here, then moved to the host or stepped and freed
        remaining = run.states.gradients_embedding
    tl.mark(
        "backward: embedding", {Component.temporaries: run.residual_gradient + tied, Component.gradients: remaining}
    )


def _optimizer_step(run: _StageRun) -> None:
    """Every gradient exists; the step adds its temporaries (optimizers.py), sharded like the states when
    the foreach implementation works on the local shard. An offloaded optimizer steps on the host (nothing
    on the GPU); stepped in backward, one parameter at a time (the for-loop's temporaries), its gradient freed."""
    par, tl, step = run.parallel, run.timeline, run.step
    if par.offloads_optimizer:
        return
    if par.optimizer_in_backward:
        tl.set(Component.gradients, 0)
        one_at_a_time = step_temporaries(
            step.trainable, step.setup.optimizer, OptimizerImpl.loop, step.storage.state, step.setup.device
        )
        tl.mark("optimizer step in backward (largest parameter)", {Component.temporaries: one_at_a_time // par.tp})
        return
    tl.set(Component.gradients, run.states.gradients)
    # paged optimizers are bitsandbytes' Optimizer2State: one in-place kernel per tensor (optimizers.BNB_KERNELS)
    temporaries = 0 if step.setup.paged_optimizer else step.states.optimizer_temporaries
    if step.setup.resolved_impl is OptimizerImpl.foreach:
        temporaries = (
            sharded_bytes(temporaries, level=OPTIMIZER_STATES, zero=par.zero, dp=par.shards, model_parallel=par.tp)
            // par.pp
        )
    tl.mark("optimizer step", {Component.temporaries: temporaries})


def _forward_end_bytes(run: _StageRun) -> int:
    """What forward leaves for backward: saved activations, autocast's copies, and on the last stage the
    log-probabilities and the loss."""
    acts = run.acts
    held_copies = (
        acts.copies_per_block * run.stage.blocks if run.step.setup.checkpointing is not Checkpointing.full else 0
    )
    total = _saved_activations(run) + held_copies + acts.copies_head
    if run.stage.has_head:
        total += run.loss.held
    return total
