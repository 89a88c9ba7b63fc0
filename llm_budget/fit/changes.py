"""Changes that would make a setup fit: single changes with their new per-GPU need, changes together
(greedy, the one that saves most first), more GPUs, a bigger card. Each change is a set of option values."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Optional

from llm_budget.errors import LLMBudgetError
from llm_budget.fit.layouts import best_layout_on
from llm_budget.fit.results import Change, Plan, Setting, layout_label
from llm_budget.fit.usable import usable_memory
from llm_budget.hardware import GpuSpec, Precision, gpu_catalog
from llm_budget.memory import Checkpointing, InferSetup, Optimizer, TrainSetup, inference_memory
from llm_budget.model.spec import ModelSpec

Settings = dict[str, Setting]


class _Candidate(NamedTuple):
    change: str
    settings: Settings
    setup: TrainSetup


def _with(setup: TrainSetup, **changes: object) -> TrainSetup:
    """A re-validated copy (model_copy alone would skip validation and keep raw strings)."""
    return TrainSetup.model_validate({**setup.model_dump(), **changes})


def _training_candidates(spec: Optional[ModelSpec], base: TrainSetup) -> list[_Candidate]:
    """Single changes to a training setup, in the order a person would try them."""
    out: list[_Candidate] = []
    if base.precision is Precision.fp32:
        out.append(
            _Candidate(
                "mixed precision (bf16 compute, FP32 master weights)",
                {"precision": "bf16"},
                _with(base, precision=Precision.bf16, recipe=None),
            )
        )
    if base.resolved_recipe.value == "mixed":
        out.append(
            _Candidate(
                "pure 16-bit training (weights, gradients and Adam in bf16)",
                {"recipe": "pure"},
                _with(base, recipe="pure"),
            )
        )
    if base.optimizer in (Optimizer.adamw, Optimizer.adam):
        out.append(
            _Candidate(
                "8-bit AdamW (bitsandbytes)", {"optimizer": "adamw8bit"}, _with(base, optimizer=Optimizer.adamw8bit)
            )
        )
        out.append(
            _Candidate(
                "SGD with momentum (one state)",
                {"optimizer": "sgd-momentum"},
                _with(base, optimizer=Optimizer.sgd_momentum),
            )
        )
    if spec is None:
        return out
    if base.checkpointing is Checkpointing.none:
        out.append(
            _Candidate(
                "full activation checkpointing",
                {"checkpointing": "full"},
                _with(base, checkpointing=Checkpointing.full),
            )
        )
    b = base.batch
    while b > 1:
        b //= 2
        out.append(
            _Candidate(
                f"micro-batch {b} (gradient accumulation keeps the global batch)", {"batch": b}, _with(base, batch=b)
            )
        )
    out.append(
        _Candidate(
            "QLoRA: NF4 base, rank-16 adapters",
            {"precision": "nf4", "lora_rank": 16},
            _with(base, precision=Precision.nf4, lora_rank=16, recipe=None),
        )
    )
    out.append(
        _Candidate(
            "LoRA: frozen bf16 base, rank-16 adapters",
            {"lora_rank": 16},
            _with(base, precision=Precision.bf16, lora_rank=16, recipe=None),
        )
    )
    return out


def _apply(current: TrainSetup, base: TrainSetup, candidate: _Candidate) -> TrainSetup:
    """`current` with the fields the candidate changed from `base`, re-validated."""
    s = candidate.setup
    update = {k: getattr(s, k) for k in s.model_fields_set if getattr(s, k) != getattr(base, k)}
    return TrainSetup.model_validate(current.model_copy(update=update).model_dump())


def _combine(
    base: TrainSetup, options: list[_Candidate], need_of: Callable[[TrainSetup], int], usable: int
) -> Optional[tuple[list[str], Settings, int]]:
    """Apply changes greedily, the one that saves most first, until the setup fits (or nothing more helps)."""
    current, need = base, need_of(base)
    names: list[str] = []
    settings: Settings = {}
    remaining = list(options)
    while need > usable and remaining:
        trials = []
        for option in remaining:
            try:
                candidate = _apply(current, base, option)
                trials.append((need_of(candidate), option, candidate))
            except (LLMBudgetError, ValueError):
                continue
        if not trials:
            break
        best_need, best, best_setup = min(trials, key=lambda x: x[0])
        if best_need >= need:
            break
        need, current = best_need, best_setup
        names.append(best.change)
        settings.update(best.settings)
        remaining = [
            o
            for o in remaining
            if o.settings != best.settings and not ("batch" in o.settings and "batch" in best.settings)
        ]
    return (names, settings, need) if len(names) > 1 else None


def training_changes(
    spec: Optional[ModelSpec],
    train: TrainSetup,
    gpus: int,
    usable: int,
    best: Optional[Plan],
    n_params: int,
    gpus_per_node: int,
) -> tuple[list[Change], int]:
    """Single training changes on `gpus` GPUs, changes together when none fits alone, and the fewest GPUs' best layout."""

    def need_of(setup: TrainSetup) -> int:
        return best_layout_on(spec, setup, gpus, gpus_per_node, n_params)[0]

    out: list[Change] = []
    applicable: list[_Candidate] = []
    for candidate in _training_candidates(spec, train):
        try:
            need = need_of(candidate.setup)
        except (LLMBudgetError, ValueError):  # a candidate that does not apply to this model or recipe
            continue
        applicable.append(candidate)
        out.append(
            Change(
                change=candidate.change,
                settings=candidate.settings,
                required_bytes_per_gpu=need,
                gpus=gpus,
                fits=need <= usable,
            )
        )
    if applicable and not any(c.fits for c in out):
        combo = _combine(train, applicable, need_of, usable)
        if combo is not None:
            names, settings, need = combo
            out.append(
                Change(
                    change="together: " + " + ".join(names),
                    settings=settings,
                    required_bytes_per_gpu=need,
                    gpus=gpus,
                    fits=need <= usable,
                )
            )
    if best is not None and best.gpus > gpus:
        more_gpus: Settings = {"gpus": best.gpus}
        if best.checkpointing != train.checkpointing.value:  # the search tries full checkpointing on its own
            more_gpus["checkpointing"] = best.checkpointing
        label = layout_label(best.dp, best.tp, best.pp, best.zero, best.checkpointing)
        out.append(
            Change(
                change=f"{best.gpus} GPUs: {label}",
                settings=more_gpus,
                required_bytes_per_gpu=best.required_bytes_per_gpu,
                gpus=best.gpus,
                fits=True,
            )
        )
    return out, need_of(train)


