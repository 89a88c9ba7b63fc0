"""LoRA and QLoRA as the frameworks build them: which matrices get adapters, and how the frozen base and the
adapters are stored.

adapter_tensors(spec, setup): A [r, d_in] and B [d_out, r] per adapted matrix (Hu et al. 2021 §4.1).
adapter_recipe(setup): the bytes per value of the base and of the adapters, their gradients and optimizer states.

The base's storage is independent of the compute recipe (setup.base_recipe):
  mixed  FP32 base, 16-bit matmuls under torch.autocast (HF Trainer bf16=True on an FP32 model; litgpt
         bf16-mixed); under QLoRA, the tensors bitsandbytes leaves unquantized are FP32 (peft's
         prepare_model_for_kbit_training casts every non-quantized 16-bit parameter to float32);
  pure   everything in the 16-bit dtype, the adapters and their optimizer states too (litgpt bf16-true:
         the adapters are created in the model's dtype);
  fp32   FP32 base and compute;
  None   a base in --precision with FP32 adapters (PEFT on a bf16 model: LoraModel's autocast_adapter_dtype=True
         upcasts bf16/fp16 adapter weights to float32, peft/tuners/tuners_utils.py, _cast_adapter_dtype).
Adapters keep no master copy: torch.optim.AdamW keeps its moments in each parameter's dtype.
"""

from __future__ import annotations

from llm_budget.choices import Convention, LoraTargets, Recipe
from llm_budget.errors import LLMBudgetError
from llm_budget.memory.activations import Flow
from llm_budget.memory.recipes import RECIPES, RecipeBytes
from llm_budget.memory.saved import Saved, Step, _dropout_mask
from llm_budget.memory.setup import TrainSetup
from llm_budget.model.inventory import ParamTensor, parameter_tensors
from llm_budget.model.spec import ModelSpec

ATTENTION = ("q", "k", "v", "o", "q_a", "q_b", "kv_a", "kv_b")
MLP = ("gate", "up", "down")
NAMED_SETS: dict[LoraTargets, tuple[str, ...]] = {
    LoraTargets.all: ("q", "k", "v", "o", *MLP),  # QLoRA (Dettmers et al. 2023 §4): every linear of the blocks
    LoraTargets.all_linear: (*ATTENTION, *MLP),  # PEFT's "all-linear": every nn.Linear but the output layer
    LoraTargets.attention: ("q", "k", "v", "o"),
    LoraTargets.mlp: MLP,
}
"""Inventory names (llm_budget/model/inventory.py) each named set adapts. Routers stay unadapted, and so do the
routed experts of transformers 5, which keeps them as 3-D parameters, not nn.Linear modules PEFT can wrap."""

HF_NAMES = {
    "q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o", "gate_proj": "gate", "up_proj": "up",
    "down_proj": "down", "q_a_proj": "q_a", "q_b_proj": "q_b", "kv_a_proj_with_mqa": "kv_a", "kv_b_proj": "kv_b",
}  # fmt: skip
"""transformers' module names (Llama, DeepSeek) -> the inventory's, so `--lora-targets q_proj,v_proj` works."""

ADAPTER_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


def _base_name(t: ParamTensor) -> str:
    return t.name.removeprefix("shared_")


def target_names(spec: ModelSpec, targets: LoraTargets | tuple[str, ...]) -> set[str]:
    """The inventory names adapted; an explicit name that matches no matrix of the model is an error."""
    if isinstance(targets, LoraTargets):
        return set(NAMED_SETS[targets])
    present = {_base_name(t) for t in parameter_tensors(spec) if t.kind == "linear" and t.layer}
    out = set()
    for given in targets:
        name = HF_NAMES.get(given, given)
        if name not in present:
            known = ", ".join(sorted(present))
            raise LLMBudgetError(
                f"Invalid value for --lora-targets: {given!r} matches no linear module of this model (it has: {known}; "
                "or a set: all, all-linear, attention, mlp)"
            )
        out.add(name)
    return out


def adapted_matrices(spec: ModelSpec, setup: TrainSetup) -> list[ParamTensor]:
    """The base matrices that get adapters: linear weights of the blocks named by setup.lora_targets."""
    names = target_names(spec, setup.lora_targets)
    routed_ok = not isinstance(setup.lora_targets, LoraTargets) or setup.lora_targets is LoraTargets.all
    return [
        t
        for t in parameter_tensors(spec)
        if t.kind == "linear" and t.layer and _base_name(t) in names and (routed_ok or not t.expert)
    ]


