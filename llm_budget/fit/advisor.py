"""The fit advisor: does a model fit on given GPUs, and if not, what is the cheapest way to make it fit?

Inputs: a memory requirement from the accountant (llm_budget.memory) and a GPU from the catalog.
Usable memory per GPU is what the driver reports minus the CUDA context and a fragmentation margin
(llm_budget.memory.usable, shared with compute). Training layouts are searched (layouts.py) and ranked by
GPUs needed, then by the estimated time per million tokens (timing.py); limits.py finds the largest batch,
sequence and context, changes.py the changes that would make it fit, each evaluated by this module's own
verdicts with the change's options applied. This module only puts them together.
"""

from __future__ import annotations

import time
from typing import Literal, Optional

from llm_budget.errors import LLMBudgetError
from llm_budget.fit.changes import apply_settings
from llm_budget.fit.changes import changes as ranked_changes
from llm_budget.fit.hardware_warnings import hardware_warnings
from llm_budget.fit.layouts import Given, best_layout_on, given_on, layout_extras, search_plans
from llm_budget.fit.limits import limits, serving_tp
from llm_budget.fit.results import FitReport, Plan, Setting, Verdict, layout_label
from llm_budget.fit.usable import DEFAULT_CUDA_CONTEXT, DEFAULT_FRAGMENTATION, Usable, usable_memory
from llm_budget.hardware import GpuSpec
from llm_budget.memory import (
    InferSetup,
    Parallel,
    TrainSetup,
    inference_memory,
    serving_need,
    training_memory,
    training_step_peak,
)
from llm_budget.memory.card import host_memory
from llm_budget.memory.report import HostMemory
from llm_budget.memory.setup import check_layout
from llm_budget.model.counter import count_params
from llm_budget.model.spec import ModelSpec
from llm_budget.units import MiB

Mode = Literal["train", "infer", "both"]
DEFAULT_TRAIN = TrainSetup()
DEFAULT_INFER = InferSetup()


def _verdict(
    mode: Literal["infer", "train"],
    gpus: int,
    need: int,
    usable: int,
    comps: list[tuple[str, int]],
    *,
    par: Parallel,
    checkpointing: str = "none",
    layout: str,
    phase: str = "",
) -> Verdict:
    return Verdict(
        mode=mode,
        gpus=gpus,
        layout=layout,
        fits=need <= usable,
        required_bytes_per_gpu=need,
        usable_bytes_per_gpu=usable,
        headroom_bytes=usable - need,
        headroom_pct=round(100 * (usable - need) / usable, 1) if usable else 0.0,
        components=comps,
        peak_phase=phase,
        dp=par.dp,
        tp=par.tp,
        pp=par.pp,
        zero=par.zero,
        checkpointing=checkpointing,
    )


