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

from llm_budget.memory.blocks import (
    EVERY_EXPERT,
    l2_qk_norm,
    math_path,
    math_path_core,
    mla_attention,
    moe_saved,
    sinks_eager_core,
)
from llm_budget.memory.saved import (
    FUSED_QKV,
    POST_NORM,
    _dropout_mask,
    _matmul_inputs,
    _mlp,
    _norm,
    family,
)
from llm_budget.memory.saved import AttentionKind as AttentionKind  # the step's conditions: re-exported here
from llm_budget.memory.saved import Device as Device
from llm_budget.memory.saved import Flow as Flow
from llm_budget.memory.saved import Saved as Saved
from llm_budget.memory.saved import Step as Step
from llm_budget.model.spec import LayerKind, ModelSpec, NormKind, PositionKind, QKNorm


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
            st, "attention input", t * spec.d_embed, in_bytes, 1 if st.impl == "hf" and family(spec) in FUSED_QKV else 3
        )
    if st.impl == "hf" and family(spec) in POST_NORM:
        out += _norm(spec, st, h * dh, t, "q-norm", c) + _norm(spec, st, kv * dh, t, "k-norm", c)
    elif spec.qk_norm is not QKNorm.none and spec.norm is not NormKind.none:
        per_head = spec.qk_norm is QKNorm.per_head
        out += _norm(spec, st, dh, t * h, "q-norm", c, separate_weight=per_head)
        out += _norm(spec, st, dh, t * kv, "k-norm", c, separate_weight=per_head)
    out += _attention_core(spec, st)
    return out


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
        return _block_saved(spec, st._replace(window_mask=capped > 0), moe=spec.is_moe) + _l2_norms(spec, st)

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
    return out + _l2_norms(spec, st)


def _l2_norms(spec: ModelSpec, st: Step) -> list[Saved]:
    """Llama 4's QK L2 norms, in its chunked (rotary) layers only: their share of the mean block."""
    if st.impl != "hf" or family(spec) not in EVERY_EXPERT:
        return []
    n, L = spec.count_layers(LayerKind.chunked), spec.n_layers
    return [x._replace(bytes=-(-x.bytes * n // L), group="attn") for x in l2_qk_norm(spec, st)] if n else []


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

    post = st.impl == "hf" and family(spec) in POST_NORM
    out = [] if post else tag(_norm(spec, st, d, t, "attention norm", r), "attn_norm")
    attn = _attention(spec, st, r)
    if spec.norms_per_layer == 4 or post:
        attn += _norm(spec, st, d, t, "post-attention norm", c)
    if spec.dropout > 0:
        attn.append(Saved("attention residual dropout", _dropout_mask(st, t * d, c), "dropout keeps its mask"))
    out += tag(attn, "attn")
    if spec.norms_per_layer == 1:  # parallel block: the MLP reads the attention's normed input
        mlp = moe_saved(spec, st, r) if moe else _mlp(spec, st, t, r, "MLP", input_counted=True)
    else:
        out += [] if post else tag(_norm(spec, st, d, t, "MLP norm", r), "mlp_norm")
        mlp = moe_saved(spec, st, r) if moe else _mlp(spec, st, t, r, "MLP")
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
                * (rotary_dims(spec) if st.impl == "hf" else spec.head_dim)
                * (4 if st.impl == "hf" and family(spec) in POST_NORM else r)
                * _rope_tables(spec, st),
                "the rotations save cos and sin, shared by all layers",
            )
        )
    if spec.final_norm:
        out += _norm(spec, st, d, t, "final norm", r)
    if st.loss != "fused":  # Liger's fused linear cross-entropy makes the input's gradient in forward instead
        out += _matmul_inputs(st, "unembedding input", t * d, r, 1)
    return out


def rotary_dims(spec: ModelSpec) -> int:
    """Width of each head's rotated part: MLA's qk_rope_head_dim, else d_head × rotary_fraction (phi-2: 0.4)."""
    if spec.mla is not None:
        return spec.mla.qk_rope_head_dim
    return int(spec.head_dim * spec.rotary_fraction)


def _rope_tables(spec: ModelSpec, st: Step) -> int:
    """transformers' Gemma 3 builds one cos/sin pair per attention kind (local and global rope bases)."""
    if st.impl == "hf" and family(spec).startswith("gemma3") and spec.layer_pattern:
        return len(set(spec.layer_pattern))
    return 1
