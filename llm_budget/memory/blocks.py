"""Saved tensors of the blocks 2025-26 architectures add, as transformers writes them (issue 10).

Each list follows one modeling file of transformers 5.x, measured tensor by tensor under saved-tensor hooks
(the shapes and dtypes PyTorch's autograd keeps; tests/test_probe.py holds the step peaks to the fake-tensor
probe of the same classes):
  MLA: deepseek_v3/modeling_deepseek_v3.py DeepseekV3Attention (DeepSeek-V2 §2.1);
  routers: mixtral/qwen2_moe/qwen3_moe (softmax in FP32, top-k), gpt_oss (top-k, then softmax over the k),
    deepseek_v3 (an FP32 linear, sigmoid scores, grouped top-k; DeepSeek-V3 §2.1.2);
  experts: grouped_mm over the sorted rows; gpt_oss's clamped SwiGLU (GptOssExperts._apply_gate) keeps
    three more hidden-width tensors per row than act(gate) · up;
  shared experts: deepseek_v3's shared_experts, qwen2_moe's shared_expert with its sigmoid gate.
"""

from __future__ import annotations

from llm_budget.memory.saved import Saved, Step, _matmul_inputs, _mlp, _norm, family
from llm_budget.model.spec import ModelSpec

FP32_ROUTER = {"deepseek", "deepseek_v3", "deepseek_v2", "kimi_k2", "glm4_moe"}
"""Routers that run their linear layer in FP32 (hidden_states.float() @ weight.float()) and score with a sigmoid."""
SOFTMAX_AFTER_TOPK = {"gpt_oss"}
EVERY_EXPERT = {"llama4_text", "llama4"}
"""MoE blocks that run every expert on every token, scaled by its (mostly zero) router score (Llama4TextMoe)."""
"""Routers that take the top-k logits first and softmax over those k (in the logits' dtype)."""


def _saved(name: str, n_bytes: int, why: str) -> Saved:
    return Saved(name, n_bytes, why)


def math_path(spec: ModelSpec, st: Step) -> bool:
    """SDPA takes its math path (an FP32 upcast, the s² probabilities kept) on the CPU when no fused kernel
    fits: with dropout, when keys and values differ in width (MLA), and for Falcon, which passes an explicit
    mask (transformers' modeling_falcon.py calls scaled_dot_product_attention with attn_mask)."""
    if st.device != "cpu" or st.attention != "sdpa":
        return False
    hf_falcon = st.impl == "hf" and family(spec) == "falcon"
    return spec.dropout > 0 or spec.qk_head_dim != spec.v_head_dim or hf_falcon


def math_path_core(spec: ModelSpec, st: Step) -> list[Saved]:
    """SDPA's math path: q and kᵀ scaled by √scale, v and the probabilities, all in FP32 and for every head
    (K and V expanded), then the out-projection's input."""
    t, b, s, c, h = st.t, st.b, st.s, st.c, spec.n_heads
    qd, vd, hs = h * spec.qk_head_dim, h * spec.v_head_dim, b * h * s * s
    # K and V expanded from their KV heads stay views for a single sequence (MLA's are per head already)
    kv = spec.kv_heads if b == 1 and spec.mla is None else h
    out = [
        _saved("q·√scale (FP32)", t * qd * 4, "SDPA's math path upcasts and saves scaled q"),
        _saved("kᵀ·√scale (FP32, all heads)", t * kv * spec.qk_head_dim * 4, "... scaled kᵀ"),
        _saved("v (FP32, all heads)", t * kv * spec.v_head_dim * 4, "... and v"),
        _saved("attention probabilities (FP32)", hs * 4, "softmax saves its output"),
    ]
    if spec.dropout > 0:
        out += [
            _saved("attention dropout noise (FP32)", hs * 4, "dropout saves its scaled noise"),
            _saved("dropped probabilities (FP32)", hs * 4, "probs @ v saves them"),
        ]
    return out + [_saved("attention output (contiguous copy)", t * vd * c, "the out-projection saves the heads")]