def _serving_verdict(
    spec: Optional[ModelSpec], infer: InferSetup, n: int, gpus: int, gpus_per_node: int, usable: int
) -> tuple[Verdict, int]:
    """Serving on `gpus` GPUs with tensor parallelism: weights, KV cache and workspace split over tp GPUs."""
    need_one = serving_need(spec, infer, n)
    if spec is not None:
        comps = [(c.name, c.bytes) for c in inference_memory(spec, infer).components]
    else:
        comps = [("Weights", need_one)]
    tp = serving_tp(spec, gpus, gpus_per_node)
    layout = f"tensor parallel {tp}" if tp > 1 else "one GPU"
    split = [(k, -(-v // tp)) for k, v in comps]
    return _verdict(
        "infer", gpus, -(-need_one // tp), usable, split, par=Parallel(dp=1, tp=tp, pp=1, zero=0), layout=layout
    ), need_one


def _training_verdict(
    spec: Optional[ModelSpec],
    train: TrainSetup,
    n: int,
    gpus: int,
    gpus_per_node: int,
    usable: int,
    given: Optional[Given] = None,
) -> Verdict:
    """Training on exactly `gpus` GPUs: on the layout the user gave (rescaled in dp when a change asks for
    another GPU count), else on the layout with the smallest per-GPU need."""
    par = given_on(given.layout, gpus) if given is not None and spec is not None else None
    if par is None:
        need, par = best_layout_on(spec, train, gpus, gpus_per_node, n)
    ckpt = train.checkpointing.value
    host: Optional[HostMemory] = None
    if spec is not None:
        setup = train.model_copy(update={"parallel": par})
        report = training_memory(spec, setup)
        need, comps, phase = report.total_bytes, [(c.name, c.bytes) for c in report.components], report.peak_phase
        if par.offload != "none":
            host_ram = given.host_ram if given is not None else None
            host = host_memory(training_step_peak(spec, setup).host_bytes, par, gpus_per_node, host_ram)
    else:
        comps, phase = [("Weights, gradients, Adam, activations (rule of thumb)", need)], ""
    if par.is_parallel or par.offload != "none" or par.optimizer_in_backward:
        layout = layout_label(par.dp, par.tp, par.pp, par.zero, ckpt) + layout_extras(par)
    else:
        layout = "one GPU" + (f", checkpointing {ckpt}" if ckpt != "none" else "")
    verdict = _verdict("train", gpus, need, usable, comps, par=par, checkpointing=ckpt, layout=layout, phase=phase)
    if given is None:
        return verdict
    fits = verdict.fits and (host is None or bool(host.fits))
    return Verdict.model_validate({**dict(verdict), "fits": fits, "layout_given": True, "host": host})


def _fewest_serving_gpus(need_one: int, usable: int, max_gpus: int, gpus_per_node: int) -> Optional[int]:
    """Fewest GPUs of one node whose tensor-parallel split of the serving need fits."""
    return next((k for k in range(1, min(max_gpus, gpus_per_node) + 1) if -(-need_one // k) <= usable), None)


def _assumptions(gpu: GpuSpec, u: Usable, fragmentation: float, spec: Optional[ModelSpec], mode: Mode) -> list[str]:
    out = [f"{spec.label}: {spec.notes}"] if spec is not None and spec.tensors is not None and spec.notes else []
    out += [
        f"Usable per GPU: {gpu.display_name}'s {u.total_bytes:,} bytes as the driver reports them, minus "
        f"{u.cuda_context_bytes // MiB} MiB CUDA context, minus {fragmentation:.0%} for allocator fragmentation "
        "(--cuda-context, --fragmentation).",
    ]
    if spec is None and mode in ("infer", "both"):
        out.append("Serving with --params only: the weights alone (no architecture, so no KV cache or workspace).")
    return out


def _check(spec: Optional[ModelSpec], gpus: int, n_params: Optional[int]) -> None:
    if gpus < 1:
        raise LLMBudgetError(f"--gpus must be at least 1, got {gpus}")
    if spec is None and n_params is None:
        raise LLMBudgetError("give a model (--preset, --hf-config or sizes) or --params")


def _given(
    spec: Optional[ModelSpec], mode: Mode, gpus: int, layout: Optional[Parallel], host_ram: Optional[int]
) -> Optional[Given]:
    """The user's layout, checked: it must make --gpus and suit the model; offload needs the host RAM figure."""
    if layout is None:
        return None
    if mode == "infer":
        raise LLMBudgetError("a training layout (--tp, --pp, --sharding, --offload …) needs --mode train or both")
    if spec is None:
        raise LLMBudgetError("a training layout needs a model (--preset, --hf-config or sizes), not --params alone")
    if layout.gpus != gpus:
        raise LLMBudgetError(f"the layout's dp × tp × pp = {layout.gpus} GPUs, but --gpus is {gpus}")
    check_layout(layout, spec)
    if layout.offload != "none" and host_ram is None:
        raise LLMBudgetError(
            f"--offload {layout.offload} puts model states in host RAM: give --host-ram (per node, e.g. 512GB) for a verdict"
        )
    return Given(layout=layout, host_ram=host_ram)


def _required(verdicts: list[Verdict]) -> int:
    """The report's per-GPU need: training's when it was asked for, else serving's."""
    return next((v.required_bytes_per_gpu for v in verdicts if v.mode == "train"), verdicts[0].required_bytes_per_gpu)


def _verdicts(
    spec: Optional[ModelSpec],
    gpu: GpuSpec,
    mode: Mode,
    gpus: int,
    train: TrainSetup,
    infer: InferSetup,
    n: int,
    gpus_per_node: int,
    cuda_context: int,
    fragmentation: float,
    given: Optional[Given] = None,
) -> tuple[list[Verdict], TrainSetup, int]:
    """Serving and/or training on `gpus` GPUs of `gpu`; the training setup as used on this card (eager
    attention where the card has no flash attention and none was asked for); the whole serving need."""
    usable = usable_memory(gpu, cuda_context=cuda_context, fragmentation=fragmentation).usable_bytes
    if (
        mode != "infer"
        and not gpu.has_flash_attention
        and train.attention == "sdpa"
        and not train.model_fields_set & {"attention"}
    ):
        train = train.model_copy(update={"attention": "eager"})
    out: list[Verdict] = []
    need_one = 0
    if mode in ("infer", "both"):
        serving, need_one = _serving_verdict(spec, infer, n, gpus, gpus_per_node, usable)
        out.append(serving)
    if mode in ("train", "both"):
        out.append(_training_verdict(spec, train, n, gpus, gpus_per_node, usable, given))
    return out, train, need_one


def advise(
    spec: Optional[ModelSpec],
    gpu: GpuSpec,
    *,
    mode: Mode = "both",
    gpus: int = 1,
    train: TrainSetup = DEFAULT_TRAIN,
    infer: InferSetup = DEFAULT_INFER,
    n_params: Optional[int] = None,
    gpus_per_node: int = 8,
    max_gpus: int = 1024,
    cuda_context: int = DEFAULT_CUDA_CONTEXT,
    fragmentation: float = DEFAULT_FRAGMENTATION,
    layout: Optional[Parallel] = None,
    host_ram: Optional[int] = None,
) -> FitReport:
    """Verdicts for serving and training on `gpus` GPUs of `gpu`, the best layouts, limits, and changes.

    `layout`: the training layout the user chose; its verdict is for exactly that layout (and, with offload,
    the host RAM per node against `host_ram`); the search still lists the layouts that fit."""
    _check(spec, gpus, n_params)
    given = _given(spec, mode, gpus, layout, host_ram)
    t0 = time.perf_counter()
    n = count_params(spec).total if spec is not None else int(n_params or 0)
    u = usable_memory(gpu, cuda_context=cuda_context, fragmentation=fragmentation)
    warnings = hardware_warnings(gpu, train.precision if mode != "infer" else infer.precision, mode)

    def verdicts_of(card: GpuSpec, k: int, t: TrainSetup, i: InferSetup) -> tuple[list[Verdict], TrainSetup, int]:
        return _verdicts(spec, card, mode, k, t, i, n, gpus_per_node, cuda_context, fragmentation, given)

    requested_train = train

    def evaluate(settings: dict[str, Setting]) -> tuple[int, bool]:
        """A change's need and verdict: the same verdicts with the options it changes (apply_settings)."""
        t, i, k, card = apply_settings(requested_train, infer, gpus, gpu, settings)
        found, _, _ = verdicts_of(card, k, t, i)
        return _required(found), all(v.fits for v in found)

    verdicts, train, need_one = verdicts_of(gpu, gpus, train, infer)
    plans: list[Plan] = []
    needed: Optional[int] = None
    if mode in ("train", "both"):
        plans, needed = search_plans(
            spec, train, gpu, u.usable_bytes, max_gpus=max(max_gpus, gpus), gpus_per_node=gpus_per_node, n_params=n
        )
    else:
        needed = _fewest_serving_gpus(need_one, u.usable_bytes, max_gpus, gpus_per_node)
    fits = all(v.fits for v in verdicts)
    required = _required(verdicts)
    report_limits = (
        limits(spec, mode, train, infer, u.usable_bytes, gpus, gpus_per_node, layout=layout) if spec is not None else {}
    )
    changes = (
        []
        if fits
        else ranked_changes(
            spec,
            gpu,
            mode,
            requested_train,
            infer,
            gpus=gpus,
            best=plans[0] if plans else None,
            gpus_per_node=gpus_per_node,
            cuda_context=cuda_context,
            fragmentation=fragmentation,
            need_now=required,
            evaluate=evaluate,
        )
    )
    return FitReport(
        model=spec.label if spec is not None else f"{n:,} parameters",
        params=n,
        gpu=gpu.name,
        gpu_name=gpu.display_name,
        gpus=gpus,
        mode=mode,
        fits=fits,
        gpus_needed=needed,
        usable_bytes_per_gpu=u.usable_bytes,
        required_bytes_per_gpu=required,
        usable=u,
        verdicts=verdicts,
        plans=plans,
        changes=changes,
        warnings=warnings,
        assumptions=_assumptions(gpu, u, fragmentation, spec, mode),
        search_seconds=round(time.perf_counter() - t0, 4),
        **report_limits,
    )
