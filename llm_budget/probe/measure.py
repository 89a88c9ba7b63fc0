"""Measure a real training step of the reference model: on CUDA, on the CPU, or under fake tensors.

The same step the accountant models (memory.training_memory): steady state (a first step
creates the optimizer states, the second is measured), gradients set to None before
forward, the loss on FP32 logits. Measurements are taken at phase boundaries:

- weights:      bytes of parameters (and buffers) once the model is built
- states:       what the optimizer step adds the first time (states, step counters)
- forward:      live bytes after forward minus before (saved activations, loss buffers,
                autocast weight copies)
- gradients:    live bytes after backward minus before forward (all gradients)
- peak:         the largest live total during the measured step

On CUDA these come from torch.cuda.memory_allocated / max_memory_allocated (with
reset_peak_memory_stats) and memory_reserved; elsewhere from LiveBytes, a
TorchDispatchMode that tallies the storages of every tensor created, freed when their
last reference dies. Under FakeTensorMode nothing is allocated, so a 175B model is
"run" in seconds on a laptop, and the tally equals the real CPU run's byte for byte.
"""

from __future__ import annotations

import contextlib
import gc
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from llm_budget.defaults import sequence_length
from llm_budget.hardware import Precision
from llm_budget.memory import Checkpointing, InferSetup, Optimizer, OptimizerImpl, Recipe, TrainSetup
from llm_budget.model.spec import ModelSpec
from llm_budget.probe.model import Transformer

DTYPES = {Precision.fp32: torch.float32, Precision.bf16: torch.bfloat16, Precision.fp16: torch.float16}


class LiveBytes(TorchDispatchMode):
    """Live tensor storage created under this mode (plus registered tensors); tracks the peak.

    Storages are counted once, at their size, until their last reference dies (weakref). Storage
    resizes (FSDP2 frees and re-gathers unsharded parameters with UntypedStorage.resize_, which a
    dispatch mode does not see) are followed by wrapping resize_ while the mode is active, as
    torch.distributed._tools.mem_tracker.MemTracker does.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._sizes: dict[int, int] = {}
        self._orig_resize = None
        self._depth = 0

    def track(self, tensors: Any) -> None:
        for t in tensors:
            if isinstance(t, torch.Tensor):
                self._add(t)

    def _add(self, t: torch.Tensor) -> None:
        if hasattr(t, "to_local") and type(t).__name__ == "DTensor":
            t = t.to_local()  # type: ignore[attr-defined]
        storage = t.untyped_storage()
        key = storage._cdata
        if key in self._sizes:
            return
        n = storage.nbytes()
        self._sizes[key] = n
        self.live += n
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, key)

    def _free(self, key: int) -> None:
        self.live -= self._sizes.pop(key, 0)

    def _resized(self, storage: torch.UntypedStorage) -> None:
        key = storage._cdata
        if key in self._sizes:
            n = storage.nbytes()
            self.live += n - self._sizes[key]
            self._sizes[key] = n
            self.peak = max(self.peak, self.live)

    def reset_peak(self) -> None:
        self.peak = self.live

    def __enter__(self):  # type: ignore[no-untyped-def]
        self._depth += 1
        if self._orig_resize is None:
            orig = torch.UntypedStorage.resize_
            tracker = self

            def resize_(st, size):  # type: ignore[no-untyped-def]
                out = orig(st, size)
                tracker._resized(st)
                return out

            self._orig_resize = orig  # type: ignore[assignment]
            torch.UntypedStorage.resize_ = resize_  # type: ignore[method-assign]
        return super().__enter__()

    def __exit__(self, *exc):  # type: ignore[no-untyped-def]
        self._depth -= 1
        if self._depth == 0 and self._orig_resize is not None:
            torch.UntypedStorage.resize_ = self._orig_resize  # type: ignore[method-assign]
            self._orig_resize = None
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        flat, _ = tree_flatten(out)
        for t in flat:
            if isinstance(t, torch.Tensor):
                self._add(t)
        return out


@dataclass
class StepMeasurement:
    path: str  # "cuda" | "cpu" | "fake"
    device: str
    weights: int = 0
    states: int = 0
    forward: int = 0
    gradients: int = 0
    peak: int = 0  # the measured step's peak, total live bytes (max_memory_allocated on CUDA)
    reserved: Optional[int] = None  # CUDA: max_memory_reserved (the allocator's cache included)
    oom: bool = False
    notes: list[str] = field(default_factory=list)


class _Meter:
    """Phase readings from CUDA's allocator or from LiveBytes."""

    def __init__(self, path: str, tracker: Optional[LiveBytes]) -> None:
        self.path, self.tracker = path, tracker

    def now(self) -> int:
        if self.path == "cuda":
            return torch.cuda.memory_allocated()
        assert self.tracker is not None
        return self.tracker.live

    def reset_peak(self) -> None:
        if self.path == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            assert self.tracker is not None
            self.tracker.reset_peak()

    def peak(self) -> int:
        if self.path == "cuda":
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated()
        assert self.tracker is not None
        return self.tracker.peak


