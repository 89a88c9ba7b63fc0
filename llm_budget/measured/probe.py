"""The fake-tensor probe of transformers' own class on a few layers (torch and transformers imported inside).

One training step of `depth` blocks runs under FakeTensorMode (nothing is allocated, so any width runs
in seconds) with the probe's own protocol and tools (llm_budget/probe/hf.py and measure.py: two steps,
the second measured; LiveBytes tallies every tensor's storage). What it returns is what the parameter
table cannot give: the live bytes above the model's own tensors during forward and backward
(activations saved for backward, gradients as they are made, logits and loss, autocast's weight
copies, the inputs). The step runs with plain SGD, which keeps no state, so the measurement does not
depend on the optimizer; the optimizer's states and step follow from the table (memory/states.py).
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
import warnings
from functools import lru_cache
from typing import Any, NamedTuple

from llm_budget.choices import Checkpointing, Optimizer, Recipe
from llm_budget.errors import LLMBudgetError
from llm_budget.memory.setup import TrainSetup


class ProbeRun(NamedTuple):
    """One fake-tensor training step of a truncated model."""

    model_bytes: int  # parameters and buffers as built
    forward_backward_peak: int  # the peak of forward and backward, the model's own bytes included
    forward_end: int  # live bytes forward added (saved activations, logits and loss, autocast copies)
    seconds: float  # wall time of the run


class ProbeKey(NamedTuple):
    """What a run depends on (hashable, for the cache): the config and the setup's conditions."""

    config_json: str
    depth: int
    batch: int
    seq: int
    precision: str
    recipe: str
    checkpointing: str
    attention: str


def probe_key(cfg: dict[str, Any], depth: int, batch: int, seq: int, setup: TrainSetup) -> ProbeKey:
    return ProbeKey(
        json.dumps(cfg, sort_keys=True),
        depth,
        batch,
        seq,
        setup.precision.value,
        setup.resolved_recipe.value,
        setup.checkpointing.value,
        setup.attention,
    )


def truncated_config(cfg: dict[str, Any], depth: int) -> Any:
    """transformers' configuration with only the first `depth` blocks (per-layer lists cut to match)."""
    from llm_budget.measured.inventory import transformers_config

    full = transformers_config(cfg)
    layers = full.num_hidden_layers
    config = copy.deepcopy(full)
    config.num_hidden_layers = depth  # the attribute_map sends it to the family's own key (num_layers, n_layer)
    for key, value in vars(full).items():
        if isinstance(value, list) and len(value) == layers and key != "num_hidden_layers":
            setattr(config, key, value[:depth])
    return config


@lru_cache(maxsize=64)
def probe_run(key: ProbeKey) -> ProbeRun:
    """A training step of the first key.depth blocks under fake tensors (cached: fit asks many times)."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import AutoModelForCausalLM

    from llm_budget.probe.hf import real_run_paths
    from llm_budget.probe.measure import DTYPES, LiveBytes, StepMeasurement, _Meter, make_optimizer, measure_two_steps

    setup = TrainSetup(
        precision=key.precision,
        recipe=key.recipe,
        checkpointing=key.checkpointing,
        attention=key.attention,
        batch=key.batch,
        seq=key.seq,
        optimizer=Optimizer.sgd,
        device="cpu",
    )
    dtype = DTYPES[setup.precision]
    storage = dtype if setup.resolved_recipe is Recipe.pure else torch.float32
    config = truncated_config(json.loads(key.config_json), key.depth)
    start = time.perf_counter()
    tracker = LiveBytes()
    meter = _Meter("fake", tracker)
    fb_peak = [0]
    with FakeTensorMode(), real_run_paths(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' deprecation notices are not the user's concern here
        model = AutoModelForCausalLM.from_config(config, attn_implementation=setup.attention, dtype=storage)
        model.train()
        if setup.checkpointing is Checkpointing.full:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        tracker.track(list(model.parameters()))
        tracker.track(list(model.buffers()))
        model_bytes = tracker.live
        opt = make_optimizer(model, setup)
        ids = torch.randint(0, config.vocab_size, (key.batch, key.seq))
        labels = torch.randint(0, config.vocab_size, (key.batch, key.seq))
        tracker.track([ids, labels])

        def forward() -> torch.Tensor:
            mixed = setup.resolved_recipe is Recipe.mixed
            with torch.autocast("cpu", dtype=dtype) if mixed else contextlib.nullcontext():
                return model(input_ids=ids, labels=labels, use_cache=False).loss  # noqa: F821 (deleted after the step)

        def after_backward() -> None:
            fb_peak[0] = meter.peak()  # forward and backward of this step, before the optimizer's

        m = StepMeasurement(path="fake", device="cpu")
        measure_two_steps(m, meter, opt, forward, tracker=tracker, after_backward=after_backward)
        del model, opt
    return ProbeRun(model_bytes, fb_peak[0], m.forward, time.perf_counter() - start)


def check_measurable(setup: TrainSetup, label: str, measured_by: str) -> None:
    """The setups the probe of transformers' class runs: full training in fp32, mixed or pure 16 bits, no or full
    checkpointing, on one GPU or data parallel with ZeRO 0-1 (where the forward and backward are one GPU's)."""
    par = setup.parallel
    why = None
    if setup.resolved_recipe not in (Recipe.fp32, Recipe.mixed, Recipe.pure):
        why = f"recipe {setup.resolved_recipe.value} (LoRA adapters need a native mapper)"
    elif setup.checkpointing is Checkpointing.selective:
        why = "selective checkpointing (transformers checkpoints whole blocks: use --checkpointing full or none)"
    elif par.tp > 1 or par.pp > 1 or par.zero > 1:
        why = "tensor or pipeline parallelism or ZeRO-2/3 (one GPU, or data parallel with ZeRO 0-1)"
    elif setup.resolved_recipe is Recipe.mixed and setup.convention.value != "autocast":
        why = f"the {setup.convention.value} convention (the probe runs torch.autocast)"
    if why is not None:
        raise LLMBudgetError(
            f"{label} is measured from transformers' {measured_by}, which the probe runs without {why}"
        )