def mla_attention(spec: ModelSpec, st: Step, in_bytes: int) -> list[Saved]:
    """DeepseekV3Attention: q_a → norm → q_b (or one q_proj), kv_a → split → norm → kv_b, rope on the
    qk_rope_head_dim parts, keys built per head (nope + the shared rotated key), then the attention core."""
    assert spec.mla is not None
    m, t, c, h = spec.mla, st.t, st.c, spec.n_heads
    out = _matmul_inputs(st, "attention input", t * spec.d_embed, in_bytes, 2)  # q_a (or q_proj) and kv_a
    if m.q_lora_rank is not None:
        out += _norm(spec, st, m.q_lora_rank, t, "q latent norm", c)
        out += _matmul_inputs(st, "q up-projection input", t * m.q_lora_rank, st.r, 1)
    out += _norm(spec, st, m.kv_lora_rank, t, "kv latent norm", c)
    out += _matmul_inputs(st, "kv up-projection input", t * m.kv_lora_rank, st.r, 1)
    if math_path(spec, st):
        return out + math_path_core(spec, st)
    qd, vd = h * m.qk_head_dim, h * m.v_head_dim
    rows = st.s if (st.device == "cpu" or c == 2) else -(-st.s // 32) * 32
    return out + [
        _saved("q (attention input)", t * qd * c, "SDPA saves q, k, v"),
        _saved("k (attention input)", t * qd * c, "keys are built per head: nope and the shared rotated key"),
        _saved("kv up-projection output (v's storage)", t * h * (m.qk_nope_head_dim + m.v_head_dim) * c, "v is a view"),
        _saved("attention output", t * vd * c, "SDPA saves its output"),
        _saved("log-sum-exp (FP32)", st.b * h * rows * 4, "SDPA saves one FP32 statistic per row"),
        _saved("attention output (contiguous copy)", t * vd * c, "the out-projection saves the re-laid-out heads"),
    ]


def sinks_eager_core(spec: ModelSpec, st: Step) -> list[Saved]:
    """gpt-oss's eager attention: the scores get each head's sink logit as one more column, the row max is
    subtracted (max saves its int64 indices), softmax over s + 1 columns in the scores' dtype (FP32 under
    autocast: the FP32 sinks promote the concatenation; probs @ v then saves a 16-bit copy of the s columns)."""
    t, b, s, c, h = st.t, st.b, st.s, st.c, spec.n_heads
    qd, hs = h * spec.head_dim, b * h * s
    probs = 4 if st.flow == "autocast" else c
    out = [
        _saved("q (attention input)", t * qd * c, "q @ kᵀ saves q"),
        _saved("k, repeated to all heads", t * qd * c, "q @ kᵀ saves kᵀ (repeat_kv)"),
        _saved("v, repeated to all heads", t * qd * c, "probs @ v saves v"),
        _saved("attention probabilities", hs * (s + 1) * probs, "softmax over the scores and the sink"),
        _saved("causal mask", hs * 8, "max saves the int64 index of each row's largest logit"),
    ]
    if probs != c:
        out.append(_saved("attention probabilities, 16-bit copy", hs * s * c, "probs @ v saves the 16-bit copy"))
    return out + [_saved("attention output (contiguous copy)", t * qd * c, "the out-projection saves the heads")]


def router(spec: ModelSpec, st: Step, in_bytes: int) -> list[Saved]:
    """The router's saved tensors and the token order of the sorted rows (transformers' MoE blocks)."""
    t, E, k, name = st.t, spec.n_experts, spec.active_experts, family(spec)
    rows = t * k
    out = _matmul_inputs(st, "router input", t * spec.d_embed, in_bytes, 1)
    if name in SOFTMAX_AFTER_TOPK:
        out += [
            _saved("top-k indices", rows * 8, "topk saves the chosen experts (int64)"),
            _saved("top-k weights", rows * st.c, "softmax over the k logits saves its output"),
            _saved("token order (int64 ×4)", 4 * rows * 8, "sorting, gather, scatter and weights save indices"),
        ]
        return out
    if name in FP32_ROUTER:
        return out + [
            _saved(
                "router input (FP32 copy)",
                t * spec.d_embed * 4 if in_bytes != 4 else 0,
                "the router's linear runs in FP32",
            ),
            _saved("router scores (FP32)", t * E * 4, "sigmoid saves its output"),
            _saved("expert mask and group indices", t * E + 3 * t * 8, "grouped top-k keeps its mask and indices"),
            _saved("top-k indices", rows * 8, "topk saves the chosen experts (int64)"),
            _saved("top-k weights and their sum (FP32)", rows * 4 + t * 4, "the renormalizing division"),
            _saved("token order (int64 ×3)", 3 * rows * 8, "gather, scatter and weight indexing save indices"),
        ]
    return out + [
        _saved("router probabilities (FP32)", t * E * 4, "softmax saves its output"),
        _saved("top-k indices", rows * 8, "topk saves the chosen experts (int64)"),
        _saved("top-k weights and their sum", rows * 4 + t * 4, "the renormalizing division saves both"),
        _saved("token order (int64 ×3)", 3 * rows * 8, "gather, scatter and weight indexing save their indices"),
    ]


def clamped_swiglu_extra(spec: ModelSpec, st: Step, rows: int, act_bytes: int) -> list[Saved]:
    """gpt-oss: gate.clamp, up.clamp, σ(α·gate), gate·σ and (up + 1)·glu keep three hidden-width tensors per
    row beyond act(gate) · up's (the clamps save their inputs, views of the fused gate_up output)."""
    if family(spec) != "gpt_oss":
        return []
    f = spec.expert_width
    return [_saved("experts: clamped SwiGLU intermediates", 3 * rows * f * act_bytes, "clamp, sigmoid and muls")]


def shared_experts(spec: ModelSpec, st: Step, in_bytes: int) -> list[Saved]:
    """The shared expert every token runs (its input is the router's, saved there), and qwen2_moe's gate:
    σ(x W_g) · shared output saves both factors."""
    if spec.d_shared_mlp is None:
        return []
    t, c = st.t, st.c
    out = _mlp(spec, st, t, in_bytes, "shared expert", input_counted=True, width=spec.d_shared_mlp)
    if spec.shared_expert_gate:
        if st.flow == "autocast" and in_bytes != c:
            out.append(_saved("shared expert gate input (16-bit copy)", t * spec.d_embed * c, "autocast casts it"))
        out += [
            _saved("shared expert gate (σ)", t * c, "the gate's product saves σ(x W_g)"),
            _saved("shared expert output", t * spec.d_embed * c, "the gate's product saves the expert's output"),
        ]
    return out


def moe_saved(spec: ModelSpec, st: Step, in_bytes: int) -> list[Saved]:
    """Router and routed experts (dropless, token rows sorted by expert): the probe's MoE layer, or
    transformers' (blocks.py: its routers, experts and shared experts)."""
    t, c, r, h, E, k = st.t, st.c, st.r, spec.d_embed, spec.n_experts, spec.active_experts
    rows = t * k
    if st.impl == "hf" and family(spec) in EVERY_EXPERT:
        return every_expert(spec, st, in_bytes) + shared_experts(spec, st, in_bytes)
    if st.impl == "hf":
        return router(spec, st, in_bytes) + _hf_experts(spec, st, in_bytes) + shared_experts(spec, st, in_bytes)
    out = _matmul_inputs(st, "router input", t * h, in_bytes, 1)
    out += [
        Saved("router probabilities (FP32)", t * E * 4, "softmax saves its output"),
        Saved("top-k indices", rows * 8, "topk saves the chosen experts (int64)"),
        Saved("top-k weights and their sum", rows * 4 + t * 4, "the renormalizing division saves both"),
        Saved("token order (int64 ×3)", 3 * rows * 8, "gather, scatter and weight indexing save their indices"),
    ]
    f = spec.expert_width
    if st.flow == "autocast" and in_bytes != c:
        out += _mlp(spec, st, rows, in_bytes, "experts", width=f)  # each expert casts its rows: copies counted there
    else:
        out.append(Saved("routed rows", rows * h * in_bytes, "the experts' matmuls save views of the sorted rows"))
        out += _mlp(spec, st, rows, in_bytes, "experts", input_counted=True, width=f)
    out += [
        Saved("expert outputs", rows * h * c, "· routing weight saves the outputs"),
        Saved("routing weights, sorted", rows * r, "· routing weight saves the weights (residual dtype)"),
        Saved("weighted expert outputs", rows * h * max(c, r), "index_add_ saves its source"),
    ]
    return out + shared_experts(spec, st, in_bytes)


def _hf_experts(spec: ModelSpec, st: Step, in_bytes: int) -> list[Saved]:
    """transformers' MoE experts (grouped_mm over the sorted rows, then a gather and a sum). grouped_mm has no
    autocast rule: under autocast the experts run in FP32 on FP32 rows."""
    t, c, h, E, k, f = st.t, st.c, spec.d_embed, spec.n_experts, spec.active_experts, spec.expert_width
    rows = t * k
    offsets = Saved("grouped_mm offsets (int32)", 4 * E, "grouped_mm saves the group offsets")
    weights = 4 if st.flow == "autocast" or family(spec) not in ("qwen2_moe", "qwen3_moe", "gpt_oss") else c
    if st.flow == "autocast":
        return [
            Saved("routed rows (FP32)", rows * h * 4, "grouped_mm saves its input"),
            Saved("gate and up outputs (FP32)", rows * 2 * f * 4, "act(gate) · up saves them"),
            Saved("act output (FP32)", rows * f * 4, "act(gate) · up saves both factors"),
            Saved("down-projection input (FP32)", rows * f * 4, "grouped_mm saves its input"),
            Saved("expert outputs (FP32)", rows * h * 4, "· routing weight saves the outputs"),
            Saved("routing weights (FP32)", rows * 4, "· routing weight saves the weights"),
            offsets,
        ] + clamped_swiglu_extra(spec, st, rows, 4)
    return (
        [Saved("routed rows", rows * h * in_bytes, "the experts' matmuls save the sorted rows")]
        + _mlp(spec, st, rows, in_bytes, "experts", input_counted=True, width=f)
        + clamped_swiglu_extra(spec, st, rows, c)
        + [
            Saved("expert outputs", rows * h * c, "· routing weight saves the outputs"),
            Saved("routing weights", rows * weights, "· routing weight saves the weights"),
            offsets,
        ]
    )


def every_expert(spec: ModelSpec, st: Step, in_bytes: int) -> list[Saved]:
    """Llama4TextMoe: sigmoid scores of the top-k (the rest 0), the tokens repeated for each of the E experts
    and scaled by their score, then one batched matmul per projection over all E × t rows."""
    t, c, d, E, f = st.t, st.c, spec.d_embed, spec.n_experts, spec.expert_width
    rows = E * t
    out = _matmul_inputs(st, "router input", t * d, in_bytes, 1)
    return out + [
        _saved("top-k indices", t * spec.active_experts * 8, "topk saves the chosen experts (int64)"),
        _saved("router scores (FP32)", t * E * 4, "sigmoid saves its output"),
        _saved("expert scores, per row", rows * c, "· score saves the scores"),
        _saved("tokens repeated per expert", rows * d * st.r, "· score saves the repeated tokens"),
        _saved("expert inputs", rows * d * c, "the batched matmul saves its (16-bit) input"),
        _saved("experts: gate and up outputs", rows * 2 * f * c, "act(gate) · up saves them"),
        _saved("experts: act output", rows * f * c, "act(gate) · up saves both factors"),
        _saved("experts: down-projection input", rows * f * c, "the batched matmul saves its input"),
    ]


def l2_qk_norm(spec: ModelSpec, st: Step) -> list[Saved]:
    """Llama 4's weightless L2 norm of q and k in its rotary (chunked) layers: the FP32 copy and 1/rms per row."""
    t, h, kv, dh = st.t, spec.n_heads, spec.kv_heads, spec.head_dim
    return [
        _saved("q L2 norm: x in FP32", t * h * dh * 4, "pow and mul save the FP32 input"),
        _saved("q L2 norm: rsqrt", t * h * 4, "mul saves 1/rms per row"),
        _saved("k L2 norm: x in FP32", t * kv * dh * 4, "pow and mul save the FP32 input"),
        _saved("k L2 norm: rsqrt", t * kv * 4, "mul saves 1/rms per row"),
    ]