def serving_changes(
    spec: Optional[ModelSpec], gpu: GpuSpec, infer: InferSetup, gpus: int, usable: int, gpus_per_node: int
) -> tuple[list[Change], int]:
    """Smaller weights, an FP8 KV cache, or tensor parallelism over more GPUs of a node."""
    if spec is None:
        return [], 0
    need_now = inference_memory(spec, infer).total_bytes
    out: list[Change] = []
    for p in (Precision.int8, Precision.nf4):
        if p != infer.precision:
            need = inference_memory(spec, infer.model_copy(update={"precision": p})).total_bytes
            out.append(
                Change(
                    change=f"{p.value} weights",
                    settings={"precision": p.value},
                    required_bytes_per_gpu=need,
                    gpus=gpus,
                    fits=need <= usable,
                )
            )
    if infer.kv_precision is None and gpu.peak_tflops("fp8") is not None:
        need = inference_memory(spec, infer.model_copy(update={"kv_precision": Precision.fp8_e4m3})).total_bytes
        out.append(
            Change(
                change="FP8 KV cache",
                settings={"kv_precision": "fp8"},
                required_bytes_per_gpu=need,
                gpus=gpus,
                fits=need <= usable,
            )
        )
    for tp in (2, 4, 8):
        if tp <= gpus or tp > gpus_per_node or spec.n_heads % tp:
            continue
        need = -(-need_now // tp)
        if need <= usable:
            out.append(
                Change(
                    change=f"{tp} GPUs, tensor parallel",
                    settings={"gpus": tp},
                    required_bytes_per_gpu=need,
                    gpus=tp,
                    fits=True,
                )
            )
            break
    return out, need_now


def bigger_card(gpu: GpuSpec, need: int, gpus: int, cuda_context: int, fragmentation: float) -> Optional[Change]:
    """The smallest card of the same vendor in the catalog whose usable memory holds `need`."""
    bigger = sorted(
        (
            g
            for g in gpu_catalog().values()
            if g.device_memory_bytes > gpu.device_memory_bytes and g.vendor == gpu.vendor
        ),
        key=lambda g: g.device_memory_bytes,
    )
    for g in bigger:
        if usable_memory(g, cuda_context=cuda_context, fragmentation=fragmentation).usable_bytes >= need:
            return Change(
                change=f"a bigger card: {g.display_name}",
                settings={"gpu": g.name},
                required_bytes_per_gpu=need,
                gpus=gpus,
                fits=True,
            )
    return None


def changes(
    spec: Optional[ModelSpec],
    gpu: GpuSpec,
    mode: str,
    train: TrainSetup,
    infer: InferSetup,
    *,
    gpus: int,
    usable: int,
    best: Optional[Plan],
    n_params: int,
    gpus_per_node: int,
    cuda_context: int,
    fragmentation: float,
) -> list[Change]:
    """Changes to the requested setup, each with its new per-GPU need; fitting ones first, then fewer GPUs, less memory."""
    if mode in ("train", "both"):
        out, need_now = training_changes(spec, train, gpus, usable, best, n_params, gpus_per_node)
    else:
        out, need_now = serving_changes(spec, gpu, infer, gpus, usable, gpus_per_node)
    card = bigger_card(gpu, need_now, gpus, cuda_context, fragmentation)
    if card is not None:
        out.append(card)
    out.sort(key=lambda c: (not c.fits, c.gpus, c.required_bytes_per_gpu))
    return out