def _storage_dtype(setup: TrainSetup) -> torch.dtype:
    """The dtype the model's parameters are created in: the recipe's weight width (LoRA: the frozen base's)."""
    from llm_budget.memory.recipes import recipe_bytes

    width = recipe_bytes(setup).weight
    return torch.float32 if width == 4 else DTYPES.get(setup.precision, torch.bfloat16)


def build_model(spec: ModelSpec, setup: TrainSetup, device: str, attention: str) -> Transformer:
    """The reference model on `device`, created directly in its storage dtype (module.to() cannot swap fake parameters);
    with LoRA, the base frozen and adapters added (probe/model.py add_lora, a bitsandbytes stand-in for nf4)."""
    dtype = _storage_dtype(setup)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Transformer(spec, attention=attention, n_layers=setup.n_layers)
    finally:
        torch.set_default_dtype(old)
    model.train()
    if setup.checkpointing is not Checkpointing.none:
        model.checkpointing = setup.checkpointing.value
    if setup.lora_rank is not None:
        _add_adapters(model, spec, setup, device)
    return model


def _add_adapters(model: Transformer, spec: ModelSpec, setup: TrainSetup, device: str) -> None:
    from llm_budget.memory.adapters import adapter_bytes, target_names
    from llm_budget.probe.model import add_lora

    assert setup.lora_rank is not None
    compute = DTYPES.get(setup.precision, torch.bfloat16)
    adapter = torch.float32 if adapter_bytes(setup) == 4 else compute
    quantized = compute if setup.precision is Precision.nf4 else None
    with torch.device(device):
        add_lora(
            model,
            target_names(spec, setup.lora_targets),
            setup.lora_rank,
            setup.lora_dropout,
            adapter,
            quantized=quantized,
            double_quant=setup.double_quant,
        )


PROBED_OPTIMIZERS: tuple[Optimizer, ...] = (
    Optimizer.adamw,
    Optimizer.adam,
    Optimizer.sgd,
    Optimizer.sgd_momentum,
    *((Optimizer.adafactor,) if hasattr(torch.optim, "Adafactor") else ()),
)
"""The optimizers torch.optim holds (8-bit AdamW needs bitsandbytes, Lion a third-party package)."""


def make_optimizer(model: torch.nn.Module, setup: TrainSetup) -> torch.optim.Optimizer:
    impl = setup.resolved_impl
    kw: dict[str, Any] = {"foreach": impl is OptimizerImpl.foreach}
    if impl is OptimizerImpl.fused:
        kw = {"fused": True}
    params = [p for p in model.parameters() if p.requires_grad]
    if setup.optimizer in (Optimizer.adamw, Optimizer.adam):
        cls = torch.optim.AdamW if setup.optimizer is Optimizer.adamw else torch.optim.Adam
        return cls(params, lr=1e-4, **kw)
    if setup.optimizer is Optimizer.sgd:
        return torch.optim.SGD(params, lr=1e-3, **kw)
    if setup.optimizer is Optimizer.sgd_momentum:
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, **kw)
    if setup.optimizer is Optimizer.adafactor and hasattr(torch.optim, "Adafactor"):
        return torch.optim.Adafactor(params, lr=1e-3, foreach=kw.get("foreach"))
    raise ValueError(f"the probe runs {', '.join(o.value for o in PROBED_OPTIMIZERS)}, not {setup.optimizer.value}")


@contextlib.contextmanager
def _mode(path: str) -> Iterator[Optional[LiveBytes]]:
    if path == "cuda":
        yield None
        return
    tracker = LiveBytes()
    if path == "fake":
        from torch._subclasses.fake_tensor import FakeTensorMode

        with FakeTensorMode():
            yield tracker
    else:
        yield tracker


def measure_two_steps(
    m: StepMeasurement,
    meter: _Meter,
    opt: torch.optim.Optimizer,
    forward: Callable[[], torch.Tensor],
    *,
    tracker: Optional[LiveBytes] = None,
    after_backward: Optional[Callable[[], None]] = None,
    cuda: bool = False,
) -> None:
    """The probe's protocol for a training step, shared by every model it measures.

    Step 1 creates the optimizer states (their bytes: what step 1 leaves behind once its gradients are
    set to None). Step 2 is the steady state that is measured: the live bytes after the forward
    (saved activations, the loss's buffers, autocast's weight copies), after the backward (plus the
    gradients), and the peak over the whole step, optimizer step included. `forward` returns the loss.
    """

    def one_step() -> tuple[int, int, int]:
        opt.zero_grad(set_to_none=True)
        start = meter.now()
        with tracker if tracker is not None else contextlib.nullcontext():
            loss = forward()
            fwd = meter.now() - start
            loss.backward()
            del loss
            if after_backward is not None:
                after_backward()
            grads = meter.now() - start
            opt.step()
        return start, fwd, grads

    start, _, _ = one_step()
    opt.zero_grad(set_to_none=True)
    m.states = meter.now() - start
    meter.reset_peak()
    _, m.forward, m.gradients = one_step()
    m.peak = meter.peak()
    if cuda:
        m.reserved = torch.cuda.max_memory_reserved()


