"""The memory accountant: where the bytes of a training step or a serving workload go.

Three levels, from coarse to exact:

1. rule_of_thumb(n_params, precision): the lecture's table, bytes per parameter only.
2. training_memory(spec, setup): model states from the parameter inventory (tensors.py), the
   activations each block saves (activations.py), and a timeline of one steady-state
   training step (forward, loss, backward layer by layer, optimizer step) whose maximum is
   the peak that torch.cuda.max_memory_allocated reports. The components are what is live
   at that peak.
3. inference_memory(spec, setup): weights (with quantization scales), KV cache, and the
   workspace of a prefill forward.

Every line carries its formula and source; the report lists its assumptions.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from llm_budget.memory.kv import kv_bytes, tokens_held
from llm_budget.choices import Checkpointing, Convention, LoraTargets, Optimizer, OptimizerImpl, Recipe
from llm_budget.memory.sharding import sharded_bytes
from llm_budget.defaults import sequence_length
from llm_budget.memory.activations import Saved, Step, head_saved, layer_saved
from llm_budget.model.counter import count_params
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import Precision, bytes_for
from llm_budget.refs import cite
from llm_budget.model.spec import MlpKind, ModelSpec, NormKind
from llm_budget.model.inventory import ParamTensor, buffer_bytes, parameter_tensors, tensor_count

CUDA_ROUND = 512  # the CUDA caching allocator rounds every block up to 512 bytes (CUDACachingAllocator.cpp kMinBlockSize)


class Parallel(BaseModel):
    """How one step is spread over GPUs: data parallel dp (ZeRO stage 0-3), tensor parallel tp
    (optionally with sequence parallelism), pipeline parallel pp."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dp: PositiveInt = 1
    tp: PositiveInt = 1
    pp: PositiveInt = 1
    zero: int = Field(0, ge=0, le=3)
    sp: bool = False
    micro_batches: Optional[PositiveInt] = None  # pipeline micro-batches per step (default: pp)

    @property
    def gpus(self) -> int:
        return self.dp * self.tp * self.pp

    @property
    def is_parallel(self) -> bool:
        return self.gpus > 1


class TrainSetup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    precision: Precision = Precision.bf16
    recipe: Optional[Recipe] = None  # default: fp32 for fp32; mixed for 16-bit; qlora for 4/8-bit
    convention: Convention = Convention.autocast
    optimizer: Optimizer = Optimizer.adamw
    optimizer_impl: Optional[OptimizerImpl] = None  # default: foreach on CUDA, for-loop on the CPU
    batch: PositiveInt = 1
    seq: Optional[PositiveInt] = None  # default: the model's context window, else 2048
    checkpointing: Checkpointing = Checkpointing.none
    attention: Literal["sdpa", "eager"] = "sdpa"
    device: Literal["cuda", "cpu"] = "cuda"
    lora_rank: Optional[PositiveInt] = None
    lora_targets: LoraTargets = LoraTargets.all
    n_layers: Optional[PositiveInt] = None  # probe a truncated model (the probe's --layers)
    parallel: Parallel = Parallel()
    implementation: Literal["hf", "reference"] = "hf"  # Hugging Face transformers, or the probe's reference model

    @model_validator(mode="after")
    def _check(self) -> "TrainSetup":
        r = self.resolved_recipe
        quantized = self.precision in (Precision.int8, Precision.int4, Precision.nf4)
        if quantized and (self.lora_rank is None or r is not Recipe.qlora):
            raise ValueError(
                f"{self.precision.value} weights cannot be trained directly: integer and 4-bit formats have no "
                "gradients. Train adapters on a frozen quantized base instead: --lora-rank 16 (QLoRA)"
            )
        if self.precision in (Precision.fp8_e4m3, Precision.fp8_e5m2):
            raise ValueError("FP8 training keeps 16/32-bit master weights (Transformer Engine); use --precision bf16")
        if r in (Recipe.lora, Recipe.qlora) and self.lora_rank is None:
            raise ValueError(f"recipe {r.value} needs --lora-rank")
        if r is Recipe.qlora and self.precision not in (Precision.int8, Precision.int4, Precision.nf4):
            raise ValueError("recipe qlora needs a quantized base: --precision nf4, int4 or int8")
        if r is Recipe.pure and self.precision is Precision.fp32:
            raise ValueError("recipe pure is for 16-bit precisions; fp32 is recipe fp32")
        if r is Recipe.mixed and self.precision is Precision.fp32:
            raise ValueError("mixed precision needs a 16-bit compute precision (bf16 or fp16)")
        return self

    @property
    def resolved_recipe(self) -> Recipe:
        if self.recipe is not None:
            return self.recipe
        if self.lora_rank is not None:
            return Recipe.qlora if self.precision in (Precision.int8, Precision.int4, Precision.nf4) else Recipe.lora
        if self.precision is Precision.fp32:
            return Recipe.fp32
        if self.precision in (Precision.fp16, Precision.bf16):
            return Recipe.mixed
        return Recipe.qlora

    @property
    def resolved_impl(self) -> OptimizerImpl:
        if self.optimizer_impl is not None:
            return self.optimizer_impl
        return OptimizerImpl.foreach if self.device == "cuda" else OptimizerImpl.loop


class MemoryLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    bytes: int
    bytes_per_param: Optional[float] = None
    formula: str = ""
    source: str = ""


