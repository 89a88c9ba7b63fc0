"""One block's backward, in the four regions the timeline evaluates: what each frees, allocates and makes.

Temporaries follow the autograd formulas PyTorch 2.13 runs (device-independent; measured under fake
tensors by tests/test_activations.py and the probe): the MLP's backward holds two hidden-width
gradients at once, right after the down-projection's backward (whose weight gradient is the only one
made by then); SDPA's holds the output's gradient and dq, dk, dv; a norm's as in norm_backward_bytes.
"""

from __future__ import annotations

from typing import NamedTuple

from llm_budget.memory.activations import Saved, Step
from llm_budget.memory.allocator import rounded
from llm_budget.memory.blocks import math_path
from llm_budget.memory.rank_activations import saved_bytes_on_rank
from llm_budget.model.inventory import ParamTensor
from llm_budget.model.spec import Activation, MlpKind, ModelSpec, NormKind

MLP_PARAMETERS = {"gate", "up", "down", "gate.bias", "up.bias", "down.bias", "router", "router.bias"}
MLP_PARAMETERS |= {"shared_gate", "shared_up", "shared_down"}  # shared experts and their gate (inventory names)


class BackwardRegion(NamedTuple):
    """A point inside a block's backward, relative to the block's start."""

    freed: int  # saved activations of the block already freed
    temporaries: int  # working set of the region
    gradients_made: int  # parameter gradients of the block already made


def norm_backward_bytes(spec: ModelSpec, rows: int, in_bytes: int) -> int:
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


def _gradients_made(
    trainable: list[ParamTensor], names: set[str] | None, width: int, shards: int, n_layers: int, device: str
) -> int:
    """Gradient bytes of one block's parameters named `names` (None: all), split over `shards` ranks."""
    block = [x for x in trainable if x.layer and (names is None or x.name in names)]
    return sum(rounded(-(-x.numel * width // shards), device) * x.copies for x in block) // n_layers


def _mlp_kinds(spec: ModelSpec, t: int) -> list[tuple[int, int]]:
    """(rows, hidden width) of each MLP a block may run: the dense MLP, the routed experts (t·k rows of the
    expert width), the shared expert."""
    out = [(t, spec.d_mlp)] if spec.n_dense_layers else []
    if spec.is_moe:
        out.append((t * spec.active_experts, spec.expert_width))
        if spec.d_shared_mlp is not None:
            out.append((t, spec.d_shared_mlp))
    return out


def block_backward_regions(
    spec: ModelSpec,
    st: Step,
    per_block: list[Saved],
    trainable: list[ParamTensor],
    gradient_width: int,
    device: str,
    *,
    tp: int = 1,
    sp: bool = False,
    zero_shards: int = 1,
    dequantized: tuple[int, int] = (0, 0),
) -> dict[str, BackwardRegion]:
    """A block's backward in four regions, in the order backward runs them: MLP, its norm, attention, its norm.

    Temporaries (t = batch × seq rows, c = compute bytes, split over the tp ranks):
      MLP: two t × d_mlp gradients (t·k rows of the expert width for a MoE, the widest MLP a block runs;
        one for a standard MLP with a fused activation);
      attention: the output's gradient and dq (t × h·d_head each), dk and dv (t × kv·d_head each; MLA: per head
        of qk_head_dim and v_head_dim),
      plus two b·h·s² tensors for eager attention (FP32 under CUDA autocast);
      norms: norm_backward_bytes;
      a quantized base (QLoRA): the largest attention / MLP weight dequantized for grad_A (adapters.py,
        dequantized_weights), live beside the region's gradients.
    """
    t, c = st.t, st.c
    freed = {
        g: saved_bytes_on_rank([x for x in per_block if x.group == g], tp, sp, device)
        for g in ("mlp", "mlp_norm", "attn", "attn_norm")
    }
    shards = tp * zero_shards

    def made(names: set[str] | None) -> int:
        return _gradients_made(trainable, names, gradient_width, shards, spec.n_layers, device)

    mlp_grads, down_grads, all_grads = made(MLP_PARAMETERS), made({"down", "down.bias"}), made(None)
    # Hidden-width gradients live at once above the MLP's saved tensors. Gated: down's backward frees the
    # product and makes its gradient, then mul's backward makes grad act(gate) and grad up from it: 3 made,
    # 1 freed (2 net). A standard MLP with a fused activation: fc2's backward makes grad a (a is freed
    # with fc2's node), the activation's backward makes grad h from it: at most saved + 1 (issue 13: a
    # 1-layer d 64 model, +9% under full checkpointing, where this region is the step's peak). GPT-2's
    # elementwise GELU chain and MoE experts keep 2.
    fused_standard = spec.mlp is MlpKind.standard and not spec.is_moe and spec.act is not Activation.gelu_new
    widest = max(rows * width for rows, width in _mlp_kinds(spec, t))
    mlp_temporaries = (1 if fused_standard else 2) * rounded(-(-widest * c // tp), device)
    h, kv_heads = spec.n_heads, spec.n_heads if spec.mla is not None else spec.kv_heads
    dq, dv = spec.qk_head_dim, spec.v_head_dim

    def each(heads: int, width: int) -> int:
        return rounded(-(-t * heads * width * c // tp), device)

    # dq and the output's gradient (all heads), dk and dv (the KV heads; MLA: every head)
    attention_temporaries = each(h, dq) + each(h, dv) + each(kv_heads, dq) + each(kv_heads, dv)
    if st.attention == "eager" or (st.device == "cpu" and spec.dropout > 0) or math_path(spec, st):
        scores = st.b * h * st.s * st.s
        score_bytes = 4 if (st.flow == "autocast" and st.device == "cuda") or math_path(spec, st) else c
        attention_temporaries += 2 * rounded(-(-scores * score_bytes // tp), device)
    attention_temporaries += rounded(-(-dequantized[0] // tp), device) if dequantized[0] else 0
    mlp_temporaries += rounded(-(-dequantized[1] // tp), device) if dequantized[1] else 0
    norm_temporaries = norm_backward_bytes(spec, t, st.r) // (tp if sp else 1)
    return {
        "MLP": BackwardRegion(0, mlp_temporaries, down_grads),  # after the down-projection's backward
        "MLP norm": BackwardRegion(freed["mlp"], norm_temporaries, mlp_grads),
        "attention": BackwardRegion(freed["mlp"] + freed["mlp_norm"], attention_temporaries, all_grads),
        "attention norm": BackwardRegion(freed["mlp"] + freed["mlp_norm"] + freed["attn"], norm_temporaries, all_grads),
    }
