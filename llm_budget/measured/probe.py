"""The fake-tensor probe of transformers' own class on a few layers (torch and transformers imported inside).

One training step of `depth` blocks runs under FakeTensorMode (nothing is allocated, so any width runs
in seconds) with the probe's own tools (llm_budget/probe/hf.py: real_run_paths, the path a real
unpacked run takes; probe/measure.py: LiveBytes tallies every tensor's storage). What it returns is what
the parameter table cannot give: the live bytes above the model's own tensors during forward and
backward (activations saved for backward, gradients as they are made, logits and loss, autocast's weight
copies, the inputs), in four stretches (_BackwardSegments). No optimizer runs: its states and its step
follow from the table (training.py), so the measurement does not depend on the optimizer, and one step
is the steady state (the probe's first step only creates optimizer states).
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
    forward: int  # the peak of forward, the loss's included (the model's own bytes included)
    head: int  # the peak of the loss's and the head's backward
    first_block: int  # the peak of the first block differentiated (the last block of the model)
    last_block: int  # the peak of the last block differentiated and the embedding's backward
    forward_end: int  # live bytes forward added (saved activations, logits and loss, autocast copies)
    attention: str  # the attention the class ran ("eager" when it has no SDPA path)
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


class _BackwardSegments:
    """Splits the step's live-bytes peak at each block's backward (a hook on every block's output fires when
    its gradient is ready, i.e. when that block's backward starts) and keeps the peak of each stretch.

    Live bytes change linearly from block to block in backward (activations freed, gradients made), so the
    step's peak is in one of four stretches (timeline.py): forward (with autocast's weight copies, freed
    when it ends); the loss's and the head's backward (every activation held); the first block differentiated
    (every activation, and that block's recomputation under checkpointing); the last block and the embedding
    (every gradient made). Each is linear in the depth, but which one is largest can change with it (and with
    the batch), so they are kept apart.
    """

    def __init__(self, meter: Any) -> None:
        self.meter, self.forward = meter, False
        self.peaks: list[int] = []

    def hook_blocks(self, model: Any, depth: int) -> None:
        from torch import nn

        blocks = next(m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == depth)
        for block in blocks:
            block.register_forward_hook(self._on_output)

    def _on_output(self, module: Any, args: Any, output: Any) -> None:
        t = output[0] if isinstance(output, (tuple, list)) else output
        if self.forward and getattr(t, "requires_grad", False):  # not in a checkpointed block's recomputation
            t.register_hook(self._mark)

    def _mark(self, grad: Any) -> None:
        self.peaks.append(self.meter.peak())
        self.meter.reset_peak()

    def stretches(self) -> tuple[int, int, int, int]:
        """The peaks of the four stretches (one block: the first block differentiated is also the last)."""
        return self.peaks[0], self.peaks[1], self.peaks[2], self.peaks[-1]


@lru_cache(maxsize=64)
def probe_run(key: ProbeKey) -> ProbeRun:
    """A training step of the first key.depth blocks under fake tensors (cached: fit asks many times).

    As the probe's protocol (probe/measure.py measure_two_steps) with a stateless optimizer: gradients set to
    None, forward, backward; the optimizer's step itself adds nothing the table does not give (training.py).
    """
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from llm_budget.probe.hf import real_run_paths
    from llm_budget.probe.measure import DTYPES, LiveBytes, _Meter

    setup = _probe_setup(key)
    dtype = DTYPES[setup.precision]
    start = time.perf_counter()
    tracker = LiveBytes()
    meter = _Meter("fake", tracker)
    segments = _BackwardSegments(meter)
    with FakeTensorMode(), real_run_paths(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' deprecation notices are not the user's concern here
        model, attention = _build(key, setup)
        segments.hook_blocks(model, key.depth)
        tracker.track([*model.parameters(), *model.buffers()])
        model_bytes = tracker.live
        ids = torch.randint(0, model.config.vocab_size, (key.batch, key.seq))
        labels = torch.randint(0, model.config.vocab_size, (key.batch, key.seq))
        tracker.track([ids, labels])
        mixed = setup.resolved_recipe is Recipe.mixed
        before = meter.now()
        meter.reset_peak()
        try:
            with tracker:
                segments.forward = True
                with torch.autocast("cpu", dtype=dtype) if mixed else contextlib.nullcontext():
                    loss = model(input_ids=ids, labels=labels, use_cache=False).loss
                segments.forward = False
                forward_end = meter.now() - before
                segments._mark(None)  # forward has ended (and autocast's weight cache with it)
                loss.backward()
                del loss
                segments._mark(None)  # backward has ended
        except Exception as e:  # e.g. a sequence longer than the class's position table or causal-mask buffer
            raise LLMBudgetError(
                f"transformers' {type(model).__name__} cannot run a training step of {key.batch} × {key.seq:,} "
                f"tokens: {first_line(e)}"
            ) from None
        del model
    return ProbeRun(model_bytes, *segments.stretches(), forward_end, attention, time.perf_counter() - start)


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) <= 160 else text[:157] + "…"


def build_model(config: Any, attention: str, dtype: Any) -> tuple[Any, str]:
    """transformers' model of the configuration with the attention asked for, or eager attention when the class
    has no SDPA path (GPT-Neo); returns the model and the attention it runs."""
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_config(config, attn_implementation=attention, dtype=dtype), attention  # type: ignore[no-untyped-call]
    except ValueError as e:
        if attention != "sdpa" or "does not support" not in str(e):
            raise
    return AutoModelForCausalLM.from_config(config, attn_implementation="eager", dtype=dtype), "eager"  # type: ignore[no-untyped-call]


def _build(key: ProbeKey, setup: TrainSetup) -> tuple[Any, str]:
    """transformers' model of the first key.depth blocks, in its storage dtype, with the setup's checkpointing.
    A class without an SDPA path (GPT-Neo) runs eager attention, and says so."""
    import torch

    from llm_budget.probe.measure import DTYPES

    storage = DTYPES[setup.precision] if setup.resolved_recipe is Recipe.pure else torch.float32
    config = truncated_config(json.loads(key.config_json), key.depth)
    model, attention = build_model(config, setup.attention, storage)
    model.train()
    if setup.checkpointing is Checkpointing.full:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model, attention


def _probe_setup(key: ProbeKey) -> TrainSetup:
    """The setup the probe runs: the key's conditions on the CPU (the optimizer named is never run)."""
    return TrainSetup(
        precision=key.precision,
        recipe=key.recipe,
        checkpointing=key.checkpointing,
        attention=key.attention,
        batch=key.batch,
        seq=key.seq,
        optimizer=Optimizer.sgd,
        device="cpu",
    )


def check_measurable(setup: TrainSetup, label: str, measured_by: str) -> None:
    """The setups the probe of transformers' class runs: full training in fp32, mixed or pure 16 bits, no or full
    checkpointing, on one GPU or data parallel with ZeRO 0-1 (where the forward and backward are one GPU's),
    without offload or the optimizer in backward."""
    par = setup.parallel
    why = None
    if setup.resolved_recipe not in (Recipe.fp32, Recipe.mixed, Recipe.pure):
        why = f"recipe {setup.resolved_recipe.value} (LoRA adapters need a native mapper)"
    elif setup.checkpointing is Checkpointing.selective:
        why = "selective checkpointing (transformers checkpoints whole blocks: use --checkpointing full or none)"
    elif par.tp > 1 or par.pp > 1 or par.zero > 1:
        why = "tensor or pipeline parallelism or ZeRO-2/3 (one GPU, or data parallel with ZeRO 0-1)"
    elif par.offload != "none" or par.optimizer_in_backward:
        why = "offload or the optimizer in backward (one GPU, or data parallel with ZeRO 0-1)"
    elif setup.resolved_recipe is Recipe.mixed and setup.convention.value != "autocast":
        why = f"the {setup.convention.value} convention (the probe runs torch.autocast)"
    if why is not None:
        raise LLMBudgetError(
            f"{label} is measured from transformers' {measured_by}, which the probe runs without {why}"
        )
