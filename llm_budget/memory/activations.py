"""What a training step keeps alive for backward: an inventory of saved tensors, layer by layer.

Korthikanti et al. 2022 (Table 2) count a layer's activations as s·b·h·(34 + 5·a·s/h) bytes
at 16 bits. That is a property of Megatron's kernels. A PyTorch model saves whatever its
autograd graph needs, which depends on how each op is written and in which dtype it runs,
so this module lists the tensors one by one (llm.c's fill_in_activation_sizes is the
model): name, bytes, why. The list follows the probe's reference model
(llm_budget/probe/model.py), whose ops are those of Hugging Face's Llama, GPT-2 and
Mixtral implementations (an FP32 RMSNorm, tanh GELU written as elementwise ops for GPT-2,
SDPA or eager attention, upcast FP32 logits for the loss); tests/test_activations.py holds
every line to the bytes PyTorch actually keeps, measured under fake tensors.

Dtype flow, per recipe:
- pure (fp32, or bf16/fp16 weights): every activation in the compute dtype, except the
  FP32 pieces a kernel keeps (RMSNorm's upcast, attention's log-sum-exp, the loss).
- autocast (torch.autocast, FP32 weights): the residual stream stays FP32; every matmul
  casts its input to 16 bits and saves that copy (a copy per matmul: autocast caches
  casts of leaf weights only); matmul outputs are 16-bit. On CUDA, pow and softmax run in
  FP32 under autocast; on the CPU they do not (PyTorch's autocast op lists).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from llm_budget.memory.blocks import (
    clamped_swiglu_extra,
    math_path,
    math_path_core,
    mla_attention,
    router,
    shared_experts,
    sinks_eager_core,
)
from llm_budget.model.spec import (
    Activation,
    LayerKind,
    MlpKind,
    ModelSpec,
    NormKind,
    PositionKind,
    QKNorm,
)

Flow = Literal["pure", "autocast"]
FP32_NORM_PRODUCT = {"gemma", "gemma2", "gemma3_text", "gemma3", "gpt_oss", "olmo2"}
FUSED_QKV = {"gpt2", "falcon", "gpt_bigcode", "gpt_neox", "bloom"}
"""transformers' classes that compute q, k, v with one matmul (c_attn, query_key_value): one autocast copy."""
POST_NORM = {"olmo2"}
"""transformers' blocks that normalize each part's output instead of its input (Olmo2DecoderLayer), with
QK-norms over the whole query and key projections and rotations in FP32."""
"""transformers' RMSNorms that multiply the weight in FP32 and cast after (GemmaRMSNorm, GptOssRMSNorm)."""
AttentionKind = Literal["sdpa", "eager"]
Device = Literal["cuda", "cpu"]


class Saved(NamedTuple):
    name: str
    bytes: int
    why: str
    group: str = ""  # attn_norm | attn | mlp_norm | mlp: the part of the block whose backward frees it


class Step(NamedTuple):
    """Conditions of a training step that decide what is saved."""

    b: int  # micro-batch
    s: int  # sequence length
    flow: Flow
    c: int  # bytes of the compute dtype (2 for bf16/fp16, 4 for fp32)
    attention: AttentionKind = "sdpa"
    device: Device = "cuda"
    impl: Literal["hf", "reference"] = "reference"  # Hugging Face transformers, or the probe's reference model
    window_mask: bool = False  # transformers' SDPA gets an explicit mask (a sliding or chunked layer shorter than s)

    @property
    def t(self) -> int:
        return self.b * self.s

    @property
    def r(self) -> int:
        """Bytes per element of the residual stream (FP32 under autocast)."""
        return 4 if self.flow == "autocast" else self.c


def _dropout_mask(st: Step, elements: int, in_bytes: int) -> int:
    """Bytes a dropout keeps for backward: a 1-byte mask on CUDA (native_dropout); on the CPU, a
    scaled noise tensor in the input's dtype (input * noise saves the noise)."""
    return elements * (1 if st.device == "cuda" else in_bytes)


