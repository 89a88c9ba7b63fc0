"""The training step of a measured model: model states from its parameter table, the rest from the probe.

Weights, gradients, FP32 masters, optimizer states, step counters and the optimizer step's temporaries
follow exactly from the table (ModelSpec.tensors) through the accountant's own formulas (allocator.py,
optimizers.py, recipes.py, sharding.py). What the table cannot give, the live bytes of forward and
backward above the model's own tensors (activations, gradients as they are made, logits and loss,
autocast's copies, the inputs), is measured by the fake-tensor probe of transformers' class (probe.py).

Live bytes change linearly from block to block in backward, so the step's peak is in one of four
stretches the probe measures apart (forward; the loss's and head's backward; the first block
differentiated; the last block and the embedding) or at the optimizer step (timeline.py). Which stretch
is largest can change with the depth, but each one is linear in it (every block adds the same tensors; a repeating layer
pattern is probed whole periods at a time) and in the batch (every activation has it as a factor), so
each is extrapolated on its own, bilinearly, from two depths and two batch sizes:
    A(L, b) = A(k1, b1) + ΔL·∂A/∂L + Δb·∂A/∂b + ΔL·Δb·∂²A/∂L∂b        (four runs; fewer when L, b are small)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from llm_budget.choices import OptimizerImpl
from llm_budget.defaults import sequence_length
from llm_budget.measured.extrapolate import line, probe_depths, probed, table_at
from llm_budget.measured.probe import ProbeRun, check_measurable, probe_key, probe_run
from llm_budget.memory.allocator import rounded, tensor_bytes
from llm_budget.memory.optimizers import optimizer_state_bytes, states_text, step_counter_bytes, step_temporaries
from llm_budget.memory.recipes import recipe_bytes
from llm_budget.memory.report import Component, MemoryLine, MemoryReport, Phase, TrainSettings
from llm_budget.memory.setup import TrainSetup
from llm_budget.memory.sharding import OPTIMIZER_STATES, sharded_bytes
from llm_budget.memory.timeline import StepPeak
from llm_budget.model.inventory import ParamTensor
from llm_budget.model.spec import ModelSpec

MEASURED = "Activations, gradients so far, logits and temporaries (measured)"
"""The report's line for what the probe measured above the model's own tensors."""
STRETCHES = {
    "forward": "forward (measured)",
    "head": "backward: loss and head (measured)",
    "first_block": "backward: first block differentiated (measured)",
    "last_block": "backward: last block and embedding (measured)",
}
"""The stretches of forward and backward the probe measures apart (probe._BackwardSegments), as phases."""


@dataclass(frozen=True)
class MeasuredStep:
    """The step's peak on one GPU, and how the probe measured it."""

    peak: StepPeak
    tensors: list[ParamTensor]  # the table at the step's depth
    seconds: float  # wall time of the probe's runs
    depths: tuple[int, ...]  # the depths probed
    batches: tuple[int, ...]  # the batch sizes probed
    seq: int
    measured_by: str  # transformers' class
    depth: int  # the step's blocks
    batch: int
    attention: str  # what the class ran (eager when it has no SDPA path)

    @property
    def measured_line(self) -> str:
        """The sentence the output shows (memory's assumptions)."""
        runs = probed(self.depths, self.depth, self.batches, self.batch)
        eager = f"; {self.measured_by} has no SDPA path, so attention ran eager" if self.attention == "eager" else ""
        return (
            f"measured from transformers' {self.measured_by} under fake tensors: {self.seconds:.1f} s ({runs}){eager}; "
            "weights, gradients and optimizer states from its parameter table"
        )


def _probe(spec: ModelSpec, setup: TrainSetup, depth: int, seq: int) -> dict[tuple[int, int], ProbeRun]:
    """The probe's runs by (depth, batch): extrapolate.probe_depths; the batch itself when at most 2, else 1 and 2."""
    from llm_budget.measured.inventory import config_of

    cfg = config_of(spec)
    depths = probe_depths(spec, cfg, depth)
    batches = (setup.batch,) if setup.batch <= 2 else (1, 2)
    return {(k, b): probe_run(probe_key(cfg, k, b, seq, setup)) for k in depths for b in batches}


def measured_step(spec: ModelSpec, setup: TrainSetup) -> MeasuredStep:
    """The training step's peak on one GPU of setup.parallel (one GPU, or data parallel with ZeRO 0-1)."""
    check_measurable(setup, spec.label, spec.measured_by or "class")
    depth = setup.n_layers or spec.n_layers
    seq = sequence_length(setup.seq, spec.context_window)
    runs = _probe(spec, setup, depth, seq)
    depths = tuple(sorted({k for k, _ in runs}))
    batches = tuple(sorted({b for _, b in runs}))
    k1, k2, b1, b2 = depths[0], depths[-1], batches[0], batches[-1]

    def at(value: dict[tuple[int, int], int], layers: int = depth) -> int:
        """Bilinear in (depth, batch) through the probed corners, evaluated at (layers, setup.batch)."""
        low = line(layers, k1, value[k1, b1], k2, value[k2, b1])
        high = line(layers, k1, value[k1, b2], k2, value[k2, b2])
        return round(low + (high - low) * (Fraction(setup.batch - b1, b2 - b1) if b2 != b1 else 0))

    weight_width = recipe_bytes(setup).weight
    stretches = {name: at({kb: getattr(r, name) - r.model_bytes for kb, r in runs.items()}) for name in STRETCHES}
    forward_end = {kb: r.forward_end for kb, r in runs.items()}
    # Buffers (rotary tables, masks): what transformers' model holds beyond the table's parameters.
    buffers = {kb: r.model_bytes - tensor_bytes(table_at(spec, kb[0]), weight_width, "cpu") for kb, r in runs.items()}
    tensors = table_at(spec, depth)
    peak = _step_peak(
        setup,
        tensors,
        measured=stretches,
        forward_end=at(forward_end),
        buffers=max(at(buffers), 0),
        seq=seq,
        per_block=at(forward_end, depth) - at(forward_end, depth - 1) if k2 != k1 else 0,
    )
    seconds = sum(r.seconds for r in runs.values())
    attention = next(iter(runs.values())).attention
    return MeasuredStep(
        peak, tensors, seconds, depths, batches, seq, spec.measured_by or "class", depth, setup.batch, attention
    )


