"""The fit advisor: does a model fit on given GPUs, and if not, what is the cheapest way to make it fit?

Inputs: a memory requirement from the accountant (memory.py) and a GPU from the catalog (gpus.py).
Usable memory per GPU is what the driver reports minus the CUDA context and a fragmentation
margin for the caching allocator (both documented defaults, both overridable). Training layouts
are searched over data parallelism with ZeRO stages 0-3, tensor parallelism within a node,
pipeline parallelism, and activation checkpointing, and ranked by GPUs needed, then by the
estimated time per million tokens.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from llm_budget.defaults import DEFAULT_MFU, sequence_length
from llm_budget.model.counter import count_params
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec, gpu_catalog
from llm_budget.memory import (
    GRADIENTS,
    OPTIMIZER_STATES,
    WEIGHTS,
    sharded_bytes,
    Checkpointing,
    InferSetup,
    MemoryReport,
    Optimizer,
    Parallel,
    TrainSetup,
    inference_memory,
    rule_of_thumb,
    training_memory,
    training_peak,
)
from llm_budget.hardware import Precision
from llm_budget.model.spec import ModelSpec
from llm_budget.units import MiB

DEFAULT_CUDA_CONTEXT = 1280 * MiB
"""What PyTorch cannot use of the total nvidia-smi reports. Two parts: the driver keeps some memory out of
cudaMemGetInfo's total (out-of-memory messages print 79.15 GiB total capacity on an A100 80GB whose
nvidia-smi total is 80 GiB, 79.11 GiB on an H100 80GB (79.65), 14.75 GiB on a T4 (15.00): 0.25-0.9 GiB;
see tests/test_oom.py's messages), and the CUDA context with its libraries takes 274 MiB (lazy module
loading) to 636 MiB (eager) (pytorch/pytorch#86509; "around 400MB", #109888), cuBLAS and NCCL
workspaces on top. 1.25 GiB covers both on current cards; --cuda-context sets it."""

DEFAULT_FRAGMENTATION = 0.05
"""Share of the remaining memory kept back for the caching allocator's fragmentation (reserved but not
allocated: blocks rounded to 2 MiB/20 MiB segments, split blocks that cannot be reused;
PyTorch CUDA semantics notes). Set --fragmentation 0 with expandable_segments:True."""

TOKENS_REF = 1_000_000


class Usable(BaseModel):
    model_config = ConfigDict(frozen=True)

    total_bytes: int  # as the driver reports it
    cuda_context_bytes: int
    fragmentation_bytes: int
    usable_bytes: int


class Plan(BaseModel):
    """One training layout and its per-GPU memory."""

    model_config = ConfigDict(frozen=True)

    gpus: int
    dp: int
    tp: int
    pp: int
    zero: int
    checkpointing: str
    micro_batch: int
    required_bytes_per_gpu: int
    headroom_bytes: int
    fits: bool
    seconds_per_million_tokens: Optional[float] = None

    @property
    def label(self) -> str:
        parts = [f"dp {self.dp}" + (f" ZeRO-{self.zero}" if self.zero else ""), f"tp {self.tp}", f"pp {self.pp}"]
        return " · ".join(parts) + (f" · checkpointing {self.checkpointing}" if self.checkpointing != "none" else "")


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: Literal["infer", "train"]
    gpus: int
    layout: str
    fits: bool
    required_bytes_per_gpu: int
    usable_bytes_per_gpu: int
    headroom_bytes: int
    headroom_pct: float
    components: list[tuple[str, int]]
    peak_phase: str = ""


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    change: str
    option: str  # the command-line option(s) that make it
    required_bytes_per_gpu: int
    gpus: int
    fits: bool


class FitReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    params: int
    gpu: str
    gpu_name: str
    gpus: int
    mode: str
    fits: bool = Field(description="Every requested mode fits on --gpus GPUs")
    gpus_needed: Optional[int] = Field(description="Fewest GPUs whose best layout fits (training when requested, else inference)")
    usable_bytes_per_gpu: int
    required_bytes_per_gpu: int = Field(description="Per-GPU need of the requested mode on --gpus GPUs (training if requested)")
    usable: Usable
    verdicts: list[Verdict]
    plans: list[Plan]
    max_batch: Optional[int] = None
    max_seq: Optional[int] = None
    max_context: Optional[int] = None
    changes: list[Change] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    search_seconds: float = 0.0


def usable_memory(gpu: GpuSpec, *, cuda_context: int = DEFAULT_CUDA_CONTEXT, fragmentation: float = DEFAULT_FRAGMENTATION) -> Usable:
    """Driver-visible memory of one device, minus the CUDA context, minus the fragmentation margin."""
    if not 0 <= fragmentation < 1:
        raise LLMBudgetError(f"--fragmentation must be in [0, 1), got {fragmentation}")
    if cuda_context < 0:
        raise LLMBudgetError(f"--cuda-context must be ≥ 0, got {cuda_context}")
    total = gpu.device_memory_bytes
    after_ctx = max(total - cuda_context, 0)
    frag = int(after_ctx * fragmentation)
    return Usable(total_bytes=total, cuda_context_bytes=cuda_context, fragmentation_bytes=frag, usable_bytes=after_ctx - frag)


# -- hardware truths ----------------------------------------------------------------------------


def hardware_warnings(gpu: GpuSpec, precision: Precision, mode: str) -> list[str]:
    """What the card cannot do, or does slowly. Raises for what it cannot do at all (FP8 before Ada/Hopper)."""
    out: list[str] = []
    if precision is Precision.bf16 and gpu.peak_tflops("bf16") is None:
        out.append(
            f"{gpu.display_name} has no BF16 tensor cores: BF16 runs emulated and slowly. Use --precision fp16 "
            "(mixed precision with loss scaling, Micikevicius et al. 2018); the memory is the same."
        )
    if precision in (Precision.fp8_e4m3, Precision.fp8_e5m2) and gpu.peak_tflops("fp8") is None:
        raise LLMBudgetError(
            f"{gpu.display_name} ({gpu.architecture}) has no FP8 tensor cores: FP8 needs Ada, Hopper or newer "
            "(L4, L40S, RTX 4090, H100, H200, B200, MI300X); use --precision bf16 or int8"
        )
    if precision is Precision.int8 and gpu.peak_tflops("int8") is None:
        out.append(
            f"{gpu.display_name} has no INT8 tensor cores (Turing or newer): int8 weights are dequantized to 16 bits "
            "for every matmul, which saves memory but runs slower."
        )
    if mode in ("train", "both") and not gpu.has_flash_attention:
        out.append(
            f"{gpu.display_name} cannot run FlashAttention (sm80+): training is estimated with eager attention, "
            "whose batch × heads × seq² probabilities are kept (pass --attention sdpa if PyTorch's memory-efficient "
            "SDPA kernel runs there, as it does for FP16 on V100)."
        )
    if gpu.devices > 1:
        out.append(f"{gpu.display_name} is {gpu.devices} devices to PyTorch: per-GPU figures here are per device.")
    return out


# -- inference ----------------------------------------------------------------------------------


def _infer_per_gpu(report: MemoryReport, tp: int) -> int:
    """Serving with tensor parallelism: weights, KV cache and workspace split over tp GPUs."""
    return -(-report.total_bytes // tp)


# -- the training search --------------------------------------------------------------------------


def _tp_options(spec: Optional[ModelSpec], gpus_per_node: int) -> list[int]:
    out = []
    for tp in (1, 2, 4, 8, 16):
        if tp > gpus_per_node:
            break
        if spec is None or (spec.n_heads % tp == 0 and (spec.kv_heads % tp == 0 or tp % spec.kv_heads == 0)):
            out.append(tp)
    return out


def _pp_options(spec: Optional[ModelSpec]) -> list[int]:
    L = spec.n_layers if spec is not None else 1
    return [pp for pp in (1, 2, 4, 8, 16, 32, 64) if pp <= L]


def _gpu_counts(limit: int) -> list[int]:
    counts = [1, 2, 4, 8]
    n = 16
    while n <= limit:
        counts.append(n)
        n *= 2
    out = [c for c in counts if c <= limit]
    if limit not in out:
        out.append(limit)
    return sorted(set(out))


def _time_per_mtok(spec: Optional[ModelSpec], n_params: int, gpu: GpuSpec, precision: Precision, plan: Parallel, ckpt: str, batch: int, seq: int) -> Optional[float]:
    """Seconds per million training tokens on this layout (for ranking, not a promise).

    Formula: (6N + 12·L·H·Q·T) FLOPs per token (PaLM Appendix B) × (4/3 with full recomputation)
             ÷ (GPUs × dense peak × MFU 0.40), × (1 + pipeline bubble (pp − 1)/m with m = 4·pp
             micro-batches), + tensor-parallel all-reduces: 4 per block per micro-batch of
             b·s·d 16-bit values, 2(tp − 1)/tp of them over the interconnect (ring).
    Source:  chowdhery2022: Appendix B; narayanan2021: §3.3 (bubble), §3.1 (TP communication).
    """
    key = {Precision.fp32: "tf32"}.get(precision, precision.value)
    peak = gpu.peak_tflops(key) or gpu.peak_tflops("fp16") or gpu.peak_tflops("fp32")
    if peak is None:
        return None
    peak = peak / gpu.devices
    if spec is not None:
        per_token = 6 * n_params + 12 * spec.n_layers * spec.n_heads * spec.head_dim * seq
    else:
        per_token = 6 * n_params
    if ckpt == "full":
        per_token = per_token * 4 / 3
    compute = TOKENS_REF * per_token / (plan.gpus * peak * 1e12 * DEFAULT_MFU)
    bubble = (plan.pp - 1) / (4 * plan.pp)
    comm = 0.0
    if plan.tp > 1 and spec is not None and gpu.interconnect_gb_s:
        per_token_bytes = 4 * spec.n_layers * spec.d_embed * 2 * 2 * (plan.tp - 1) / plan.tp
        comm = TOKENS_REF / (plan.dp * plan.pp) * per_token_bytes / (gpu.interconnect_gb_s * 1e9) / plan.pp
    return compute * (1 + bubble) + comm


def search_plans(
    spec: Optional[ModelSpec],
    setup: TrainSetup,
    gpu: GpuSpec,
    usable: int,
    *,
    max_gpus: int,
    gpus_per_node: int = 8,
    n_params: Optional[int] = None,
    keep: int = 5,
) -> tuple[list[Plan], Optional[int]]:
    """Fitting layouts on the fewest GPUs (up to max_gpus), best first; and that fewest number.

    Evaluates every (GPUs, tp, pp, ZeRO stage, checkpointing) with dp = GPUs / (tp·pp), in
    increasing GPU count, and stops after the first count that fits.
    """
    n_params = n_params if n_params is not None else (count_params(spec).total if spec is not None else 0)
    seq = sequence_length(setup.seq, spec.context_window if spec is not None else None)
    found: list[Plan] = []
    needed: Optional[int] = None
    ckpts = ["none", "full"] if (setup.checkpointing.value == "none" and spec is not None) else [setup.checkpointing.value]
    # smaller micro-batches (the global batch kept by gradient accumulation), when there is a model
    micro = [setup.batch]
    while spec is not None and micro[-1] > 1:
        micro.append(micro[-1] // 2)
    for n in _gpu_counts(max_gpus):
        for tp in _tp_options(spec, gpus_per_node):
            for pp in _pp_options(spec):
                if n % (tp * pp):
                    continue
                dp = n // (tp * pp)
                for zero in ((0, 1, 2, 3) if dp > 1 else (0,)):
                    par = Parallel(dp=dp, tp=tp, pp=pp, zero=zero)
                    for ckpt in ckpts:
                        for mb in micro:
                            s = setup if mb == setup.batch else setup.model_copy(update={"batch": mb})
                            need = _train_need(spec, s, par, ckpt, n_params)
                            if need > usable:
                                continue
                            found.append(
                                Plan(
                                    gpus=n, dp=dp, tp=tp, pp=pp, zero=zero, checkpointing=ckpt, micro_batch=mb,
                                    required_bytes_per_gpu=need, headroom_bytes=usable - need, fits=True,
                                    seconds_per_million_tokens=_time_per_mtok(spec, n_params, gpu, setup.precision, par, ckpt, mb, seq),
                                )
                            )
                            break  # the largest micro-batch that fits this layout
        if found:
            needed = n
            break
    found.sort(key=lambda p: (p.gpus, p.seconds_per_million_tokens or math.inf, -p.micro_batch, -p.headroom_bytes))
    return found[:keep], needed


def _train_need(spec: Optional[ModelSpec], setup: TrainSetup, par: Parallel, ckpt: str, n_params: int) -> int:
    if spec is None:
        return _rule_need(n_params, setup.precision, par)
    s = setup if ckpt == setup.checkpointing.value else setup.model_copy(update={"checkpointing": Checkpointing(ckpt)})
    return training_peak(spec, s.model_copy(update={"parallel": par}))


def _rule_need(n_params: int, precision: Precision, par: Parallel) -> int:
    """The lecture's bytes per parameter on one GPU of a layout: ZeRO shards states, gradients and weights over dp."""
    r = rule_of_thumb(n_params, precision)
    w, adam, g, act = (c.bytes for c in r.components)
    mp = par.tp * par.pp

    def shard(x: int, level: int) -> int:
        return sharded_bytes(x, level=level, zero=par.zero, dp=par.dp, model_parallel=mp)

    return shard(w, WEIGHTS) + shard(adam, OPTIMIZER_STATES) + shard(g, GRADIENTS) + -(-act // mp)


# -- the advisor --------------------------------------------------------------------------------


def advise(
    spec: Optional[ModelSpec],
    gpu: GpuSpec,
    *,
    mode: Literal["train", "infer", "both"] = "both",
    gpus: int = 1,
    train: TrainSetup = TrainSetup(),
    infer: InferSetup = InferSetup(),
    n_params: Optional[int] = None,
    gpus_per_node: int = 8,
    max_gpus: int = 1024,
    cuda_context: int = DEFAULT_CUDA_CONTEXT,
    fragmentation: float = DEFAULT_FRAGMENTATION,
) -> FitReport:
    """Verdicts for serving and training on `gpus` GPUs of `gpu`, the best layouts, limits, and changes."""
    import time

    if gpus < 1:
        raise LLMBudgetError(f"--gpus must be at least 1, got {gpus}")
    if spec is None and n_params is None:
        raise LLMBudgetError("give a model (--preset, --hf-config or sizes) or --params")
    t0 = time.perf_counter()
    n = count_params(spec).total if spec is not None else int(n_params or 0)
    u = usable_memory(gpu, cuda_context=cuda_context, fragmentation=fragmentation)
    warnings = hardware_warnings(gpu, train.precision if mode != "infer" else infer.precision, mode)
    if mode != "infer" and not gpu.has_flash_attention and train.attention == "sdpa" and not train.model_fields_set & {"attention"}:
        train = train.model_copy(update={"attention": "eager"})
    verdicts: list[Verdict] = []
    assumptions = [
        f"Usable per GPU: {gpu.display_name}'s {u.total_bytes:,} bytes as the driver reports them, minus "
        f"{u.cuda_context_bytes // MiB} MiB CUDA context, minus {fragmentation:.0%} for allocator fragmentation "
        "(--cuda-context, --fragmentation).",
    ]

    # serving
    infer_need_1 = None
    if mode in ("infer", "both"):
        if spec is not None:
            ir = inference_memory(spec, infer)
            comps = [(c.name, c.bytes) for c in ir.components]
            infer_need_1 = ir.total_bytes
        else:
            from llm_budget.hardware import bytes_for

            infer_need_1 = bytes_for(n, infer.precision)
            comps = [("Weights", infer_need_1)]
            assumptions.append("Serving with --params only: the weights alone (no architecture, so no KV cache or workspace).")
        tp_inf = min(gpus, gpus_per_node)
        while tp_inf > 1 and spec is not None and spec.n_heads % tp_inf:
            tp_inf //= 2
        need = -(-infer_need_1 // tp_inf)
        verdicts.append(_verdict("infer", gpus, f"tensor parallel {tp_inf}" if tp_inf > 1 else "one GPU", need, u.usable_bytes, [(k, -(-v // tp_inf)) for k, v in comps]))

    # training
    plans: list[Plan] = []
    needed = None
    if mode in ("train", "both"):
        plans, needed = search_plans(spec, train, gpu, u.usable_bytes, max_gpus=max(max_gpus, gpus), gpus_per_node=gpus_per_node, n_params=n)
        on_budget = [p for p in plans if p.gpus <= gpus]
        layout = _best_layout_on(spec, train, gpus, gpus_per_node, n)
        need_par, par = layout
        if spec is not None:
            tr = training_memory(spec, train.model_copy(update={"parallel": par}))
            comps = [(c.name, c.bytes) for c in tr.components]
            phase = tr.peak_phase
        else:
            comps = [("Weights, gradients, Adam, activations (rule of thumb)", need_par)]
            phase = ""
        verdicts.append(_verdict("train", gpus, _par_label(par, train.checkpointing.value), need_par, u.usable_bytes, comps, phase))
        _ = on_budget
    elif infer_need_1 is not None:
        needed = next((k for k in range(1, max_gpus + 1) if -(-infer_need_1 // min(k, gpus_per_node)) <= u.usable_bytes and k <= gpus_per_node), None)

    fits = all(v.fits for v in verdicts)
    required = next((v.required_bytes_per_gpu for v in verdicts if v.mode == "train"), verdicts[0].required_bytes_per_gpu)
    report_limits = _limits(spec, gpu, u.usable_bytes, mode, train, infer, gpus, gpus_per_node) if spec is not None else {}
    changes = [] if fits else _changes(spec, gpu, mode, train, infer, gpus, u.usable_bytes, plans[0] if plans else None, n, gpus_per_node, cuda_context, fragmentation)
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
        assumptions=assumptions,
        search_seconds=round(time.perf_counter() - t0, 4),
        **report_limits,
    )


def _verdict(mode: Literal["infer", "train"], gpus: int, layout: str, need: int, usable: int, comps: list[tuple[str, int]], phase: str = "") -> Verdict:
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
    )


def _par_label(par: Parallel, ckpt: str) -> str:
    if not par.is_parallel:
        return "one GPU" + (f", checkpointing {ckpt}" if ckpt != "none" else "")
    s = f"dp {par.dp}" + (f" ZeRO-{par.zero}" if par.zero else "") + f" · tp {par.tp} · pp {par.pp}"
    return s + (f" · checkpointing {ckpt}" if ckpt != "none" else "")


def _best_layout_on(spec: Optional[ModelSpec], setup: TrainSetup, gpus: int, gpus_per_node: int, n: int) -> tuple[int, Parallel]:
    """The smallest per-GPU need over layouts of exactly `gpus` GPUs at the requested checkpointing."""
    best: Optional[tuple[int, Parallel]] = None
    for tp in _tp_options(spec, gpus_per_node):
        for pp in _pp_options(spec):
            if gpus % (tp * pp):
                continue
            dp = gpus // (tp * pp)
            for zero in ((0, 1, 2, 3) if dp > 1 else (0,)):
                par = Parallel(dp=dp, tp=tp, pp=pp, zero=zero)
                need = _train_need(spec, setup, par, setup.checkpointing.value, n)
                if best is None or need < best[0]:
                    best = (need, par)
    assert best is not None
    return best


def _with(setup: TrainSetup, **changes: object) -> TrainSetup:
    """A re-validated copy (model_copy alone would skip validation and keep raw strings)."""
    return TrainSetup.model_validate({**setup.model_dump(), **changes})


def _largest(lo: int, hi: int, fits) -> Optional[int]:  # type: ignore[no-untyped-def]
    """Largest x in [lo, hi] with fits(x), for a monotone predicate; None when even lo does not fit."""
    if not fits(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _limits(spec: ModelSpec, gpu: GpuSpec, usable: int, mode: str, train: TrainSetup, infer: InferSetup, gpus: int, gpus_per_node: int) -> dict[str, Optional[int]]:
    out: dict[str, Optional[int]] = {}
    if mode in ("train", "both"):
        _, par = _best_layout_on(spec, train, gpus, gpus_per_node, 0)
        seq = sequence_length(train.seq, spec.context_window)

        def fits_batch(b: int) -> bool:
            return training_peak(spec, train.model_copy(update={"batch": b, "parallel": par})) <= usable

        def fits_seq(s: int) -> bool:
            return training_peak(spec, train.model_copy(update={"seq": s, "parallel": par})) <= usable

        out["max_batch"] = _largest(1, 4096, fits_batch)
        out["max_seq"] = _largest(1, max(seq * 64, 1 << 20), fits_seq)
    if mode in ("infer", "both"):
        tp = min(gpus, gpus_per_node)
        while tp > 1 and spec.n_heads % tp:
            tp //= 2

        def fits_ctx(c: int) -> bool:
            return -(-inference_memory(spec, infer.model_copy(update={"context": c, "prompt": None})).total_bytes // tp) <= usable

        out["max_context"] = _largest(1, 1 << 24, fits_ctx)
    return out


def _combine(base: TrainSetup, options: list[tuple[str, str, TrainSetup, int]], need_of, usable: int):  # type: ignore[no-untyped-def]
    """Apply changes greedily, the one that saves most first, until the setup fits (or nothing more helps)."""
    current, need = base, need_of(base)
    names: list[str] = []
    flags: list[str] = []
    remaining = list(options)
    while need > usable and remaining:
        trials = []
        for text, opt, s, _ in remaining:
            update = {k: getattr(s, k) for k in s.model_fields_set if getattr(s, k) != getattr(base, k)}
            try:
                candidate = current.model_copy(update=update)
                candidate = TrainSetup.model_validate(candidate.model_dump())
                trials.append((need_of(candidate), text, opt, candidate))
            except (LLMBudgetError, ValueError):
                continue
        if not trials:
            break
        best = min(trials, key=lambda x: x[0])
        if best[0] >= need:
            break
        need, current = best[0], best[3]
        names.append(best[1])
        flags.append(best[2])
        remaining = [o for o in remaining if o[1] != best[2] and not (o[1].startswith("--batch") and best[2].startswith("--batch"))]
    return (names, flags, need) if len(names) > 1 else None


def _changes(
    spec: Optional[ModelSpec],
    gpu: GpuSpec,
    mode: str,
    train: TrainSetup,
    infer: InferSetup,
    gpus: int,
    usable: int,
    best: Optional[Plan],
    n: int,
    gpus_per_node: int,
    cuda_context: int,
    fragmentation: float,
) -> list[Change]:
    """Single changes to the requested setup, each with its new per-GPU need; fitting ones first."""
    out: list[Change] = []

    def train_need(setup: TrainSetup, g: int = gpus) -> int:
        return _best_layout_on(spec, setup, g, gpus_per_node, n)[0]

    if mode in ("train", "both"):
        base = train
        cands: list[tuple[str, str, TrainSetup]] = []
        if base.precision is Precision.fp32:
            cands.append(("mixed precision (bf16 compute, FP32 master weights)", "--precision bf16", _with(base, precision=Precision.bf16, recipe=None)))
        if base.resolved_recipe.value == "mixed":
            cands.append(("pure 16-bit training (weights, gradients and Adam in bf16)", "--recipe pure", _with(base, recipe="pure")))
        if base.optimizer in (Optimizer.adamw, Optimizer.adam):
            cands.append(("8-bit AdamW (bitsandbytes)", "--optimizer adamw8bit", _with(base, optimizer=Optimizer.adamw8bit)))
            cands.append(("SGD with momentum (one state)", "--optimizer sgd-momentum", _with(base, optimizer=Optimizer.sgd_momentum)))
        if base.checkpointing is Checkpointing.none and spec is not None:
            cands.append(("full activation checkpointing", "--checkpointing full", _with(base, checkpointing=Checkpointing.full)))
        b = base.batch
        while b > 1 and spec is not None:
            b //= 2
            cands.append((f"micro-batch {b} (gradient accumulation keeps the global batch)", f"--batch {b}", _with(base, batch=b)))
        if spec is not None:
            cands.append(("QLoRA: NF4 base, rank-16 adapters", "--precision nf4 --lora-rank 16", _with(base, precision=Precision.nf4, lora_rank=16, recipe=None)))
            cands.append(("LoRA: frozen bf16 base, rank-16 adapters", "--lora-rank 16", _with(base, precision=Precision.bf16, lora_rank=16, recipe=None)))
        applicable: list[tuple[str, str, TrainSetup, int]] = []
        for text, opt, s in cands:
            try:
                need = train_need(s)
            except (LLMBudgetError, ValueError):  # a candidate that does not apply to this model or recipe
                continue
            applicable.append((text, opt, s, need))
            out.append(Change(change=text, option=opt, required_bytes_per_gpu=need, gpus=gpus, fits=need <= usable))
        if applicable and not any(c.fits for c in out):
            combo = _combine(base, applicable, train_need, usable)
            if combo is not None:
                out.append(Change(change="together: " + " + ".join(combo[0]), option=" ".join(combo[1]), required_bytes_per_gpu=combo[2], gpus=gpus, fits=combo[2] <= usable))
        if best is not None and best.gpus > gpus:
            opt = f"--gpus {best.gpus}" + (" --checkpointing full" if best.checkpointing != base.checkpointing.value else "")
            out.append(Change(change=f"{best.gpus} GPUs: {best.label}", option=opt, required_bytes_per_gpu=best.required_bytes_per_gpu, gpus=best.gpus, fits=True))
        need_now = train_need(base)
    else:
        need_now = inference_memory(spec, infer).total_bytes if spec is not None else 0
        for p in (Precision.int8, Precision.nf4):
            if spec is not None and p != infer.precision:
                need = inference_memory(spec, infer.model_copy(update={"precision": p})).total_bytes
                out.append(Change(change=f"{p.value} weights", option=f"--precision {p.value}", required_bytes_per_gpu=need, gpus=gpus, fits=need <= usable))
        if spec is not None and infer.kv_precision is None and gpu.peak_tflops("fp8") is not None:
            need = inference_memory(spec, infer.model_copy(update={"kv_precision": Precision.fp8_e4m3})).total_bytes
            out.append(Change(change="FP8 KV cache", option="--kv-precision fp8", required_bytes_per_gpu=need, gpus=gpus, fits=need <= usable))
        for tp in (2, 4, 8):
            if tp <= gpus or tp > gpus_per_node or (spec is not None and spec.n_heads % tp):
                continue
            need = -(-need_now // tp)
            if need <= usable:
                out.append(Change(change=f"{tp} GPUs, tensor parallel", option=f"--gpus {tp}", required_bytes_per_gpu=need, gpus=tp, fits=True))
                break
    # a bigger card from the catalog
    bigger = sorted(
        (g for g in gpu_catalog().values() if g.device_memory_bytes > gpu.device_memory_bytes and g.vendor == gpu.vendor),
        key=lambda g: g.device_memory_bytes,
    )
    for g in bigger:
        if usable_memory(g, cuda_context=cuda_context, fragmentation=fragmentation).usable_bytes >= need_now:
            out.append(Change(change=f"a bigger card: {g.display_name}", option=f"--gpu {g.name}", required_bytes_per_gpu=need_now, gpus=gpus, fits=True))
            break
    out.sort(key=lambda c: (not c.fits, c.gpus, c.required_bytes_per_gpu))
    return out