def _norm(
    spec: ModelSpec, st: Step, width: int, rows: int, tag: str, in_bytes: int, *, separate_weight: bool = False
) -> list[Saved]:
    """Saved tensors of one norm over `width` features for `rows` rows. The output keeps the input's dtype.

    separate_weight: the norm runs without affine weights and a separate `· weight` saves the normalized
    rows (the probe's per-head QK-norm).
    """
    if spec.norm is NormKind.none:
        return []
    if spec.norm is NormKind.layernorm:
        # native_layer_norm saves its input, mean and rstd (FP32 on CUDA; the input's dtype on the CPU).
        stat = 4 if st.device == "cuda" or in_bytes == 4 else in_bytes
        out = [
            Saved(f"{tag}: input", rows * width * in_bytes, "layer_norm saves its input"),
            Saved(f"{tag}: mean, rstd", 2 * rows * stat, "layer_norm saves mean and 1/std per row"),
        ]
        if separate_weight:
            out.append(Saved(f"{tag}: normalized", rows * width * in_bytes, "· weight saves the normalized rows"))
        return out
    # RMSNorm computed in FP32 (transformers' LlamaRMSNorm): x.float() is saved by pow and mul,
    # rsqrt's output by mul; weight · x.to(dtype) saves the normalized input in the input dtype,
    # which is the FP32 product itself when the input was FP32. Gemma's and gpt-oss's norms multiply
    # the weight before casting back: the FP32 normalized x is saved (Gemma: and the FP32 1 + weight).
    fp32_product = st.impl == "hf" and (spec.family or "") in FP32_NORM_PRODUCT
    out = [
        Saved(f"{tag}: x in FP32", rows * width * 4, "pow and mul save the FP32 input"),
        Saved(f"{tag}: rsqrt", rows * 4, "mul saves 1/rms per row"),
        Saved(
            f"{tag}: normalized", rows * width * (4 if fp32_product else in_bytes), "weight · x saves the normalized x"
        ),
    ]
    if fp32_product and (spec.family or "").startswith("gemma"):
        out.append(Saved(f"{tag}: 1 + weight (FP32)", width * 4, "GemmaRMSNorm multiplies by (1 + weight).float()"))
    return out


def _matmul_inputs(st: Step, name: str, elements: int, in_bytes: int, n_matmuls: int) -> list[Saved]:
    """What matmuls save of a shared input: the input once, or under autocast one 16-bit copy per matmul
    (autocast caches casts of leaf weights only, so an activation is cast again by every matmul)."""
    if st.flow == "autocast" and in_bytes != st.c:
        return [
            Saved(
                f"{name} (16-bit copy ×{n_matmuls})",
                n_matmuls * elements * st.c,
                "autocast casts the input once per matmul",
            )
        ]
    return [Saved(name, elements * in_bytes, "saved by the matmul(s) it reads")]


def _mlp(
    spec: ModelSpec,
    st: Step,
    rows: int,
    in_bytes: int,
    tag: str,
    *,
    input_counted: bool = False,
    width: int | None = None,
) -> list[Saved]:
    """An MLP of `width` (default d_mlp) over `rows` token rows; its input has dtype in_bytes (saved here
    unless input_counted)."""
    f, c = width or spec.d_mlp, st.c
    gated = spec.mlp is MlpKind.gated
    out: list[Saved] = []
    if not (input_counted and not (st.flow == "autocast" and in_bytes != c)):
        out += _matmul_inputs(st, f"{tag}: input", rows * spec.d_embed, in_bytes, 2 if gated else 1)
    if spec.act is Activation.gelu_new:
        # 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): pow saves x, tanh its output, the last mul both
        # factors. Under CUDA autocast pow runs in FP32 (it casts x and saves the copy), and everything
        # downstream of it is FP32.
        fp32 = st.flow == "autocast" and st.device == "cuda"
        t_bytes = 4 if fp32 else c
        out += [
            Saved(f"{tag}: act input" + (" (FP32 copy)" if fp32 else ""), rows * f * t_bytes, "pow saves its input"),
            Saved(f"{tag}: tanh", rows * f * t_bytes, "tanh saves its output"),
            Saved(f"{tag}: 0.5·x", rows * f * c, "the last mul saves both factors"),
            Saved(f"{tag}: 1 + tanh", rows * f * t_bytes, "the last mul saves both factors"),
        ]
        act_bytes = t_bytes
    else:
        out.append(Saved(f"{tag}: act input", rows * f * c, f"{spec.act.value} saves its input"))
        act_bytes = c
    if gated:
        out += [
            Saved(f"{tag}: act output", rows * f * act_bytes, "act(gate) · up saves both factors"),
            Saved(f"{tag}: up output", rows * f * c, "act(gate) · up saves both factors"),
        ]
    out += _matmul_inputs(st, f"{tag}: down-projection input", rows * f, act_bytes, 1)
    return out


