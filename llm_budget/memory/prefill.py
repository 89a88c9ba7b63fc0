"""The workspace of a prefill forward: the tensors one block (or the head) holds at once without autograd."""

from __future__ import annotations

from llm_budget.model.spec import MlpKind, ModelSpec, NormKind


def _mlp_workspace(spec: ModelSpec, t: int, c: int, normed: int) -> int:
    """The MLP's live tensors: gated: act(gate), up and their product (3 × t × d_mlp); GPT-2's elementwise
    tanh GELU: the input, 0.5·x and two intermediates of the chain (4 ×); a fused activation: 2 ×.
    MoE: the routed rows and the other experts' outputs while the last expert runs its MLP (of the expert
    width) on its share (t·k / n_experts rows), or the gather after them: rows, the concatenated outputs, their
    weighted copy and the output buffer; a shared expert's output (t × d) is live meanwhile, and the shared
    expert itself runs on all t rows. A model with dense and MoE blocks: the larger of the two."""
    d = spec.d_embed
    width = 3 if spec.mlp is MlpKind.gated else (4 if spec.act.value == "gelu_new" else 2)
    dense = normed + width * t * spec.d_mlp * c
    if not spec.is_moe:
        return dense
    f = spec.expert_width
    rows = t * spec.active_experts
    share = -(-rows // spec.n_experts)
    during = rows * d * c + (rows - share) * d * c + width * share * f * c
    after = 3 * rows * d * c + t * d * c
    shared = 0
    if spec.d_shared_mlp is not None:
        shared = t * d * c  # the shared expert's output, live while the routed experts run
        during = max(during, width * t * spec.d_shared_mlp * c - shared)
    moe = normed + shared + max(during, after)
    return max(moe, dense) if spec.n_dense_layers else moe


def _attention_workspace(spec: ModelSpec, t: int, c: int, normed: int) -> int:
    """q, k, v and rope's products on q (three q-sized tensors; one without rotary positions). MLA: the
    latents (q_lora_rank, kv_lora_rank + qk_rope_head_dim), q of qk_head_dim per head, keys built per head
    and the up-projected values (nope + v_head_dim per head) (modeling_deepseek_v3.py)."""
    h = spec.n_heads
    rotary = spec.position.value == "rotary"
    if spec.mla is not None:
        m = spec.mla
        latents = t * ((m.q_lora_rank or 0) + m.kv_lora_rank + m.qk_rope_head_dim) * c
        qd = h * m.qk_head_dim
        kv = t * (h * m.qk_head_dim + h * (m.qk_nope_head_dim + m.v_head_dim)) * c
        return normed + latents + t * qd * c + kv + (2 * t * qd * c if rotary else 0)
    qd, kd = h * spec.head_dim, spec.kv_heads * spec.head_dim
    rope = 3 * t * qd * c if rotary else t * qd * c
    return normed + t * (qd + 2 * kd) * c + rope


def prefill_workspace(spec: ModelSpec, *, batch: int, prompt: int, c: int) -> int:
    """Tensors one block's forward holds at once during a prefill without gradients, above the weights and cache.

    Without autograd every intermediate dies as soon as the next op has read it, so the peak is the
    largest set of simultaneously live tensors, in one of two phases that never overlap:
      a block: the caller's residual x, the block's residual h, the normed input, and the part's own
        temporaries:
          RMSNorm in FP32: the FP32 copy and x², then x·rsqrt (2 FP32 tensors of t × d);
          attention: q, k, v, and rope's products on q (three q-sized tensors) or the SDPA output;
          the MLP: see _mlp_workspace;
      the head, after the last block has freed its temporaries: the final residual x (t × d), and the
        last position's logits, in the compute dtype and upcast to FP32 (batch × vocab × (c + 4));
    and, through both phases, the prompt's int64 token ids (t × 8 B) and rotary's cos and sin tables
    (2 × prompt × d_head, in the compute dtype), built once per forward.
    At batch 4096 × prompt 1 (GPT-2) the head is the peak; adding the logits on top of the block, as
    before, over-counted by the block's temporaries (+7% against the fake-tensor probe).
    Source: pope2022: §2 (the prefill is one forward pass); the terms follow the probe's reference model.
    """
    t = batch * prompt
    d = spec.d_embed
    residuals = 2 * t * d * c
    normed = t * d * c
    norm = t * d * 8 if spec.norm is NormKind.rmsnorm else 0
    attention = _attention_workspace(spec, t, c, normed)
    block = residuals + max(norm, attention, _mlp_workspace(spec, t, c, normed))
    head = t * d * c + batch * spec.n_vocab * (c + 4)
    token_ids = t * 8  # the prompt's int64 token ids, live for the whole forward
    rotated = spec.mla.qk_rope_head_dim if spec.mla is not None else int(spec.head_dim * spec.rotary_fraction)
    rope_tables = 2 * prompt * rotated * c if spec.position.value == "rotary" else 0  # cos and sin
    return token_ids + rope_tables + max(block, head)