def measure_training_step(spec: ModelSpec, setup: TrainSetup, *, path: str) -> StepMeasurement:
    """Run two training steps and measure the second. `path` is "cuda", "cpu" or "fake"."""
    device = "cuda" if path == "cuda" else "cpu"
    from llm_budget.memory.recipes import recipe_bytes

    amp = setup.resolved_recipe is Recipe.mixed or (
        setup.lora_rank is not None and recipe_bytes(setup).flow == "autocast"
    )
    dtype = DTYPES.get(setup.precision, torch.bfloat16)
    seq = sequence_length(setup.seq, spec.context_window)
    m = StepMeasurement(path=path, device=torch.cuda.get_device_name() if path == "cuda" else "cpu")
    if path == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    with _mode(path) as tracker:
        meter = _Meter(path, tracker)
        before = meter.now()
        model = build_model(spec, setup, device, setup.attention)
        params = list(model.parameters()) + list(model.buffers())
        if tracker is not None:
            tracker.track(params)
        m.weights = meter.now() - before
        opt = make_optimizer(model, setup)
        tokens = torch.randint(0, spec.n_vocab, (setup.batch, seq), device=device)
        targets = torch.randint(0, spec.n_vocab, (setup.batch, seq), device=device)
        if tracker is not None:
            tracker.track([tokens, targets])
        ctx = (lambda: torch.autocast(device, dtype=dtype)) if amp else contextlib.nullcontext

        def forward() -> torch.Tensor:
            with ctx():
                return model.loss(tokens, targets)  # noqa: F821 (the closure's `model`, deleted after the step)

        measure_two_steps(m, meter, opt, forward, tracker=tracker, cuda=path == "cuda")
        del model, opt, params
    return m


@dataclass
class InferMeasurement:
    path: str
    device: str
    weights: int = 0
    kv_cache: int = 0
    prefill_peak: int = 0  # total live at the prefill's peak (weights and cache included)
    decode_peak: int = 0
    reserved: Optional[int] = None
    oom: bool = False
    notes: list[str] = field(default_factory=list)


DECODE_STEPS = 4
"""Tokens the serving measurement decodes after its prefill (the prompt is the context less these)."""


def measure_inference(
    spec: ModelSpec, setup: InferSetup, *, path: str, decode_steps: int = DECODE_STEPS
) -> InferMeasurement:
    """Load the weights, preallocate the KV cache for the context, prefill the prompt, decode a few tokens."""
    device = "cuda" if path == "cuda" else "cpu"
    dtype = DTYPES.get(setup.precision)
    if dtype is None:
        raise ValueError(f"the probe serves fp32, fp16 and bf16 weights, not {setup.precision.value}")
    kv_dtype = DTYPES.get(setup.kv_precision or setup.precision, dtype)
    context = sequence_length(setup.context, spec.context_window)
    prompt = setup.prompt or max(context - decode_steps, 1)
    m = InferMeasurement(path=path, device=torch.cuda.get_device_name() if path == "cuda" else "cpu")
    if path == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    with _mode(path) as tracker:
        meter = _Meter(path, tracker)
        before = meter.now()
        old = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            with torch.device(device):
                model = Transformer(spec, attention="sdpa").eval()
        finally:
            torch.set_default_dtype(old)
        if tracker is not None:
            tracker.track(list(model.parameters()))
        m.weights = meter.now() - before
        tokens = torch.randint(0, spec.n_vocab, (setup.batch, prompt), device=device)
        if tracker is not None:
            tracker.track([tokens])
        with tracker if tracker is not None else contextlib.nullcontext():
            start = meter.now()
            cache = model.new_cache(setup.batch, context, kv_dtype, device)
            m.kv_cache = meter.now() - start
            meter.reset_peak()
            logits = model.step(tokens, cache)
            m.prefill_peak = meter.peak()
            meter.reset_peak()
            for _ in range(decode_steps):
                nxt = (
                    logits.argmax(-1)
                    if path != "fake"
                    else torch.zeros(setup.batch, 1, dtype=torch.long, device=device)
                )
                logits = model.step(nxt, cache)
            m.decode_peak = meter.peak()
        if path == "cuda":
            m.reserved = torch.cuda.max_memory_reserved()
        del model, cache, logits
    return m