def _hf_gpt2(spec: ModelSpec, st: Step) -> bool:
    return st.impl == "hf" and spec.family == "gpt2"


def _attention_core(spec: ModelSpec, st: Step) -> list[Saved]:
    """From q, k, v to the out-projection's input (which is saved here too)."""
    t, b, s, c = st.t, st.b, st.s, st.c
    h, kv, dh = spec.n_heads, spec.kv_heads, spec.head_dim
    qd, kd = h * dh, kv * dh
    cpu_math = math_path(spec, st)
    if cpu_math and spec.dropout == 0:
        return math_path_core(spec, st)  # transformers' Falcon, MLA's unequal key and value widths
    if st.attention == "eager" and st.impl == "hf" and spec.attention_sinks:
        return sinks_eager_core(spec, st)
    if st.attention == "sdpa" and not cpu_math:
        # Flash (16-bit, sm80+) or memory-efficient kernel: q, k, v, output and FP32 log-sum-exp per row;
        # the memory-efficient kernel pads the rows of its log-sum-exp to a multiple of 32 (CUDA, FP32 inputs).
        rows = s if (st.device == "cpu" or c == 2) else -(-s // 32) * 32
        if st.window_mask:  # transformers' sdpa_attention_forward: a mask means no enable_gqa, so repeat_kv
            kd = qd
        out = [
            Saved("q (attention input)", t * qd * c, "SDPA saves q, k, v (no s² matrix: Dao et al. 2022)"),
            Saved("k (attention input)", t * kd * c, "SDPA saves q, k, v"),
            Saved("v", t * kd * c, "SDPA saves q, k, v"),
            Saved("attention output", t * qd * c, "SDPA saves its output; the out-projection reads it as a view"),
            Saved("log-sum-exp (FP32)", b * h * rows * 4, "SDPA saves one FP32 statistic per row"),
        ]
        if st.window_mask:
            out.append(
                Saved("window mask", b * s * s * c, "SDPA saves the boolean mask converted to the compute dtype")
            )
        if st.impl == "hf" and spec.rotary_fraction < 1 and spec.position is PositionKind.rotary:
            # partial rotary concatenates q's rotated and passed parts: q is laid out (b, h, s, d), and so is
            # SDPA's output, which the out-projection then reads through a contiguous (b, s, h·d) copy
            out.append(Saved("attention output (contiguous copy)", t * qd * c, "the out-projection saves the copy"))
        if spec.dropout > 0:
            out.append(Saved("attention dropout seed", 16, "the kernel regenerates its dropout mask from a seed"))
        return out
    if cpu_math:
        # The CPU has no fused kernel with dropout: SDPA falls back to its math path, in FP32.
        hs = b * h * s * s
        return [
            Saved("q·√scale (FP32)", t * qd * 4, "SDPA's math path upcasts and saves scaled q"),
            Saved("kᵀ·√scale (FP32, all heads)", t * qd * 4, "... scaled kᵀ"),
            Saved("v (FP32, all heads)", t * qd * 4, "... and v"),
            Saved("attention probabilities (FP32)", hs * 4, "softmax saves its output"),
            Saved("attention dropout noise (FP32)", hs * 4, "dropout saves its scaled noise"),
            Saved("dropped probabilities (FP32)", hs * 4, "probs @ v saves them"),
            Saved("attention output (contiguous copy)", t * qd * c, "the out-projection saves the re-laid-out heads"),
        ] + (
            # transformers' GPT-2 at FP32, one sequence: the math path keeps v as a view into the fused q,k,v output
            [Saved("fused q, k, v output (v's storage)", 2 * t * qd * 4, "v is a view of c_attn's output")]
            if _hf_gpt2(spec, st) and c == 4 and b == 1
            else []
        )
    if st.impl == "hf":
        return _hf_eager(spec, st)
    # Eager attention: the s² scores are materialized and kept (Korthikanti et al.'s 5·a·s/h term).
    softmax_bytes = 4 if (st.flow == "autocast" and st.device == "cuda") else c
    hs = b * h * s * s
    rep = kv != h
    out = [
        Saved("q (attention input)", t * qd * c, "q @ kᵀ saves q"),
        Saved("k, repeated to all heads" if rep else "k", t * qd * c, "q @ kᵀ saves kᵀ"),
        Saved("v, repeated to all heads" if rep else "v", t * qd * c, "probs @ v saves v"),
        Saved("attention probabilities", hs * softmax_bytes, "softmax saves its output"),
        Saved("causal mask", s * s, "masked_fill saves the boolean mask"),
        Saved("attention output (contiguous copy)", t * qd * c, "the out-projection saves the re-laid-out heads"),
    ]
    if spec.dropout > 0:
        out.append(Saved("attention dropout mask", _dropout_mask(st, hs, softmax_bytes), "dropout keeps its mask"))
        out.append(Saved("dropped probabilities", hs * softmax_bytes, "probs @ v saves the dropped probabilities"))
    return out


def _hf_eager(spec: ModelSpec, st: Step) -> list[Saved]:
    """transformers' eager attention. The causal mask is a float tensor added to the scores (nothing saved).
    Llama-style models run softmax(dtype=float32): FP32 probabilities, and a 16-bit copy for probs @ v when
    computing in 16 bits. GPT-2 adds an FP32 mask, which under autocast promotes the scores to FP32."""
    t, b, s, c = st.t, st.b, st.s, st.c
    h, kv, dh = spec.n_heads, spec.kv_heads, spec.head_dim
    qd = h * dh
    hs = b * h * s * s
    rep = kv != h
    out = [
        Saved("q (attention input)", t * qd * c, "q @ kᵀ saves q"),
        Saved("k, repeated to all heads" if rep else "k", t * qd * c, "q @ kᵀ saves kᵀ (repeat_kv)"),
        Saved("v, repeated to all heads" if rep else "v", t * qd * c, "probs @ v saves v"),
    ]
    if _hf_gpt2(spec, st):
        probs = 4 if st.flow == "autocast" else c  # the FP32 mask (CPU) or autocast's FP32 softmax (CUDA)
        out.append(Saved("attention probabilities", hs * probs, "softmax saves its output"))
        copy_bytes = c
    else:
        out.append(Saved("attention probabilities (FP32)", hs * 4, "softmax(dtype=float32) saves its output"))
        if c == 2:
            out.append(Saved("attention probabilities, 16-bit copy", hs * 2, "probs @ v saves the 16-bit copy"))
        copy_bytes = c
    out.append(
        Saved("attention output (contiguous copy)", t * qd * c, "the out-projection saves the re-laid-out heads")
    )
    if spec.dropout > 0:
        out.append(Saved("attention dropout mask", _dropout_mask(st, hs, copy_bytes), "dropout keeps its mask"))
        out.append(Saved("dropped probabilities", hs * copy_bytes, "probs @ v saves the dropped probabilities"))
    return out


def _attention(spec: ModelSpec, st: Step, in_bytes: int, *, input_counted: bool = False) -> list[Saved]:
    """Saved tensors from the normed input through the attention output projection."""
    t, c = st.t, st.c
    h, kv, dh = spec.n_heads, spec.kv_heads, spec.head_dim
    if spec.mla is not None:
        return mla_attention(spec, st, in_bytes)
    out: list[Saved] = []
    if not input_counted:
        # transformers' GPT-2 computes q, k, v with one fused matmul (c_attn): one cast under autocast
        out += _matmul_inputs(
            st, "attention input", t * spec.d_embed, in_bytes, 1 if st.impl == "hf" and spec.family in FUSED_QKV else 3
        )
    if st.impl == "hf" and spec.family in POST_NORM:
        out += _norm(spec, st, h * dh, t, "q-norm", c) + _norm(spec, st, kv * dh, t, "k-norm", c)
    elif spec.qk_norm is not QKNorm.none and spec.norm is not NormKind.none:
        per_head = spec.qk_norm is QKNorm.per_head
        out += _norm(spec, st, dh, t * h, "q-norm", c, separate_weight=per_head)
        out += _norm(spec, st, dh, t * kv, "k-norm", c, separate_weight=per_head)
    out += _attention_core(spec, st)
    return out


def _moe(spec: ModelSpec, st: Step, in_bytes: int) -> list[Saved]:
    """Router and routed experts (dropless, token rows sorted by expert): the probe's MoE layer, or
    transformers' (blocks.py: its routers, experts and shared experts)."""
    t, c, r, h, E, k = st.t, st.c, st.r, spec.d_embed, spec.n_experts, spec.active_experts
    rows = t * k
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
    weights = 4 if st.flow == "autocast" or spec.family not in ("qwen2_moe", "qwen3_moe", "gpt_oss") else c
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


def checkpointed_core_inputs(spec: ModelSpec, st: Step) -> list[Saved] | None:
    """What the reference model's selective recomputation keeps of the attention core: torch.utils.checkpoint
    (non-reentrant) holds the core's inputs q, k, v as they are passed in, at their own dtype and before
    GQA's repeat. Under autocast with rotary positions q and k are FP32: the cos and sin tables are built in
    the residual's dtype (FP32) and q·cos promotes, while without checkpointing the core saves autocast's
    16-bit casts of them (measured under fake tensors: +256 B per token and layer at d 64, issue 13).
    None where another path decides (transformers' models, SDPA's CPU math path with dropout)."""
    if st.impl != "reference" or (st.device == "cpu" and spec.dropout > 0 and st.attention == "sdpa"):
        return None
    t, c = st.t, st.c
    qd, kd = spec.n_heads * spec.head_dim, spec.kv_heads * spec.head_dim
    qk = st.r if spec.position is PositionKind.rotary else c
    return [
        Saved("q (checkpoint input)", t * qd * qk, "the checkpoint holds the core's inputs", "attn"),
        Saved("k (checkpoint input)", t * kd * qk, "the checkpoint holds the core's inputs", "attn"),
        Saved("v (checkpoint input)", t * kd * c, "the checkpoint holds the core's inputs", "attn"),
    ]


def layer_saved(spec: ModelSpec, st: Step) -> list[Saved]:
    """Tensors one transformer block saves for backward (no checkpointing), tagged by the part of the
    block whose backward frees them (backward runs mlp, mlp_norm, attn, attn_norm).

    A model whose blocks differ (DeepSeek's dense first blocks, Llama 4's interleaved MoE) gets the mean
    block: each kind's tensors weighted by its share of the blocks, so n_layers × this list is the step's
    total. (Sliding and full attention layers save the same tensors: SDPA and eager attention build the same
    scores and only mask different entries.)"""
    L, moe = spec.n_layers, spec.n_moe_layers
    capped = masked_layers(spec, st)
    if (not spec.is_moe or moe == L) and capped in (0, L):
        return _block_saved(spec, st._replace(window_mask=capped > 0), moe=spec.is_moe)

    def share(items: list[Saved], n: int, mlp: bool) -> list[Saved]:
        part = [x for x in items if x.group.startswith("mlp") == mlp]
        return [x._replace(bytes=-(-x.bytes * n // L)) for x in part] if n else []

    kinds = [(False, L - moe, L - capped), (True, moe, capped)]  # (MoE / masked, MLP blocks, attention blocks)
    out: list[Saved] = []
    for flag, mlp_blocks, attention_blocks in kinds:
        block = _block_saved(spec, st._replace(window_mask=flag), moe=flag and spec.is_moe)
        out += share(block, attention_blocks, mlp=False)
        if spec.is_moe or not flag:
            out += share(_block_saved(spec, st, moe=flag), mlp_blocks if spec.is_moe else L, mlp=True)
    return out


def masked_layers(spec: ModelSpec, st: Step) -> int:
    """Blocks whose attention transformers' SDPA runs with an explicit mask: sliding layers when the sequence is
    longer than the window, chunked ones when longer than the chunk (masking_utils builds no mask otherwise)."""
    if st.impl != "hf" or st.attention != "sdpa":
        return 0
    n = 0
    if spec.sliding_window and st.s > spec.sliding_window:
        n += spec.count_layers(LayerKind.sliding)
    if spec.attention_chunk and st.s > spec.attention_chunk:
        n += spec.count_layers(LayerKind.chunked)
    return n


def _block_saved(spec: ModelSpec, st: Step, *, moe: bool) -> list[Saved]:
    """One block's saved tensors: with a MoE layer (router, experts, shared experts) or a dense MLP of d_mlp."""
    t, r, c, d = st.t, st.r, st.c, spec.d_embed

    def tag(items: list[Saved], group: str) -> list[Saved]:
        return [x._replace(group=group) for x in items]

    post = st.impl == "hf" and spec.family in POST_NORM
    out = [] if post else tag(_norm(spec, st, d, t, "attention norm", r), "attn_norm")
    attn = _attention(spec, st, r)
    if spec.norms_per_layer == 4 or post:
        attn += _norm(spec, st, d, t, "post-attention norm", c)
    if spec.dropout > 0:
        attn.append(Saved("attention residual dropout", _dropout_mask(st, t * d, c), "dropout keeps its mask"))
    out += tag(attn, "attn")
    if spec.norms_per_layer == 1:  # parallel block: the MLP reads the attention's normed input
        mlp = _moe(spec, st, r) if moe else _mlp(spec, st, t, r, "MLP", input_counted=True)
    else:
        out += [] if post else tag(_norm(spec, st, d, t, "MLP norm", r), "mlp_norm")
        mlp = _moe(spec, st, r) if moe else _mlp(spec, st, t, r, "MLP")
    if spec.norms_per_layer == 4 or post:
        mlp += _norm(spec, st, d, t, "post-MLP norm", c)
    if spec.dropout > 0:
        mlp.append(Saved("MLP residual dropout", _dropout_mask(st, t * d, c), "dropout keeps its mask"))
    out += tag(mlp, "mlp")
    return out


def head_saved(spec: ModelSpec, st: Step) -> list[Saved]:
    """Saved outside the blocks (the token ids are the step's input): position ids, embedding norm and dropout, rope tables,
    the final norm and the unembedding's input. (The loss is accounted for by the step.)"""
    t, r, d = st.t, st.r, spec.d_embed
    out: list[Saved] = []
    if st.impl == "hf":
        # transformers pads the labels with -100 and shifts them: nll_loss keeps the shifted int64 copy
        # (the padded (1, s+1) storage itself for a single sequence).
        out.append(
            Saved("shifted labels (int64)", 8 * (st.s + 1) if st.b == 1 else 8 * t, "nll_loss saves its targets")
        )
    if spec.position is PositionKind.learned:
        out.append(Saved("position ids", st.s * 8, "the position embedding saves its indices"))
    if spec.embed_norm:
        out += _norm(spec, st, d, t, "embedding norm", r)
    if spec.dropout > 0:
        out.append(Saved("embedding dropout", _dropout_mask(st, t * d, r), "dropout keeps its mask"))
    if spec.position is PositionKind.rotary:
        out.append(
            Saved(
                "rope cos, sin",
                2
                * st.s
                * rotary_dims(spec)
                * (4 if st.impl == "hf" and spec.family in POST_NORM else r)
                * _rope_tables(spec, st),
                "the rotations save cos and sin, shared by all layers",
            )
        )
    if spec.final_norm:
        out += _norm(spec, st, d, t, "final norm", r)
    out += _matmul_inputs(st, "unembedding input", t * d, r, 1)
    return out


def rotary_dims(spec: ModelSpec) -> int:
    """Width of each head's rotated part: MLA's qk_rope_head_dim, else d_head × rotary_fraction (phi-2: 0.4)."""
    if spec.mla is not None:
        return spec.mla.qk_rope_head_dim
    return int(spec.head_dim * spec.rotary_fraction)


def _rope_tables(spec: ModelSpec, st: Step) -> int:
    """transformers' Gemma 3 builds one cos/sin pair per attention kind (local and global rope bases)."""
    if st.impl == "hf" and (spec.family or "").startswith("gemma3") and spec.layer_pattern:
        return len(set(spec.layer_pattern))
    return 1
