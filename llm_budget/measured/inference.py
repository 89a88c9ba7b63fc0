"""Serving memory of a measured model: weights from its table, KV cache and prefill from the probe.

The prefill runs transformers' own class under fake tensors (`model(ids, use_cache=True,
logits_to_keep=1)`: the cache transformers really keeps, whatever its layout, and logits for the last
position only, as a server computes them) at two depths, extrapolated to the model's (like training.py).
The cache is what the prefill left live beyond the weights, the ids and the logits; the workspace is the
prefill's peak above the weights and that cache. Both are linear in the depth.
"""

from __future__ import annotations

import time
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from llm_budget.defaults import sequence_length
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import Precision
from llm_budget.memory.allocator import tensor_bytes
from llm_budget.memory.report import InferSettings, MemoryLine, MemoryReport, Phase
from llm_budget.memory.setup import InferSetup
from llm_budget.model.inventory import parameter_tensors
from llm_budget.model.spec import ModelSpec


class PrefillRun(NamedTuple):
    model_bytes: int  # parameters and buffers in the compute dtype
    cache: int  # the KV cache (or recurrent state) the prefill leaves
    workspace: int  # the prefill's peak above the weights, the ids and the final cache
    attention: str  # what the class ran (eager when it has no SDPA path)
    seconds: float


@lru_cache(maxsize=32)
def prefill_run(config_json: str, depth: int, batch: int, tokens: int, precision: Precision) -> PrefillRun:
    """A prefill of `tokens` positions by the first `depth` blocks, under fake tensors."""
    import json
    import warnings

    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from llm_budget.measured.probe import build_model, first_line, truncated_config
    from llm_budget.probe.hf import real_run_paths
    from llm_budget.probe.measure import DTYPES, LiveBytes

    dtype = DTYPES[precision]
    config = truncated_config(json.loads(config_json), depth)
    start = time.perf_counter()
    tracker = LiveBytes()
    with FakeTensorMode(), real_run_paths(), warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        model, attention = build_model(config, "sdpa", dtype)
        model.eval()
        tracker.track([*model.parameters(), *model.buffers()])
        model_bytes = tracker.live
        ids = torch.randint(0, config.vocab_size, (batch, tokens))
        tracker.track([ids])
        before = tracker.live
        tracker.reset_peak()
        try:
            with tracker:
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        except Exception as e:  # e.g. a context longer than the class's position table or causal-mask buffer
            raise LLMBudgetError(
                f"transformers' {type(model).__name__} cannot prefill {batch} × {tokens:,} tokens: {first_line(e)}"
            ) from None
        logits = out.logits.untyped_storage().nbytes()
        cache = tracker.live - before - logits
        workspace = tracker.peak - before - cache
        del model, out
    return PrefillRun(model_bytes, cache, workspace, attention, time.perf_counter() - start)


class _Measured(NamedTuple):
    weights: int
    kv: int
    workspace: int
    line: str  # the output's "measured from transformers' …" sentence


def _measure(spec: ModelSpec, setup: InferSetup, compute: Precision, context: int, prompt: int) -> _Measured:
    """Weights from the table; the cache after a prefill of the context and the workspace of one of the prompt,
    from the probe at two depths (extrapolate.probe_depths), the line through them at the model's depth."""
    import json

    from llm_budget.measured.extrapolate import line, probe_depths, probed, table_at
    from llm_budget.measured.inventory import config_of
    from llm_budget.memory.inference import _weight_bytes

    cfg, L, c = config_of(spec), spec.n_layers, compute.bits // 8
    kv_p = setup.kv_precision or compute
    depths = probe_depths(spec, cfg, L)

    def at(value: dict[int, int]) -> int:
        return round(line(L, depths[0], value[depths[0]], depths[-1], value[depths[-1]]))

    text = json.dumps(cfg, sort_keys=True)
    full = {k: prefill_run(text, k, setup.batch, context, compute) for k in depths}
    part = {k: prefill_run(text, k, setup.batch, prompt, compute) for k in depths} if prompt != context else full
    buffers = max(at({k: r.model_bytes - tensor_bytes(table_at(spec, k), c, "cpu") for k, r in full.items()}), 0)
    weights = _weight_bytes(table_at(spec, L), setup, c) + buffers  # quantized matrices with their scales
    kv = round(Fraction(at({k: r.cache for k, r in full.items()})) * Fraction(kv_p.bits, compute.bits))
    seconds = sum(r.seconds for r in {**full, **part}.values())
    eager = any(r.attention == "eager" for r in full.values())
    sentence = (
        f"measured from transformers' {spec.measured_by} under fake tensors: {seconds:.1f} s ({probed(depths, L)}): "
        f"the cache transformers keeps after a {context:,}-token prefill, the workspace of a {prompt:,}-token "
        "prefill (logits for the last position only)"
        + (f"; {spec.measured_by} has no SDPA path, so attention ran eager" if eager else "")
        + "; weights from its parameter table"
    )
    return _Measured(weights, kv, at({k: r.workspace for k, r in part.items()}), sentence)


def measured_inference_memory(spec: ModelSpec, setup: InferSetup) -> MemoryReport:
    """inference_memory for a measured spec: the same report, KV cache and workspace from the probe."""
    from llm_budget.memory.inference import _compute_precision

    compute = _compute_precision(setup.precision)
    kv_p = setup.kv_precision or compute
    context = sequence_length(setup.context, spec.context_window)
    prompt = setup.prompt or context
    m = _measure(spec, setup, compute, context, prompt)
    n_params = sum(t.total for t in parameter_tensors(spec))
    parts = [
        (f"Weights ({setup.precision.value})", m.weights),
        (f"KV cache ({kv_p.value}, measured)", m.kv),
        ("Prefill workspace (measured)", m.workspace),
    ]
    total = sum(n for _, n in parts)
    return MemoryReport(
        mode="infer",
        model=spec.label,
        params=n_params,
        trainable_params=0,
        precision=setup.precision.value,
        recipe="inference",
        total_bytes=total,
        components=[MemoryLine(name=name, bytes=n, bytes_per_param=round(n / n_params, 3)) for name, n in parts],
        peak_phase="prefill",
        phases=[Phase(name="weights loaded", bytes=m.weights), Phase(name="prefill", bytes=total)],
        assumptions=[m.line, f"Compute in {compute.value}; KV cache in {kv_p.value}."],
        settings=InferSettings(
            batch=setup.batch, context=context, prompt=prompt, kv_precision=kv_p, device=setup.device
        ),
    )