def adapter_tensors(spec: ModelSpec, setup: TrainSetup) -> list[ParamTensor]:
    """LoRA adapters (Hu et al. 2021 §4.1): A [r, d_in] and B [d_out, r] per adapted matrix."""
    assert setup.lora_rank is not None
    r = setup.lora_rank
    out = []
    for t in adapted_matrices(spec, setup):
        d_out, d_in = t.shape
        out.append(ParamTensor(f"lora_A.{t.name}", (r, d_in), t.copies, "linear", expert=t.expert))
        out.append(ParamTensor(f"lora_B.{t.name}", (d_out, r), t.copies, "linear", expert=t.expert))
    return out


def adapter_bytes(setup: TrainSetup) -> int:
    """Bytes per adapter value: --adapter-precision, else the 16-bit dtype under --recipe pure, else FP32."""
    if setup.adapter_precision is not None:
        return ADAPTER_BYTES[setup.adapter_precision]
    return 2 if setup.base_recipe is Recipe.pure else 4


def adapter_recipe(setup: TrainSetup) -> RecipeBytes:
    """Bytes of a LoRA/QLoRA step: the frozen base per setup.base_recipe (weight: the unquantized tensors;
    QLoRA quantizes the blocks' matrices on top), the adapters, their gradients and states at adapter_bytes."""
    a, base = adapter_bytes(setup), setup.base_recipe
    flow: Flow = "pure"
    compute, weight, how = 2, 2, f"frozen {setup.precision.value} base"
    if base is Recipe.mixed:
        mixed = RECIPES[(Recipe.mixed, setup.convention)]
        flow, weight = mixed.flow, mixed.weight
        how = f"frozen {'FP32' if weight == 4 else '16-bit'} base, {setup.precision.value} compute ({setup.convention.value})"
        if setup.convention is Convention.autocast:
            how = f"frozen FP32 base under {setup.precision.value} autocast"
    elif base is Recipe.fp32:
        compute, weight, how = 4, 4, "frozen FP32 base"
    if setup.precision.value in ("nf4", "int4", "int8"):
        how = f"frozen {setup.precision.value} base (the rest {'FP32' if weight == 4 else '16-bit'})"
    adapters = {4: "FP32", 2: "16-bit"}[a]
    description = f"{{recipe}}: {how}; {adapters} adapters {a} + gradients {{gradient}} + optimizer {{states}}"
    return RecipeBytes(flow, compute, weight, a, 0, 0, a, description)


ATTENTION_GROUP = set(ATTENTION)
MATRIX_INPUT_IS_NORM = {"q", "k", "v", "q_a", "kv_a", "gate", "up"}
"""Adapted matrices that read a norm's output (FP32 under autocast); o, down and the up-projections read a
matmul's 16-bit output."""