class Phase(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    bytes: int


class MemoryReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: Literal["rule-of-thumb", "train", "infer"]
    model: str
    params: int
    trainable_params: int
    precision: str
    recipe: str
    convention: str = ""
    total_bytes: int = Field(description="Peak bytes (train: the step's peak; infer: the serving peak)")
    components: list[MemoryLine]
    peak_phase: str = ""
    phases: list[Phase] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    settings: dict[str, object] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# 1. The lecture's rule of thumb
# ---------------------------------------------------------------------------------------------

LECTURE_BYTES = {"weights": 4, "adam": 8, "gradients": 4, "activations": 8}  # per parameter at FP32


def rule_of_thumb(n_params: int, precision: Precision = Precision.fp32) -> MemoryReport:
    """The lecture's table: 4 bytes/param to store, 4 + 8 + 4 + 8 = 24 to train at FP32.

    Formula: weights = N·b, Adam = N·8 (two FP32 states), gradients = N·b, activations and
             temporaries = N·2b (the lecture's high-end estimate), where b = bytes of the precision
             (4 at FP32); store = N·b, train = N·(4b + 8), i.e. 24·N at FP32.
    Source:  lecture: "Computational Challenges" (bytes per parameter; 1B → 4 GB / 24 GB;
             175B → 4,200 GB; 500B → 12,000 GB), after the DeepLearning.AI course it cites.
    """
    if not precision.is_float and precision not in (Precision.int8,):
        raise LLMBudgetError(f"the rule of thumb scales by whole bytes per value; use fp32, fp16, bf16, fp8 or int8, not {precision.value}")
    b = precision.bits // 8
    scale = b / 4
    rows = [
        ("Model parameters (weights)", LECTURE_BYTES["weights"] * scale, "N × bytes per value"),
        ("Adam optimizer (2 states)", LECTURE_BYTES["adam"], "N × 2 × 4 (FP32 moments at any precision)"),
        ("Gradients", LECTURE_BYTES["gradients"] * scale, "N × bytes per value"),
        ("Activations and temp memory", LECTURE_BYTES["activations"] * scale, "N × 2 × bytes per value (high-end estimate)"),
    ]
    comps = [
        MemoryLine(name=n, bytes=int(n_params * bpp), bytes_per_param=bpp, formula=f, source=cite("lecture: Computational Challenges"))
        for n, bpp, f in rows
    ]
    total = sum(c.bytes for c in comps)
    return MemoryReport(
        mode="rule-of-thumb",
        model=f"{n_params:,} parameters",
        params=n_params,
        trainable_params=n_params,
        precision=precision.value,
        recipe="lecture rule of thumb",
        total_bytes=total,
        components=comps,
        peak_phase="training",
        phases=[Phase(name="store (weights only)", bytes=comps[0].bytes), Phase(name="train", bytes=total)],
        assumptions=[
            "The lecture's rule of thumb: bytes per parameter only, independent of batch, sequence and architecture.",
            "Adam's two states stay FP32 (8 bytes/param) at every precision; weights, gradients and activations scale with the precision's bytes.",
            "Activations and temporaries as 2× the weight bytes is the lecture's high-end estimate; give a model "
            "(--preset …) for the real activations of a batch and sequence.",
            "GB = 10^9 bytes, as in the lecture.",
        ],
    )


# ---------------------------------------------------------------------------------------------
# 2. Training
# ---------------------------------------------------------------------------------------------


def _round(n: int, device: str) -> int:
    if device != "cuda" or n == 0:
        return n
    return -(-n // CUDA_ROUND) * CUDA_ROUND


def _sum(items: list[Saved], device: str) -> int:
    return sum(_round(x.bytes, device) for x in items)


def _tensor_bytes(tensors: list[ParamTensor], width: float, device: str) -> int:
    """Bytes of one value of `width` bytes per parameter for every tensor (allocator-rounded)."""
    return sum(_round(int(t.numel * width), device) * t.copies for t in tensors)


def _adapter_tensors(spec: ModelSpec, setup: TrainSetup) -> list[ParamTensor]:
    """LoRA adapters (Hu et al. 2021): A [r, d_in] and B [d_out, r] per adapted matrix."""
    assert setup.lora_rank is not None
    r = setup.lora_rank
    names = {"q", "k", "v", "o"} | ({"gate", "up", "down"} if setup.lora_targets is LoraTargets.all else set())
    out = []
    for t in parameter_tensors(spec):
        if t.kind == "linear" and t.layer and t.name in names:
            d_out, d_in = t.shape
            out.append(ParamTensor(f"lora_A.{t.name}", (r, d_in), t.copies, "linear", expert=t.expert))
            out.append(ParamTensor(f"lora_B.{t.name}", (d_out, r), t.copies, "linear", expert=t.expert))
    return out


def quantized_weight_bytes(t: ParamTensor, precision: Precision, *, double_quant: bool = False) -> int:
    """Bytes of one linear weight stored quantized, scales included (per copy).

    Formula: int8: N + 4·d_out (LLM.int8: one FP32 absmax per row, Dettmers et al. 2022);
             nf4: N/2 + 4·N/64 (QLoRA: FP32 absmax per block of 64), or with double quantization
             N/2 + N/64 + 4·N/(64·256) (8-bit absmax, FP32 per 256 blocks; Dettmers et al. 2023);
             int4: N/2 + 2.5·N/128 (group-wise: FP16 scale and 4-bit zero per 128 values, GPTQ/AWQ);
             fp8: N + 4 (one FP32 scale per tensor).
    """
    n = t.numel
    if precision is Precision.int8:
        return n + 4 * t.shape[0]
    if precision is Precision.nf4:
        blocks = -(-n // 64)
        if double_quant:
            return n // 2 + blocks + 4 * -(-blocks // 256)
        return n // 2 + 4 * blocks
    if precision is Precision.int4:
        groups = -(-n // 128)
        return n // 2 + groups * 2 + -(-groups // 2)
    if precision in (Precision.fp8_e4m3, Precision.fp8_e5m2):
        return n + 4
    return bytes_for(n, precision)


class _Timeline:
    """Live bytes by category through one training step; remembers the peak and what was live then."""

    def __init__(self) -> None:
        self.live: dict[str, int] = {}
        self.best: tuple[int, str, dict[str, int]] = (-1, "", {})
        self.points: list[tuple[str, int]] = []

    def set(self, category: str, n: int) -> None:
        self.live[category] = n

    def add(self, category: str, n: int) -> None:
        self.live[category] = self.live.get(category, 0) + n

    def mark(self, phase: str, extra: Optional[dict[str, int]] = None) -> None:
        state = dict(self.live)
        for k, v in (extra or {}).items():
            state[k] = state.get(k, 0) + v
        total = sum(state.values())
        self.points.append((phase, total))
        if total > self.best[0]:
            self.best = (total, phase, state)


def _norm_backward(spec: ModelSpec, rows: int, in_bytes: int) -> int:
    """Temporaries while a norm's backward runs, above what it already holds.

    RMSNorm written in FP32 ops (pow, mean, rsqrt, mul, to): the autograd formulas of these ops
    create FP32 intermediates of the input's size; with 16-bit inputs the grad is also converted.
    Measured under PyTorch 2.13's autograd formulas (device-independent): 18·rows·width bytes
    for 16-bit inputs, 16 for FP32. LayerNorm's fused backward needs only its grad input.
    """
    d = spec.d_embed
    if spec.norm is NormKind.rmsnorm:
        return (18 if in_bytes == 2 else 16) * rows * d
    if spec.norm is NormKind.layernorm:
        return 2 * rows * d * in_bytes
    return 0


class _Base:
    """Everything about one training step that does not depend on how it is sharded (computed once
    per model and recipe; the fit advisor evaluates many parallel layouts against it)."""

    def __init__(self, spec: ModelSpec, setup: TrainSetup) -> None:
        dev = self.dev = setup.device
        self.recipe = recipe = setup.resolved_recipe
        self.seq = seq = sequence_length(setup.seq, spec.context_window)
        if setup.n_layers:
            spec = spec.with_overrides(n_layers=setup.n_layers)
        self.spec, self.setup = spec, setup
        self.L = L = spec.n_layers
        self.tensors = tensors = parameter_tensors(spec)
        self.n_params = sum(t.total for t in tensors)

        # -- model states per recipe ----------------------------------------------------------
        p16 = 2 if setup.precision in (Precision.bf16, Precision.fp16) else 4
        self.frozen_base = frozen = recipe in (Recipe.lora, Recipe.qlora)
        if recipe is Recipe.mixed and setup.convention is Convention.autocast:
            flow, c, w, g, master, extra = "autocast", p16, 4, 4, 0, 0
        elif recipe is Recipe.mixed and setup.convention is Convention.fsdp:
            flow, c, w, g, master, extra = "pure", p16, 4, 4, 0, 0
        elif recipe is Recipe.mixed:
            flow, c, w = "pure", p16, 2
            g = 4 if setup.convention is Convention.megatron else 2
            master, extra = 4, (4 if setup.convention is Convention.grad_copy else 0)
        elif recipe is Recipe.fp32:
            flow, c, w, g, master, extra = "pure", 4, 4, 4, 0, 0
        elif recipe is Recipe.pure:
            flow, c, w, g, master, extra = "pure", p16, p16, p16, 0, 0
        else:  # LoRA / QLoRA: the frozen base computes in 16 bits, adapters train in FP32 (PEFT's default)
            flow, c, w, g, master, extra = "pure", 2, 2, 4, 0, 0
        self.flow, self.c, self.w_bytes, self.g_bytes, self.master, self.extra_grad = flow, c, w, g, master, extra
        self.state_width = 4 if recipe in (Recipe.fp32, Recipe.mixed, Recipe.lora, Recipe.qlora) else p16

        def weight_bytes(ts: list[ParamTensor]) -> int:
            if recipe is Recipe.qlora:
                return sum(
                    (quantized_weight_bytes(t, setup.precision) if (t.kind == "linear" and t.layer) else _round(t.numel * 2, dev)) * t.copies
                    for t in ts
                )
            return _tensor_bytes(ts, w, dev)

        self.trainable = trainable = _adapter_tensors(spec, setup) if frozen else tensors
        self.n_trainable = sum(t.total for t in trainable)
        emb_names = {"embedding", "position", "embed_norm"}
        first = [t for t in tensors if not t.layer and t.name in emb_names]
        last = [t for t in tensors if not t.layer and t.name not in emb_names]
        # Per part: (block, embedding side, head side) for weights, gradients, master weights, optimizer states.
        # (the rotary tables transformers keeps as buffers are counted with the head)
        self.weights = (weight_bytes([t for t in tensors if t.layer]) // L, weight_bytes(first), weight_bytes(last) + buffer_bytes(spec, setup.implementation))
        self.adapters = _tensor_bytes(trainable, 4, dev) // L if frozen else 0

        def parts(width: int) -> tuple[int, int, int]:
            blk = _tensor_bytes([t for t in trainable if t.layer], width, dev) // L
            emb = _tensor_bytes([t for t in trainable if not t.layer and t.name in emb_names], width, dev)
            head = _tensor_bytes([t for t in trainable if not t.layer and t.name not in emb_names], width, dev)
            return blk, emb, head

        self.grads = tuple(a + b for a, b in zip(parts(g), parts(extra)))
        self.masters = parts(master)
        _, self.step_tensors = _optimizer_states(trainable, setup, self.state_width)
        if self.step_tensors and not frozen:
            self.step_tensors = 4 * tensor_count(spec, setup.implementation)

        def states_of(ts: list[ParamTensor]) -> int:
            return _optimizer_states(ts, setup, self.state_width)[0]

        self.states = (
            states_of([t for t in trainable if t.layer]) // L,
            states_of([t for t in trainable if not t.layer and t.name in emb_names]),
            states_of([t for t in trainable if not t.layer and t.name not in emb_names]),
        )
        self.largest_layer = max((t.numel for t in tensors if t.layer), default=0)

        # -- activations ------------------------------------------------------------------------
        self.st = st = Step(b=setup.batch, s=seq, flow=flow, c=c, attention=setup.attention, device=dev, impl=setup.implementation)  # type: ignore[arg-type]
        self.per_layer = layer_saved(spec, st)
        self.head = head_saved(spec, st)
        self.t = st.t
        V, d = spec.n_vocab, spec.d_embed
        self.inputs = _round(self.t * 8, dev) * 2  # token ids and targets (int64)
        self.logits_c = _round(self.t * V * c, dev)
        self.f32 = _round(self.t * V * 4, dev)
        self.loss_scalars = 2 * _round(4, dev)  # the loss and nll_loss's total weight
        if flow == "autocast":
            # transformers runs MoE experts through grouped_mm, which autocast leaves in FP32: no copies
            hf_experts = setup.implementation == "hf" and spec.is_moe
            lin = [t for t in tensors if t.kind == "linear" and not (hf_experts and t.expert)]
            self.copies = (_tensor_bytes([t for t in lin if t.layer], 2, dev) // L, _tensor_bytes([t for t in lin if not t.layer], 2, dev) + (_round(V * d * 2, dev) if spec.tied_embeddings else 0))
        else:
            self.copies = (0, 0)
        self.optimizer_temporaries = _optimizer_temporaries(trainable, setup, self.state_width, dev)
        if setup.implementation == "hf" and spec.is_moe and not frozen and self.optimizer_temporaries and setup.resolved_impl is OptimizerImpl.loop:
            # transformers stores a layer's experts as one [E, 2·d_mlp, d] gate_up tensor: the largest tensor
            fused = spec.n_experts * 2 * spec.d_mlp * spec.d_embed
            self.optimizer_temporaries = max(self.optimizer_temporaries, 2 * _round(fused * self.state_width, dev))
        self.regions_cache: dict[tuple[int, bool, int], dict[str, tuple[int, int, int]]] = {}
        self.shard_cache: dict[tuple[int, bool], tuple[int, int, int, int]] = {}


_REPLICATED_UNDER_TP = ("attention norm", "MLP norm", "post-attention norm", "post-MLP norm", "attention input", "MLP: input", "router input", "attention residual dropout", "MLP residual dropout")


def _shard_items(items: list[Saved], tp: int, sp: bool, dev: str) -> int:
    """Bytes of saved tensors on one tensor-parallel rank (Korthikanti et al. 2022 §4.2: the norms, the
    matmul inputs they feed and the residual dropouts are replicated unless sequence parallelism splits them)."""
    total = 0
    for x in items:
        replicated = x.name.startswith(_REPLICATED_UNDER_TP)
        div = tp if (sp or not replicated) else 1
        total += _round(-(-x.bytes // div), dev)
    return total


def training_memory(spec: ModelSpec, setup: TrainSetup = TrainSetup()) -> MemoryReport:
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
    """
    return _simulate(_base(spec, _base_setup(setup)), setup.parallel)  # type: ignore[return-value]


def training_peak(spec: ModelSpec, setup: TrainSetup) -> int:
    """Just the peak bytes of training_memory (no report): what the fit advisor's search evaluates."""
    return _simulate(_base(spec, _base_setup(setup)), setup.parallel, report=False)  # type: ignore[return-value]


def _base_setup(setup: TrainSetup) -> TrainSetup:
    """The sharding-independent part of a setup. Under ZeRO-3/FSDP, mixed precision is FSDP's own policy
    (weights cast as they are gathered, compute in 16 bits), not torch.autocast."""
    update: dict[str, object] = {"parallel": Parallel()}
    if setup.parallel.zero >= 3 and setup.resolved_recipe is Recipe.mixed and setup.convention is Convention.autocast:
        update["convention"] = Convention.fsdp
    return setup.model_copy(update=update)


@lru_cache(maxsize=256)
def _base(spec: ModelSpec, setup: TrainSetup) -> _Base:
    return _Base(spec, setup)


def _simulate(b: _Base, par: "Parallel", *, report: bool = True) -> "MemoryReport | int":
    spec, setup, dev, L = b.spec, b.setup, b.dev, b.L
    tp, pp, dp, zero = par.tp, par.pp, par.dp, par.zero
    L_stage = -(-L // pp)
    in_flight = min(pp, par.micro_batches or pp)
    assumptions: list[str] = []

    def shard_state(x: int, level: int) -> int:
        """Model-state bytes on one GPU after tensor parallelism and ZeRO stage `level` over dp."""
        return sharded_bytes(x, level=level, zero=zero, dp=dp, model_parallel=tp)

    stages = ["single"] if pp == 1 else ["first", "last"]
    best: Optional[tuple[int, str, dict[str, int], list[Phase]]] = None
    for stage in stages:
        has_emb = stage in ("single", "first")
        has_head = stage in ("single", "last")
        blocks = L if pp == 1 else L_stage
        w = shard_state(b.weights[0] * blocks + (b.weights[1] if has_emb else 0) + (b.weights[2] if has_head else 0), 3)
        gathered = rs_block = 0
        if zero >= 3 and dp > 1:
            # FSDP/ZeRO-3 gathers a block's weights to compute it and prefetches the next (two blocks, in the
            # compute dtype); FSDP2 keeps the root unit (embeddings, final norm, unembedding) gathered from
            # forward to backward; each block's gradients are reduce-scattered from a full-size FP32 buffer.
            block_c = -(-b.weights[0] * b.c // (b.w_bytes * tp))
            root_c = -(-((b.weights[1] if has_emb else 0) + (b.weights[2] if has_head else 0)) * b.c // (b.w_bytes * tp))
            gathered = 2 * block_c + root_c
            rs_block = -(-b.weights[0] * 4 // (b.w_bytes * tp))
            w += gathered
        gb = [shard_state(v, 2) for v in b.grads]
        ms = [shard_state(v, 1) for v in b.masters]
        ss = [shard_state(v, 1) for v in b.states]
        grads_total = gb[0] * blocks + (gb[1] if has_emb else 0) + (gb[2] if has_head else 0)
        static = {
            "Weights": w,
            "Optimizer states": ss[0] * blocks + (ss[1] if has_emb else 0) + (ss[2] if has_head else 0) + b.step_tensors // max(tp * pp, 1),
        }
        masters = ms[0] * blocks + (ms[1] if has_emb else 0) + (ms[2] if has_head else 0)
        if masters:
            static["Master weights (FP32)"] = masters
        if b.adapters:
            static["Adapters (FP32)"] = shard_state(b.adapters * blocks, 1)

        # activations on this rank
        sk = (tp, par.sp)
        if sk not in b.shard_cache:
            b.shard_cache[sk] = (
                _shard_items(b.per_layer, tp, par.sp, dev),
                _shard_items([x for x in b.per_layer if x.name in _SELECTIVE], tp, par.sp, dev),
                _shard_items([x for x in b.head if not x.name.startswith(("unembedding input", "final norm"))], tp, par.sp, dev),
                _shard_items([x for x in b.head if x.name.startswith(("unembedding input", "final norm"))], tp, par.sp, dev),
            )
        A_layer, A_selective, H_emb, H_head = b.shard_cache[sk]
        if setup.checkpointing is Checkpointing.full:
            held_layer = _round(-(-b.t * spec.d_embed * b.st.r // (tp if par.sp else 1)), dev)
        elif setup.checkpointing is Checkpointing.selective:
            held_layer = A_layer - A_selective
        else:
            held_layer = A_layer
        layers_held = blocks * (in_flight if stage == "first" else 1) if pp > 1 else L
        H = (H_emb * (in_flight if stage == "first" else 1) if has_emb else 0) + (H_head if has_head else 0)
        if setup.checkpointing is Checkpointing.full and setup.implementation == "hf" and setup.attention == "eager":
            # transformers' eager attention takes a float (b, 1, s, s) causal mask in the residual dtype, built once per
            # forward; non-reentrant checkpoints save every block's inputs, this mask included, until block 0's backward.
            H += _round(b.st.b * b.st.s * b.st.s * b.st.r, dev) * (in_flight if pp > 1 and stage == "first" else 1)
        # Under ZeRO-3/FSDP, mixed precision casts the weights when it gathers them (FSDP2's
        # MixedPrecisionPolicy): there is no autocast cache of full-size copies.
        copies_layer = -(-b.copies[0] // tp) if zero < 3 else 0
        copies_head = -(-b.copies[1] // tp) if (has_head and zero < 3) else 0
        logits_c, f32 = -(-b.logits_c // tp), -(-b.f32 // tp)

        tl = _Timeline()
        for k, v in static.items():
            tl.set(k, v)
        tl.set("Inputs (token ids, targets)", b.inputs)
        tl.set("Activations (saved for backward)", held_layer * layers_held + H)
        if copies_layer or copies_head:
            tl.set("16-bit weight copies (autocast)", copies_layer * blocks + copies_head)
        if has_head:
            upcast = f32 if b.c != 4 else 0
            tl.mark("forward: log_softmax", {"Logits and loss": logits_c + upcast + f32})
        else:
            tl.mark("forward: last block")
        if setup.checkpointing is Checkpointing.full and b.flow == "autocast":
            tl.set("16-bit weight copies (autocast)", copies_head)  # the autocast cache dies with forward
        if has_head:
            tl.mark("backward: cross-entropy", {"Logits and loss": 3 * f32 + b.loss_scalars})
        g_head = gb[2] + (gb[1] if (spec.tied_embeddings and not b.frozen_base and pp == 1) else 0) if has_head else 0
        if has_head:
            # .float()'s backward has turned the FP32 logits gradient into the logits' dtype; the unembedding's
            # backward makes the input gradient and the weight gradient (under autocast first in 16 bits).
            grad16 = _round(spec.n_vocab * spec.d_embed * 2 // tp, dev) if (b.flow == "autocast" and not b.frozen_base) else 0
            grad_x = _round(b.t * spec.d_embed * b.c, dev)
            if grad16:  # the 16-bit weight gradient first, then its FP32 cast for the FP32 parameter
                tl.mark("backward: unembedding", {"Logits and loss": logits_c, "Temporaries": grad_x + grad16})
                tl.mark("backward: unembedding (FP32 gradient)", {"Temporaries": grad_x + grad16, "Gradients": g_head})
            else:
                tl.mark("backward: unembedding", {"Logits and loss": logits_c, "Temporaries": grad_x, "Gradients": g_head})
            tl.set("Gradients", g_head)
            tl.mark("backward: final norm", {"Temporaries": _norm_backward(spec, b.t, b.st.r)})
            tl.set("Activations (saved for backward)", held_layer * layers_held + H - H_head)
        resid_grad = _round(b.t * spec.d_embed * b.st.r, dev)
        key = (tp, par.sp, dp if zero >= 2 else 1)
        regions = b.regions_cache.get(key)
        if regions is None:
            regions = b.regions_cache[key] = _block_backward_regions(
                spec, b.st, b.per_layer, b.trainable, b.g_bytes + b.extra_grad, dev, tp=tp, sp=par.sp, zero_grads=key[2]
            )
        full_ckpt = setup.checkpointing is Checkpointing.full
        recompute = A_layer - held_layer + (copies_layer if full_ckpt else 0)
        # Live bytes change linearly from block to block (activations freed, gradients made), so the
        # largest point is in the first or the last block differentiated: evaluate those two.
        acts0 = tl.live.get("Activations (saved for backward)", 0)
        grads0 = tl.live.get("Gradients", 0)
        copies0 = tl.live.get("16-bit weight copies (autocast)", 0)
        for done in sorted({0, blocks - 1}):
            i = blocks - 1 - done
            tl.set("Activations (saved for backward)", acts0 - done * held_layer)
            tl.set("Gradients", grads0 + done * gb[0])
            if copies_layer and not full_ckpt:
                tl.set("16-bit weight copies (autocast)", copies0 - done * copies_layer)
            for region, (acts, temps, made) in regions.items():
                tl.mark(
                    f"backward: block {i}, {region}",
                    {"Activations (saved for backward)": recompute - acts, "Temporaries": resid_grad + temps + rs_block, "Gradients": made},
                )
        tl.set("16-bit weight copies (autocast)", 0)
        tl.set("Activations (saved for backward)", 0)
        if has_emb:
            # embedding_dense_backward builds a dense vocab × d gradient; a tied table already has one (from the
            # unembedding), and AccumulateGrad adds the two out of place: three vocab × d tensors for a moment.
            tied_acc = spec.tied_embeddings and not b.frozen_base and pp == 1
            emb_tmp = 2 * _round(spec.n_vocab * spec.d_embed * b.g_bytes // tp, dev) if tied_acc else 0
            tl.mark("backward: embedding", {"Temporaries": resid_grad + emb_tmp, "Gradients": grads_total - tl.live.get("Gradients", 0)})
        tl.set("Gradients", grads_total)
        opt_tmp = b.optimizer_temporaries
        if setup.resolved_impl is OptimizerImpl.foreach:
            opt_tmp = shard_state(opt_tmp, 1) // (pp if pp > 1 else 1)
        tl.mark("optimizer step", {"Temporaries": opt_tmp})
        peak, phase, state = tl.best
        if best is None or peak > best[0]:
            held_copies = copies_layer * blocks if setup.checkpointing is not Checkpointing.full else 0
            forward_end = held_layer * layers_held + H + held_copies + copies_head
            if has_head:
                forward_end += f32 + b.loss_scalars
            totals = {
                "gathered_bytes": gathered,
                "weight_bytes": w,
                "optimizer_state_bytes": static["Optimizer states"],
                "gradient_bytes": grads_total,
                "forward_end_bytes": forward_end,
            }
            best = (peak, (f"{stage} pipeline stage: " if pp > 1 else "") + phase, state, tl.points, totals)

    assert best is not None
    peak, phase, state, points, totals = best
    if not report:
        return peak
    if setup.convention is Convention.fsdp or (zero >= 3 and b.recipe is Recipe.mixed):
        assumptions.append("ZeRO-3 / FSDP mixed precision (FSDP2's MixedPrecisionPolicy): FP32 sharded weights cast to 16 bits as they are gathered, 16-bit compute (no autocast copies), gradients reduced in FP32; two blocks gathered at a time (prefetch).")
    if par.is_parallel:
        assumptions.append(
            f"One GPU of {par.gpus}: tensor parallel {tp}{' with sequence parallelism' if par.sp else ''}, pipeline {pp}"
            f" ({L_stage} blocks per stage, {in_flight} micro-batch(es) in flight on the first), data parallel {dp} with ZeRO stage {zero}."
        )
    if setup.checkpointing is Checkpointing.full:
        assumptions.append("Full activation checkpointing: each block keeps its input; backward recomputes one block at a time.")
    elif setup.checkpointing is Checkpointing.selective:
        assumptions.append("Selective checkpointing: the attention core is recomputed in backward (its s² tensors are not kept).")
    if b.flow == "autocast":
        assumptions.append("torch.autocast: FP32 weights and gradients; each matmul weight is cast to 16 bits once per step and the copy lives until its backward.")
    assumptions += _train_assumptions(spec, setup, b.recipe, b.flow, b.seq)
    return MemoryReport(
        mode="train",
        model=spec.label,
        params=b.n_params,
        trainable_params=b.n_trainable,
        precision=setup.precision.value,
        recipe=b.recipe.value,
        convention=_convention_text(b.recipe, setup, b.w_bytes, b.g_bytes, b.master, b.extra_grad, b.state_width),
        total_bytes=peak,
        components=_components(state, b.n_params, _explanations(b)),
        peak_phase=phase,
        phases=[Phase(name=n, bytes=v) for n, v in points],
        assumptions=assumptions,
        settings={
            "batch": setup.batch,
            "seq": b.seq,
            "optimizer": setup.optimizer.value,
            "optimizer_impl": setup.resolved_impl.value,
            "checkpointing": setup.checkpointing.value,
            "attention": setup.attention,
            "device": dev,
            "activations_per_layer_bytes": _shard_items(b.per_layer, tp, par.sp, dev),
            "parallel": par.model_dump(),
            **totals,
        },
    )


def _explanations(b: _Base) -> dict[str, tuple[str, str]]:
    setup = b.setup
    opt_formula = {
        Optimizer.adamw: ("N × 2 × {w} (first and second moments)", "loshchilov2019"),
        Optimizer.adam: ("N × 2 × {w} (first and second moments)", "kingma2015"),
        Optimizer.adamw8bit: ("N × (2 × 1 + 8/2048) for tensors ≥ 4096 values (block-wise 8-bit), else N × 8", "dettmers2022b"),
        Optimizer.sgd: ("none", "kingma2015"),
        Optimizer.sgd_momentum: ("N × {w} (momentum buffer)", "kingma2015"),
        Optimizer.adafactor: ("Σ (rows + columns) × {w} per matrix, full size per vector", "shazeer2018"),
        Optimizer.lion: ("N × {w} (one momentum)", "chen2023"),
    }[setup.optimizer]
    kind = "quantized base" if b.recipe is Recipe.qlora else ("FP32" if b.w_bytes == 4 else setup.precision.value)
    return {
        "Weights": (f"N × {b.w_bytes} bytes ({kind})", "rajbhandari2020: §3.1"),
        "Master weights (FP32)": ("N × 4: FP32 copy the optimizer updates", "micikevicius2018: §3.1"),
        "Adapters (FP32)": (f"Σ r·(d_in + d_out) × 4 over adapted matrices, r = {setup.lora_rank}", "hu2021: §4.1"),
        "16-bit weight copies (autocast)": ("matmul weights × 2, cast in forward and held until their backward", "pytorch-amp"),
        "Gradients": (f"N × {b.g_bytes + b.extra_grad} (made as backward reaches each parameter)", "rajbhandari2020: §3.1"),
        "Optimizer states": (opt_formula[0].format(w=b.state_width), opt_formula[1]),
        "Activations (saved for backward)": (
            "Σ saved tensors per block (activations.py inventory) × blocks still held at the peak, + embedding/head",
            "korthikanti2022: Table 2 (generalized)",
        ),
        "Logits and loss": ("batch × seq × vocab: 16-bit logits, FP32 copy, log-probabilities and their gradients", "hf-transformers"),
        "Temporaries": ("the working set of the phase at the peak (gradients in flight, norm or optimizer intermediates)", "pytorch-cuda-notes"),
        "Inputs (token ids, targets)": ("2 × batch × seq × 8 (int64)", "hf-transformers"),
    }


def _components(state: dict[str, int], n_params: int, explain: dict[str, tuple[str, str]]) -> list[MemoryLine]:
    order = [
        "Weights",
        "Master weights (FP32)",
        "Adapters (FP32)",
        "16-bit weight copies (autocast)",
        "Gradients",
        "Optimizer states",
        "Activations (saved for backward)",
        "Logits and loss",
        "Temporaries",
        "Inputs (token ids, targets)",
    ]
    out = []
    for name in order:
        n = state.get(name, 0)
        if n:
            formula, source = explain.get(name, ("", ""))
            out.append(
                MemoryLine(
                    name=name,
                    bytes=n,
                    bytes_per_param=round(n / n_params, 3) if n_params else None,
                    formula=formula,
                    source=cite(source) if source else "",
                )
            )
    return out


def _optimizer_states(trainable: list[ParamTensor], setup: TrainSetup, width: int) -> tuple[int, int]:
    """(state bytes, per-tensor step counters).

    AdamW/Adam: two moments (Kingma & Ba 2015; Loshchilov & Hutter 2019). 8-bit AdamW: one byte
    per moment plus an FP32 absmax per 2048-value block, for tensors of 4096+ values; smaller
    tensors keep FP32 moments (Dettmers et al. 2022, bitsandbytes' min_8bit_size). SGD with
    momentum: one buffer. Lion: one momentum (Chen et al. 2023). Adafactor: a row and a column
    accumulator per matrix, a full one per vector (Shazeer & Stern 2018).
    """
    dev = setup.device
    opt = setup.optimizer
    n_tensors = sum(t.copies for t in trainable)
    if opt in (Optimizer.adamw, Optimizer.adam):
        # torch keeps a float32 `step` scalar per parameter tensor (on the CPU unless fused/capturable).
        return 2 * _tensor_bytes(trainable, width, dev), (n_tensors * 4 if dev == "cpu" else 0)
    if opt is Optimizer.adamw8bit:
        total = 0
        for t in trainable:
            if t.numel >= 4096:
                total += t.copies * 2 * _round(t.numel + 4 * -(-t.numel // 2048), dev)
            else:
                total += t.copies * 2 * _round(t.numel * 4, dev)
        return total, 0
    if opt in (Optimizer.sgd_momentum, Optimizer.lion):
        return _tensor_bytes(trainable, width, dev), 0
    if opt is Optimizer.adafactor:
        total = 0
        for t in trainable:
            if len(t.shape) == 2:
                total += t.copies * (_round(t.shape[0] * width, dev) + _round(t.shape[1] * width, dev))
            else:
                total += t.copies * _round(t.numel * width, dev)
        return total, (n_tensors * 4 if dev == "cpu" else 0)
    return 0, 0


def _optimizer_temporaries(trainable: list[ParamTensor], setup: TrainSetup, width: int, dev: str) -> int:
    """Step temporaries, measured on PyTorch 2.13: AdamW's foreach implementation makes one copy of every
    parameter (its denominators), the for-loop one two copies of the largest, the fused kernel none;
    SGD (with or without momentum) updates in place. Other optimizers are taken as AdamW."""
    if setup.optimizer in (Optimizer.sgd, Optimizer.sgd_momentum):
        return 0
    impl = setup.resolved_impl
    if impl is OptimizerImpl.fused:
        return 0
    if impl is OptimizerImpl.foreach:
        return _tensor_bytes(trainable, width, dev)
    largest = max((t.numel for t in trainable), default=0)
    return 2 * _round(largest * width, dev)


def _block_backward_regions(
    spec: ModelSpec,
    st: Step,
    per_layer: list[Saved],
    trainable: list[ParamTensor],
    g_width: int,
    dev: str,
    *,
    tp: int = 1,
    sp: bool = False,
    zero_grads: int = 1,
) -> dict[str, tuple[int, int, int]]:
    """A block's backward in four parts (MLP, its norm, attention, its norm), each as
    (activations already freed, temporaries, gradients already made) relative to the block's start.

    Temporaries, from the autograd formulas PyTorch 2.13 runs (device-independent): the MLP's
    backward holds two hidden-width gradients at once, right after the down-projection's backward
    (whose weight gradient is the only one made by then); SDPA's holds the output's gradient and
    dq, dk, dv; a norm's as in _norm_backward.
    """
    t, c = st.t, st.c
    freed = {g: _shard_items([x for x in per_layer if x.group == g], tp, sp, dev) for g in ("mlp", "mlp_norm", "attn", "attn_norm")}
    mlp_names = {"gate", "up", "down", "gate.bias", "up.bias", "down.bias", "router", "router.bias"}
    layer_t = [x for x in trainable if x.layer]
    L = spec.n_layers
    shard = tp * zero_grads

    def grads_of(names: Optional[set[str]]) -> int:
        sel = [x for x in layer_t if names is None or x.name in names]
        return sum(_round(-(-x.numel * g_width // shard), dev) * x.copies for x in sel) // L

    g_mlp, g_down, g_all = grads_of(mlp_names), grads_of({"down", "down.bias"}), grads_of(None)
    rows = t * (spec.active_experts if spec.is_moe else 1)
    T_mlp = 2 * _round(-(-rows * spec.d_mlp * c // tp), dev)
    h, kv, dh = spec.n_heads, spec.kv_heads, spec.head_dim
    T_attn = _round(-(-t * h * dh * c // tp), dev) * 2 + 2 * _round(-(-t * kv * dh * c // tp), dev)
    if st.attention == "eager" or (st.device == "cpu" and spec.dropout > 0):
        hs = st.b * h * st.s * st.s
        T_attn += 2 * _round(-(-hs * (4 if (st.flow == "autocast" and st.device == "cuda") else c) // tp), dev)
    T_norm = _norm_backward(spec, t, st.r) // (tp if sp else 1)
    return {
        # after the down-projection's backward: two hidden-width gradients, only W_down's gradient made
        "MLP": (0, T_mlp, g_down),
        "MLP norm": (freed["mlp"], T_norm, g_mlp),
        "attention": (freed["mlp"] + freed["mlp_norm"], T_attn, g_all - 0),
        "attention norm": (freed["mlp"] + freed["mlp_norm"] + freed["attn"], T_norm, g_all),
    }


_SELECTIVE = {
    "attention probabilities",
    "causal mask",
    "attention dropout mask",
    "dropped probabilities",
    "k, repeated to all heads",
    "v, repeated to all heads",
    "log-sum-exp (FP32)",
}
"""What selective recomputation (Korthikanti et al. 2022 §5) does not keep: the attention core's tensors."""


def _convention_text(recipe: Recipe, setup: TrainSetup, w: int, g: int, master: int, extra: int, state: int) -> str:
    opt = {Optimizer.adamw: 2, Optimizer.adam: 2, Optimizer.sgd_momentum: 1, Optimizer.lion: 1, Optimizer.sgd: 0}
    k = opt.get(setup.optimizer)
    states = f"{k}×{state}" if k is not None else setup.optimizer.value
    if recipe is Recipe.mixed and setup.convention is Convention.autocast:
        return f"autocast: FP32 weights 4 + FP32 gradients 4 + optimizer {states} (+2 transient 16-bit weight copies); Hugging Face's 18 bytes/param"
    if recipe is Recipe.mixed and setup.convention is Convention.fsdp:
        return f"fsdp: FP32 sharded weights 4 + FP32 gradients 4 + optimizer {states}; 16-bit compute on gathered weights"
    if recipe is Recipe.mixed:
        parts = f"16-bit weights {w} + gradients {g}" + (f" + FP32 gradient copy {extra}" if extra else "") + f" + FP32 master {master} + optimizer {states}"
        label = {Convention.zero: "ZeRO paper's 16", Convention.megatron: "Megatron-LM's 18", Convention.grad_copy: "20 with an FP32 gradient copy"}.get(setup.convention, "")
        return f"{setup.convention.value}: {parts} ({label} bytes/param with Adam)"
    if recipe is Recipe.fp32:
        return f"FP32: weights 4 + gradients 4 + optimizer {states}"
    if recipe is Recipe.pure:
        return f"pure {setup.precision.value}: weights {w} + gradients {g} + optimizer {states} (states in the weights' dtype)"
    return f"{recipe.value}: frozen {setup.precision.value} base; FP32 adapters 4 + gradients 4 + optimizer {states}"


def _train_assumptions(spec: ModelSpec, setup: TrainSetup, recipe: Recipe, flow: str, seq: int) -> list[str]:
    a = [
        f"Steady state (second step on): gradients set to None before forward; optimizer states exist; batch {setup.batch} × sequence {seq}.",
        "Activations are the tensors a PyTorch autograd graph saves for a model written like Hugging Face's "
        "(FP32 RMSNorm, tanh GELU as elementwise ops for GPT-2, SDPA or eager attention); the loss upcasts the "
        "logits to FP32, and the cross-entropy's backward holds three batch × seq × vocab FP32 buffers.",
        f"Optimizer {setup.optimizer.value}, {setup.resolved_impl.value} implementation.",
    ]
    if setup.attention == "sdpa":
        a.append("Attention through scaled_dot_product_attention (flash / memory-efficient kernels): no s² tensors are kept.")
    else:
        a.append("Eager attention: the batch × heads × seq² probabilities are kept for backward (Korthikanti et al.'s 5·a·s/h term).")
    if spec.dropout > 0:
        a.append(f"Dropout {spec.dropout} keeps a mask per dropout (1 byte/element on CUDA).")
    if setup.device == "cuda":
        a.append("Sizes rounded up to the CUDA caching allocator's 512-byte blocks; the CUDA context, cuBLAS workspace and allocator cache are not included (they are not in torch.cuda.max_memory_allocated).")
    if spec.is_moe:
        a.append("Mixture of experts: every expert's weights, gradients and states are resident; activations follow the routed tokens (top-k rows, balanced).")
    if recipe in (Recipe.lora, Recipe.qlora):
        a.append(f"LoRA rank {setup.lora_rank} on {setup.lora_targets.value} linear layers of the blocks; activations as for full training (an estimate: the probe does not measure adapters).")
    return a


# ---------------------------------------------------------------------------------------------
# 3. Inference
# ---------------------------------------------------------------------------------------------


class InferSetup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    precision: Precision = Precision.bf16  # weights
    kv_precision: Optional[Precision] = None  # default: the compute precision (bf16, or fp32 for fp32 weights)
    batch: PositiveInt = 1
    context: Optional[PositiveInt] = None  # tokens per sequence held in the cache (prompt + generated); default: context window
    prompt: Optional[PositiveInt] = None  # prefill length (default: the whole context)
    double_quant: bool = False  # QLoRA's double quantization of nf4 scales
    device: Literal["cuda", "cpu"] = "cuda"

    @model_validator(mode="after")
    def _check(self) -> "InferSetup":
        if self.kv_precision in (Precision.int4, Precision.nf4):
            raise ValueError("a 4-bit KV cache needs a custom kernel; use --kv-precision fp8-e4m3, int8, bf16 or fp16")
        if self.prompt is not None and self.context is not None and self.prompt > self.context:
            raise ValueError(f"--prompt {self.prompt} is longer than --context {self.context}")
        return self


def kv_cache_bytes(spec: ModelSpec, *, batch: int, tokens: int, precision: Precision) -> int:
    """Keys and values of every layer for `tokens` positions of `batch` sequences.

    Formula: 2 · n_layers · n_kv_heads · d_head · bytes · batch · tokens, with tokens capped at the
             sliding window when the model has one (Mistral 7B v0.1: 4,096).
    Source:  kwon2023: §3 (2 × 5120 × 40 × 2 bytes = 800 KB per token for OPT-13B); ainslie2023 (n_kv_heads).
    """
    held = tokens_held(tokens, spec.sliding_window)
    return kv_bytes(n_layers=spec.n_layers, kv_heads=spec.kv_heads, head_dim=spec.head_dim, tokens=batch * held, bits=precision.bits)


def prefill_workspace(spec: ModelSpec, *, batch: int, prompt: int, c: int) -> int:
    """Tensors one block's forward holds at once during a prefill without gradients, above the weights and cache.

    Without autograd every intermediate dies as soon as the next op has read it, so the peak is the
    largest set of simultaneously live tensors in one block: the caller's residual x, the block's
    residual h, the normed input, and the part's own temporaries:
      RMSNorm in FP32: the FP32 copy and x², then x·rsqrt (2 FP32 tensors of t × d);
      attention: q, k, v, and rope's products on q (three q-sized tensors) or the SDPA output;
      gated MLP: act(gate), up and their product (3 × t × d_mlp); a fused activation: 2 ×;
      GPT-2's elementwise tanh GELU: the input, 0.5·x and two intermediates of the chain (4 ×);
      MoE: the routed rows and the other experts' outputs while the last expert runs its MLP on
      its share (t·k / n_experts rows), or the concatenated and weighted outputs after it;
    then the last position's logits, in the compute dtype and upcast to FP32.
    Source: pope2022: §2 (the prefill is one forward pass); the terms follow the probe's reference model.
    """
    t = batch * prompt
    d, h, kv, dh = spec.d_embed, spec.n_heads, spec.kv_heads, spec.head_dim
    qd, kd = h * dh, kv * dh
    resid = 2 * t * d * c
    normed = t * d * c
    norm = t * d * 8 if spec.norm is NormKind.rmsnorm else 0
    rope = 3 * t * qd * c if spec.position.value == "rotary" else t * qd * c
    attn = normed + t * (qd + 2 * kd) * c + rope
    if spec.mlp is MlpKind.gated:
        width = 3
    elif spec.act.value == "gelu_new":
        width = 4
    else:
        width = 2
    if spec.is_moe:
        rows, E = t * spec.active_experts, spec.n_experts
        share = -(-rows // E)
        # the last expert's MLP while the routed rows and the other experts' outputs wait, or the gather
        # after them: rows, the concatenated outputs, their weighted copy and the output buffer
        during = rows * d * c + (rows - share) * d * c + width * share * spec.d_mlp * c
        after = 3 * rows * d * c + t * d * c
        mlp = normed + max(during, after)
    else:
        mlp = normed + width * t * spec.d_mlp * c
    logits = batch * spec.n_vocab * (c + 4)
    return resid + max(norm, attn, mlp) + logits


def inference_memory(spec: ModelSpec, setup: InferSetup = InferSetup()) -> MemoryReport:
    """Serving memory: weights (quantization scales included), the KV cache, and the prefill workspace.

    Workspace: the largest set of tensors one block's forward holds at once without gradients
    (residual stream, the norm's FP32 intermediates, the MLP's hidden activations), plus the
    last position's FP32 logits; attention through SDPA keeps no s² matrix.
    """
    dev = setup.device
    tensors = parameter_tensors(spec)
    n_params = sum(t.total for t in tensors)
    p = setup.precision
    compute = Precision.fp32 if p is Precision.fp32 else (Precision.fp16 if p is Precision.fp16 else Precision.bf16)
    kv_p = setup.kv_precision or compute
    c = compute.bits // 8
    quantized = p in (Precision.int8, Precision.int4, Precision.nf4, Precision.fp8_e4m3, Precision.fp8_e5m2)
    if quantized:
        weights = sum(
            (quantized_weight_bytes(t, p, double_quant=setup.double_quant) if (t.kind == "linear" and t.layer) else _round(t.numel * c, dev)) * t.copies
            for t in tensors
        )
    else:
        weights = _tensor_bytes(tensors, c, dev)
    context = sequence_length(setup.context, spec.context_window)
    prompt = setup.prompt or context
    kv = kv_cache_bytes(spec, batch=setup.batch, tokens=context, precision=kv_p)
    workspace = prefill_workspace(spec, batch=setup.batch, prompt=prompt, c=c)
    comps = [
        MemoryLine(
            name="Weights" + (f" ({p.value}, scales included)" if quantized else f" ({p.value})"),
            bytes=weights,
            bytes_per_param=round(weights / n_params, 3),
            formula="N × bytes per value; quantized matrices add their scales (see quantized_weight_bytes)",
            source=cite("dettmers2023: §3") if quantized else cite("rajbhandari2020: §3.1"),
        ),
        MemoryLine(
            name=f"KV cache ({kv_p.value})",
            bytes=kv,
            bytes_per_param=round(kv / n_params, 3),
            formula=f"2 · {spec.n_layers} layers · {spec.kv_heads} kv heads · {spec.head_dim} · {kv_p.bits // 8 or 0.5} B · batch {setup.batch} · {min(context, spec.sliding_window or context):,} tokens",
            source=cite("kwon2023: §3"),
        ),
        MemoryLine(
            name="Prefill workspace",
            bytes=workspace,
            bytes_per_param=round(workspace / n_params, 3),
            formula=f"one block's live tensors at a {prompt:,}-token prefill × batch {setup.batch}, + last-position logits",
            source=cite("pope2022: §2"),
        ),
    ]
    total = sum(x.bytes for x in comps)
    assumptions = [
        f"Serving {setup.batch} sequence(s) of {context:,} tokens (prompt + generated), all held in the KV cache"
        + (f" (capped at the {spec.sliding_window:,}-token sliding window)" if spec.sliding_window and spec.sliding_window < context else "")
        + ".",
        f"Compute in {compute.value}; KV cache in {kv_p.value}.",
        "Workspace: a prefill of the whole prompt at once, attention through SDPA (no s² matrix), logits kept for the last position only.",
    ]
    if quantized:
        assumptions.append(
            f"{p.value} applies to the blocks' linear layers; embeddings, norms and the unembedding stay {compute.value} (bitsandbytes' and GPTQ's default)."
        )
    if spec.is_moe:
        assumptions.append("Mixture of experts: all experts' weights are resident; the workspace follows the active experts.")
    return MemoryReport(
        mode="infer",
        model=spec.label,
        params=n_params,
        trainable_params=0,
        precision=p.value,
        recipe="inference",
        total_bytes=total,
        components=comps,
        peak_phase="prefill",
        phases=[Phase(name="weights loaded", bytes=weights), Phase(name="prefill", bytes=total)],
        assumptions=assumptions,
        settings={"batch": setup.batch, "context": context, "prompt": prompt, "kv_precision": kv_p.value, "device": dev},
    )
