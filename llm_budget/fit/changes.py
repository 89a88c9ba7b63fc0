"""Changes that would make a setup fit: single changes with their new per-GPU need, changes together
(greedy, the one that saves most first), more GPUs, a bigger card. Each change is a set of option values."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Optional

from llm_budget.errors import LLMBudgetError
from llm_budget.fit.results import Change, Plan, Setting
from llm_budget.fit.usable import usable_memory
from llm_budget.hardware import GpuSpec, Precision, gpu_catalog, parse_precision
from llm_budget.memory import Checkpointing, InferSetup, Optimizer, TrainSetup
from llm_budget.model.spec import ModelSpec

Settings = dict[str, Setting]
Evaluate = Callable[[Settings], tuple[int, bool]]
"""The requested setup with some option values changed -> its per-GPU need and whether everything fits,
computed exactly as `llm-budget fit` with those options would (the advisor's own verdicts)."""

_QUANTIZED = (Precision.int8, Precision.int4, Precision.nf4)


class _Candidate(NamedTuple):
    change: str
    settings: Settings


def apply_settings(
    train: TrainSetup, infer: InferSetup, gpus: int, gpu: GpuSpec, settings: Settings
) -> tuple[TrainSetup, InferSetup, int, GpuSpec]:
    """The setups, GPU count and card that the options of `settings` give, as the command line builds them:
    --precision sets the served weights and the training precision (bf16 where that cannot be trained:
    a quantized base without adapters, FP8), --batch both batches, the rest their own field. Fields the
    user left unset stay unset (hardware defaults such as the attention kernel still follow the card)."""
    t = {k: getattr(train, k) for k in train.model_fields_set}
    i = {k: getattr(infer, k) for k in infer.model_fields_set}
    for key in ("recipe", "optimizer", "checkpointing", "lora_rank"):
        if key in settings:
            t[key] = settings[key]
    if "batch" in settings:
        t["batch"] = i["batch"] = settings["batch"]
    if "kv_precision" in settings:
        i["kv_precision"] = parse_precision(str(settings["kv_precision"]), what="--kv-precision")
    if "precision" in settings:
        p = parse_precision(str(settings["precision"]))
        i["precision"] = p
        lora = t.get("lora_rank")
        trainable = not (p in _QUANTIZED and not lora) and p not in (Precision.fp8_e4m3, Precision.fp8_e5m2)
        t["precision"] = p if trainable else Precision.bf16
    card = gpu_catalog()[str(settings["gpu"])] if "gpu" in settings else gpu
    n = int(settings["gpus"]) if "gpus" in settings else gpus
    return TrainSetup.model_validate(t), InferSetup.model_validate(i), n, card


def _training_candidates(spec: Optional[ModelSpec], base: TrainSetup) -> list[_Candidate]:
    """Single changes to a training setup, in the order a person would try them."""
    out: list[_Candidate] = []
    if base.precision is Precision.fp32:
        out.append(_Candidate("mixed precision (bf16 compute, FP32 master weights)", {"precision": "bf16"}))
    if base.resolved_recipe.value == "mixed":
        out.append(_Candidate("pure 16-bit training (weights, gradients and Adam in bf16)", {"recipe": "pure"}))
    if base.optimizer in (Optimizer.adamw, Optimizer.adam):
        out.append(_Candidate("8-bit AdamW (bitsandbytes)", {"optimizer": "adamw8bit"}))
        out.append(_Candidate("SGD with momentum (one state)", {"optimizer": "sgd-momentum"}))
    if spec is None:
        return out
    if base.checkpointing is Checkpointing.none:
        out.append(_Candidate("full activation checkpointing", {"checkpointing": "full"}))
    b = base.batch
    while b > 1:
        b //= 2
        out.append(_Candidate(f"micro-batch {b} (gradient accumulation keeps the global batch)", {"batch": b}))
    out.append(_Candidate("QLoRA: NF4 base, rank-16 adapters", {"precision": "nf4", "lora_rank": 16}))
    lora: Settings = {"lora_rank": 16} if base.precision is Precision.bf16 else {"precision": "bf16", "lora_rank": 16}
    out.append(_Candidate("LoRA: frozen bf16 base, rank-16 adapters", lora))
    return out


def _serving_candidates(spec: Optional[ModelSpec], gpu: GpuSpec, infer: InferSetup) -> list[_Candidate]:
    """Smaller weights and an FP8 KV cache (with an architecture: the cache needs one)."""
    out = [_Candidate(f"{p.value} weights", {"precision": p.value}) for p in (Precision.int8, Precision.nf4)]
    out = [c for c in out if c.settings["precision"] != infer.precision.value]
    if spec is not None and infer.kv_precision is None and gpu.peak_tflops("fp8") is not None:
        out.append(_Candidate("FP8 KV cache", {"kv_precision": "fp8"}))
    return out


def _evaluated(evaluate: Evaluate, candidate: _Candidate, gpus: int) -> Optional[Change]:
    try:
        need, fits = evaluate(candidate.settings)
    except (LLMBudgetError, ValueError):  # a candidate that does not apply to this model or recipe
        return None
    return Change(
        change=candidate.change,
        settings=candidate.settings,
        required_bytes_per_gpu=need,
        gpus=int(candidate.settings.get("gpus", gpus)),
        fits=fits,
    )


def _combine(options: list[_Candidate], evaluate: Evaluate, need_now: int, gpus: int) -> Optional[Change]:
    """Apply changes greedily, the one that saves most first, until the setup fits (or nothing more helps)."""
    need, fits = need_now, False
    names: list[str] = []
    settings: Settings = {}
    remaining = list(options)
    while not fits and remaining:
        trials = []
        for option in remaining:
            if option.settings.keys() & settings.keys():  # one value per option
                continue
            merged = _Candidate(option.change, {**settings, **option.settings})
            change = _evaluated(evaluate, merged, gpus)
            if change is not None:
                trials.append((change.required_bytes_per_gpu, change.fits, option))
        if not trials:
            break
        best_need, best_fits, best = min(trials, key=lambda x: x[0])
        if best_need >= need:
            break
        need, fits = best_need, best_fits
        names.append(best.change)
        settings.update(best.settings)
        remaining = [o for o in remaining if o is not best]
    if len(names) < 2:
        return None
    return Change(
        change="together: " + " + ".join(names), settings=settings, required_bytes_per_gpu=need, gpus=gpus, fits=fits
    )


def _more_gpus(
    spec: Optional[ModelSpec],
    mode: str,
    train: TrainSetup,
    gpus: int,
    best: Optional[Plan],
    gpus_per_node: int,
    evaluate: Evaluate,
) -> Optional[Change]:
    """Training: the fewest GPUs' best layout (its checkpointing and micro-batch as options). Serving: the
    fewest GPUs of a node whose tensor-parallel split fits."""
    if mode in ("train", "both"):
        if best is None or best.gpus <= gpus:
            return None
        settings: Settings = {"gpus": best.gpus}
        if best.checkpointing != train.checkpointing.value:  # the search tries full checkpointing on its own
            settings["checkpointing"] = best.checkpointing
        if best.micro_batch != train.batch:
            settings["batch"] = best.micro_batch
        # the need is the verdict of the command these settings name (its leanest layout), so the label names
        # no single layout: the layouts and their needs are listed in the report's plans
        return _evaluated(evaluate, _Candidate(f"{best.gpus} GPUs (the fewest on which a layout fits)", settings), gpus)
    for tp in (2, 4, 8):
        if tp <= gpus or tp > gpus_per_node or (spec is not None and spec.n_heads % tp):
            continue
        change = _evaluated(evaluate, _Candidate(f"{tp} GPUs, tensor parallel", {"gpus": tp}), gpus)
        if change is not None and change.fits:
            return change
    return None


def bigger_card(
    gpu: GpuSpec, gpus: int, cuda_context: int, fragmentation: float, evaluate: Evaluate
) -> Optional[Change]:
    """The smallest card of the same vendor in the catalog with more usable memory than this one on which
    the same setup fits."""
    here = usable_memory(gpu, cuda_context=cuda_context, fragmentation=fragmentation).usable_bytes
    bigger = sorted(
        (
            g
            for g in gpu_catalog().values()
            if g.vendor == gpu.vendor and g.device_memory_bytes > gpu.device_memory_bytes
        ),
        key=lambda g: g.device_memory_bytes,
    )
    for g in bigger:
        try:
            if usable_memory(g, cuda_context=cuda_context, fragmentation=fragmentation).usable_bytes <= here:
                continue
        except LLMBudgetError:
            continue
        change = _evaluated(evaluate, _Candidate(f"a bigger card: {g.display_name}", {"gpu": g.name}), gpus)
        if change is not None and change.fits:
            return change
    return None


def changes(
    spec: Optional[ModelSpec],
    gpu: GpuSpec,
    mode: str,
    train: TrainSetup,
    infer: InferSetup,
    *,
    gpus: int,
    best: Optional[Plan],
    gpus_per_node: int,
    cuda_context: int,
    fragmentation: float,
    need_now: int,
    evaluate: Evaluate,
) -> list[Change]:
    """Changes to the requested setup, each evaluated as the command it names would evaluate it; a change on
    the same GPUs is offered only when it lowers the per-GPU need. Fitting ones first, then fewer GPUs, less memory."""
    candidates = (
        _training_candidates(spec, train) if mode in ("train", "both") else _serving_candidates(spec, gpu, infer)
    )
    out: list[Change] = []
    applicable: list[_Candidate] = []
    for candidate in candidates:
        change = _evaluated(evaluate, candidate, gpus)
        if change is not None and change.required_bytes_per_gpu < need_now:
            applicable.append(candidate)
            out.append(change)
    if applicable and not any(c.fits for c in out):
        combo = _combine(applicable, evaluate, need_now, gpus)
        if combo is not None:
            out.append(combo)
    more = _more_gpus(spec, mode, train, gpus, best, gpus_per_node, evaluate)
    if more is not None:
        out.append(more)
    card = bigger_card(gpu, gpus, cuda_context, fragmentation, evaluate)
    if card is not None:
        out.append(card)
    out.sort(key=lambda c: (not c.fits, c.gpus, c.required_bytes_per_gpu))
    return out