def adapter_saved(spec: ModelSpec, setup: TrainSetup, st: Step) -> list[Saved]:
    """What the adapters of one block save for backward, on top of the base's activations (PEFT's
    LoraLayer Linear.forward: `x = self._cast_input_dtype(x, lora_A.weight.dtype)`, then
    `result + lora_B(lora_A(dropout(x))) * scaling`; peft/tuners/lora/layer.py, peft 0.15):
      - x cast to the adapter dtype (a new tensor when the dtypes differ), saved by lora_A when nothing follows;
      - dropout (p > 0; p = 0 is nn.Identity): its output, saved by lora_A, and its mask (1 byte on CUDA);
        each adapted module has its own dropout, so q, k and v each keep one;
      - under autocast lora_A casts its input to 16 bits again (not cached: an activation), and saves that;
      - lora_A's output [tokens, r], saved by lora_B.
    Routed experts see t·k/E rows each. Averaged over the blocks like the model states."""
    a, r, L = adapter_bytes(setup), setup.lora_rank or 0, spec.n_layers
    autocast = st.flow == "autocast"
    out: list[Saved] = []
    for t in adapted_matrices(spec, setup):
        name, d_in = _base_name(t), t.shape[1]
        rows = st.t * spec.active_experts // spec.n_experts if t.expert else st.t
        n = t.copies * rows  # rows over every layer; // L below: one block's average
        x_bytes = st.r if name in MATRIX_INPUT_IS_NORM else st.c
        new = a != x_bytes  # PEFT's cast makes a copy
        group = "attn" if name in ATTENTION_GROUP else "mlp"
        if setup.lora_dropout > 0:
            out.append(Saved(f"LoRA {name}: dropout mask", _dropout_mask(st, n * d_in, a) // L, "dropout", group))
            new = True
        if autocast:
            out.append(Saved(f"LoRA {name}: input (16-bit copy)", n * d_in * st.c // L, "lora_A under autocast", group))
        elif new:
            out.append(Saved(f"LoRA {name}: input", n * d_in * a // L, "lora_A saves its input", group))
        out.append(Saved(f"LoRA {name}: A·x", n * r * (st.c if autocast else a) // L, "lora_B saves its input", group))
    return out


def dequantized_weights(spec: ModelSpec, setup: TrainSetup, compute: int) -> tuple[int, int]:
    """bitsandbytes' quantized layers dequantize the weight for every matmul, forward and backward:
    MatMul4Bit: `linear(A, F.dequantize_4bit(B, quant_state).to(A.dtype).t())` and in backward
    `grad_A = matmul(grad_output, F.dequantize_4bit(B, ctx.state).to(grad_output.dtype).t())`, keeping A and
    the packed B on ctx.tensors (frozen_base_saved); MatMul8bitLt's backward `CB = state.CB.to(ctx.dtype_A, copy=True)
    .mul_(SCB ...)` (bitsandbytes-foundation/bitsandbytes: bitsandbytes/autograd/_functions.py).
    One dequantized matrix lives at a time: the largest of the attention's and of the MLP's, in the compute
    dtype. Returns (attention, MLP) bytes; (0, 0) for a base that is not quantized."""
    if setup.precision.value not in ("nf4", "int4", "int8"):
        return 0, 0
    from llm_budget.memory.quantization import is_quantized_matrix

    mats = [t for t in parameter_tensors(spec) if is_quantized_matrix(t) and t.component != "Router"]
    attention = max((t.numel for t in mats if _base_name(t) in ATTENTION_GROUP), default=0)
    mlp = max((t.numel for t in mats if _base_name(t) not in ATTENTION_GROUP), default=0)
    return attention * compute, mlp * compute


MATMUL_INPUTS = {"attention input": {"q", "k", "v", "q_a", "kv_a"}, "MLP: input": {"gate", "up"},
                 "MLP: down-projection input": {"down"}, "unembedding input": set()}  # fmt: skip
"""Saved tensors that only the matmuls reading them keep (activations.py's names), and those matmuls."""


def frozen_base_saved(spec: ModelSpec, setup: TrainSetup, st: Step, saved: list[Saved]) -> list[Saved]:
    """What a frozen base no longer saves (autograd saves an input only for a gradient someone needs):
      - a frozen norm weight: `weight · x` keeps no normalized x for the weight's gradient;
      - a frozen matmul keeps no input (mm saves mat1 only for mat2's gradient), but bitsandbytes' quantized
        matmuls do (MatMul4Bit / MatMul8bitLt: `ctx.tensors = (A, B)` whenever an input needs a gradient, A being
        the input cast to the compute dtype: under autocast one copy per matmul); the input stays saved when an
        adapter's lora_A reads that very tensor (same dtype, no dropout, no autocast: else adapter_saved counts
        lora_A's own copy). SDPA's output, which o reads, SDPA saves itself.
    Measured by the probe (tests/test_probe.py, LoRA cases of the reference model)."""
    adapted = {_base_name(t) for t in adapted_matrices(spec, setup)}
    quantized = setup.precision.value in ("nf4", "int4", "int8")  # MatMul4Bit / 8bitLt keep A: ctx.tensors = (A, B)
    a, autocast = adapter_bytes(setup), st.flow == "autocast"
    out = []
    for x in saved:
        if ": normalized" in x.name:
            continue
        readers = next((m for name, m in MATMUL_INPUTS.items() if x.name.startswith(name)), None)
        if readers is not None and not (quantized and readers):
            same = [
                n for n in readers & adapted if not autocast and setup.lora_dropout == 0 and a == _input_bytes(n, st)
            ]
            if not same:
                continue
        out.append(x)
    return out


def _input_bytes(name: str, st: Step) -> int:
    return st.r if name in MATMUL_INPUTS_NORM else st.c


MATMUL_INPUTS_NORM = MATRIX_INPUT_IS_NORM


def first_block_unsaved(spec: ModelSpec, per_block: list[Saved]) -> list[Saved]:
    """Block 0's first norm saves nothing under a frozen embedding: its input needs no gradient. Returned as
    negative entries for the embedding side (held, like it, until the end of backward)."""
    first = [x for x in per_block if x.group == "attn_norm" and ": normalized" not in x.name]
    return [
        Saved(f"block 0, {x.name}: not saved (no gradient reaches it)", -x.bytes, "frozen embedding", "") for x in first
    ]