def _step_peak(
    setup: TrainSetup,
    tensors: list[ParamTensor],
    *,
    measured: dict[str, int],
    forward_end: int,
    buffers: int,
    seq: int,
    per_block: int,
) -> StepPeak:
    """Forward/backward and the optimizer step on one GPU; model states from the table (ZeRO-1 shards the
    optimizer states and masters over the data-parallel ranks: Rajbhandari et al. 2020 §5.1)."""
    recipe, device, par = recipe_bytes(setup), setup.device, setup.parallel

    def states(n: int) -> int:
        return sharded_bytes(n, level=OPTIMIZER_STATES, zero=par.zero, dp=par.shards)

    weights = tensor_bytes(tensors, recipe.weight, device) + buffers
    gradients = tensor_bytes(tensors, recipe.gradient, device) + tensor_bytes(tensors, recipe.extra_gradient, device)
    masters = states(tensor_bytes(tensors, recipe.master, device))
    optimizer = states(optimizer_state_bytes(tensors, setup.optimizer, recipe.state, device))
    optimizer += step_counter_bytes(tensors, setup.optimizer, device)
    temporaries = step_temporaries(tensors, setup.optimizer, setup.resolved_impl, recipe.state, device)
    if setup.resolved_impl is OptimizerImpl.foreach:
        temporaries = states(temporaries)
    inputs = 2 * rounded(setup.batch * seq * 8, device)
    held = {Component.weights: weights, Component.masters: masters, Component.optimizer: optimizer}
    if par.dp > 1 and par.zero == 0:  # DDP's buckets: a copy of every gradient, kept from the first backward on
        held[Component.buckets] = gradients  # (memory/stage.py; PyTorch's DDP, gradient_as_bucket_view=False)
    lives: dict[str, dict[str, int]] = {STRETCHES[name]: {**held, MEASURED: n} for name, n in measured.items()}
    lives |= {
        "optimizer step": {
            **held,
            Component.gradients: gradients,
            Component.temporaries: temporaries,
            Component.inputs: inputs,
        },
    }
    points = [(name, sum(live.values())) for name, live in lives.items()]
    phase, total = max(points, key=lambda p: p[1])
    return StepPeak(
        bytes=total,
        phase=phase,
        live=lives[phase],
        points=points,
        activations_per_block_bytes=per_block,
        gathered_bytes=0,
        weight_bytes=weights + masters,
        optimizer_state_bytes=optimizer,
        gradient_bytes=gradients,
        forward_end_bytes=forward_end,
    )


def measured_training_memory(spec: ModelSpec, setup: TrainSetup) -> MemoryReport:
    """training_memory for a measured spec: the same report, its lines from the table and the probe."""
    step = measured_step(spec, setup)
    peak = step.peak
    recipe = recipe_bytes(setup)
    n_params = sum(t.total for t in step.tensors)
    lines = [
        MemoryLine(name=name, bytes=n, bytes_per_param=round(n / n_params, 3) if n_params else None)
        for name, n in peak.live.items()
        if n
    ]
    convention = recipe.description.format(
        weight=recipe.weight,
        gradient=recipe.gradient,
        master=recipe.master,
        extra_gradient=recipe.extra_gradient,
        states=states_text(setup.optimizer, recipe.state),
        precision=setup.precision.value,
        recipe=setup.resolved_recipe.value,
    )
    return MemoryReport(
        mode="train",
        model=spec.label,
        params=n_params,
        trainable_params=n_params,
        precision=setup.precision.value,
        recipe=setup.resolved_recipe.value,
        convention=convention,
        total_bytes=peak.bytes,
        components=lines,
        peak_phase=peak.phase,
        phases=[Phase(name=n, bytes=b) for n, b in peak.points],
        assumptions=[step.measured_line],
        settings=TrainSettings(
            batch=setup.batch,
            seq=step.seq,
            optimizer=setup.optimizer,
            optimizer_impl=setup.resolved_impl,
            checkpointing=setup.checkpointing,
            attention=setup.attention,
            device=setup.device,
            activations_per_layer_bytes=peak.activations_per_block_bytes,
            parallel=setup.parallel,
            gathered_bytes=0,
            weight_bytes=peak.weight_bytes,
            optimizer_state_bytes=peak.optimizer_state_bytes,
            gradient_bytes=peak.gradient_bytes,
            forward_end_bytes=peak.forward_end_bytes,
        ),
    )
