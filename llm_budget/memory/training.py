"""The training step's peak memory on one GPU, and the report of what is live then.

training_memory(spec, setup) -> MemoryReport; training_peak(spec, setup) -> its peak bytes only (what
the fit advisor's layout search evaluates). Both lay the unsharded step (step.py: model states from the
parameter inventory, the activations each block saves) out on one GPU of setup.parallel and run it
through the timeline (timeline.py); explain.py words the report.
"""

from __future__ import annotations

from llm_budget.memory.explain import (
    component_formulas,
    component_lines,
    model_states_text,
    train_assumptions,
)
from llm_budget.memory.report import MemoryReport, TrainSettings
from llm_budget.memory.setup import TrainSetup
from llm_budget.memory.step import unsharded_setup, unsharded_step
from llm_budget.memory.timeline import StepPeak, step_peak
from llm_budget.model.spec import ModelSpec


def training_step_peak(spec: ModelSpec, setup: TrainSetup) -> StepPeak:
    """The step's peak on one GPU of setup.parallel, with what is live then and the step's totals."""
    if spec.tensors is not None:  # measured from transformers' own class (llm_budget/measured)
        from llm_budget.measured.training import measured_step

        return measured_step(spec, setup).peak
    return step_peak(unsharded_step(spec, unsharded_setup(setup)), setup.parallel)


def training_peak(spec: ModelSpec, setup: TrainSetup) -> int:
    """Just the peak bytes of training_memory (no report): what the fit advisor's search evaluates."""
    return training_step_peak(spec, setup).bytes


DEFAULT_TRAIN_SETUP = TrainSetup()


def training_memory(spec: ModelSpec, setup: TrainSetup = DEFAULT_TRAIN_SETUP) -> MemoryReport:
    """Peak memory of one steady-state training step (second step onward), by component, on one GPU.

    Model states (Rajbhandari et al. 2020 §3.1; Micikevicius et al. 2018): weights, gradients,
    optimizer states and master weights per the recipe and convention. Activations: the
    saved-tensor inventory of activations.py (generalizing Korthikanti et al. 2022, Table 2).
    The peak is the largest of: the loss (forward end plus three batch × seq × vocab FP32
    buffers in the cross-entropy's backward), each block's backward (its temporaries on top
    of the activations still held and the gradients already made), and the optimizer step.
    With setup.parallel, the numbers are one GPU's: tensor parallelism splits weights and most
    activations (Shoeybi et al. 2019; Korthikanti et al. 2022), pipeline parallelism gives each
    stage its share of the blocks with as many micro-batches in flight as stages on the first
    (1F1B, Narayanan et al. 2021), ZeRO stages 1/2/3 shard optimizer states, gradients and weights
    over the data-parallel group (Rajbhandari et al. 2020; FSDP: Zhao et al. 2023).
    A model measured from transformers' own class (spec.tensors) has its report from llm_budget/measured.
    """
    if spec.tensors is not None:
        from llm_budget.measured.training import measured_training_memory

        return measured_training_memory(spec, setup)
    step = unsharded_step(spec, unsharded_setup(setup))
    parallel = setup.parallel
    peak = step_peak(step, parallel)
    base = step.setup
    return MemoryReport(
        mode="train",
        model=step.spec.label,
        params=step.n_params,
        trainable_params=step.n_trainable,
        precision=base.precision.value,
        recipe=step.recipe.value,
        convention=model_states_text(step),
        total_bytes=peak.bytes,
        components=component_lines(peak.live, step.n_params, component_formulas(step)),
        peak_phase=peak.phase,
        phases=peak.phases,
        assumptions=train_assumptions(step, parallel),
        settings=TrainSettings(
            batch=base.batch,
            seq=step.seq,
            optimizer=base.optimizer,
            optimizer_impl=base.resolved_impl,
            checkpointing=base.checkpointing,
            attention=base.attention,
            device=base.device,
            activations_per_layer_bytes=peak.activations_per_block_bytes,
            parallel=parallel,
            gathered_bytes=peak.gathered_bytes,
            weight_bytes=peak.weight_bytes,
            optimizer_state_bytes=peak.optimizer_state_bytes,
            gradient_bytes=peak.gradient_bytes,
            forward_end_bytes=peak.forward_end_bytes,
        ),
    )
