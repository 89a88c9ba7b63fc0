"""The loss as it is computed: the batch × seq × vocab buffers of the cross-entropy, per way of computing it.

full          transformers' ForCausalLMLoss: logits in the compute dtype, upcast to FP32, log_softmax in FP32
              (saved), its backward three FP32 buffers (huggingface/transformers: loss/loss_utils.py,
              ForCausalLMLoss: `logits = logits.float()`).
chunked       litgpt: the lm_head runs on 128-token chunks of the sequence (GPT.forward, lm_head_chunk_size=128)
              and chunked_cross_entropy calls F.cross_entropy on each 16-bit chunk, no upcast: log_softmax
              saves 16-bit log-probabilities; the training loop's `logits` list stays alive through backward
              (Lightning-AI/litgpt v0.5: litgpt/utils.py, chunked_cross_entropy; litgpt/finetune/lora.py, fit).
chunked-fp32  torchtune: the output projection on 8 chunks of the sequence, each chunk upcast with `.float()`
              before F.cross_entropy (FP32 log-probabilities saved), the recipe then `del logits`
              (pytorch/torchtune v0.6: torchtune/modules/loss/ce_chunked_output_loss.py, CEWithChunkedOutputLoss,
              num_output_chunks=8; recipes/lora_finetune_single_device.py, `del logits`).
fused         Liger's fused linear cross-entropy: forward runs the lm_head chunk by chunk, writes the logits'
              gradient in place of each chunk and accumulates the input's (and a trainable weight's) gradient
              at once; the logits never exist whole, backward only hands out grad_input / grad_weight
              (linkedin/Liger-Kernel v0.5: src/liger_kernel/ops/fused_linear_cross_entropy.py,
              fused_linear_cross_entropy_forward: chunk_size = next_power_of_2(cdiv(BT, cdiv(V, H)))).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from llm_budget.choices import LossKind
from llm_budget.memory.allocator import rounded
from llm_budget.memory.saved import Step
from llm_budget.model.spec import ModelSpec

LITGPT_CHUNK_TOKENS = 128  # litgpt/finetune/*.py: model(input_ids, lm_head_chunk_size=128)
TORCHTUNE_CHUNKS = 8  # CEWithChunkedOutputLoss(num_output_chunks=8)


@dataclass(frozen=True)
class LossBuffers:
    """Tensors of the loss (before tensor parallelism splits the vocabulary)."""

    kind: LossKind
    inputs: int  # token ids and targets (int64)
    logits: int  # batch × seq × vocab in the compute dtype
    logits_fp32: int  # one FP32 batch × seq × vocab buffer
    chunk: int  # chunked: one chunk's logits in the dtype the cross-entropy runs in; fused: one chunk's logits
    fused_gradients: int  # fused: grad_input (and a trainable lm_head's grad_weight) made in forward
    scalars: int  # the loss and nll_loss's total weight


class LossPhases(NamedTuple):
    """Bytes of the loss live at each of its moments, on one tensor-parallel rank."""

    forward_peak: int  # the loss's forward at its largest
    held: int  # kept from forward to the cross-entropy's backward
    backward_peak: int  # the cross-entropy's backward
    logits_gradient: int  # the logits' gradient as the unembedding's backward runs (0: fused)


def loss_buffers(spec: ModelSpec, st: Step, kind: LossKind, *, head_trainable: bool, head_width: int) -> LossBuffers:
    """The buffers of `kind` for `st.t` tokens; head_trainable / head_width: whether the lm_head gets a gradient
    (full training) and its bytes per value (Liger's grad_weight is zeros_like(weight))."""
    t, V, d, c, device = st.t, spec.n_vocab, spec.d_embed, st.c, st.device
    chunk, fused = 0, 0
    if kind is LossKind.chunked:
        chunk = rounded(st.b * min(LITGPT_CHUNK_TOKENS, st.s) * V * c, device)
    elif kind is LossKind.chunked_fp32:
        chunk = rounded(st.b * -(-st.s // TORCHTUNE_CHUNKS) * V * 4, device)
    elif kind is LossKind.fused:
        rows = 1 << (-(-t // -(-V // d)) - 1).bit_length()  # next_power_of_2(cdiv(BT, cdiv(V, H)))
        chunk = rounded(min(rows, t) * V * c, device)
        weight_gradient = rounded(V * d * head_width, device) if head_trainable else 0
        fused = rounded(t * d * c, device) + weight_gradient + rounded(t * 4, device)  # + the FP32 per-token loss
    return LossBuffers(
        kind=kind,
        inputs=rounded(t * 8, device) * 2,
        logits=rounded(t * V * c, device),
        logits_fp32=rounded(t * V * 4, device),
        chunk=chunk,
        fused_gradients=fused,
        scalars=2 * rounded(4, device),
    )


def loss_phases(loss: LossBuffers, tp: int, compute: int) -> LossPhases:
    """The loss's moments on one rank (tensor parallelism splits the vocabulary: ceil(x / tp) of each buffer)."""

    def split(x: int) -> int:
        return -(-x // tp)

    logits, fp32, chunk, scalars = split(loss.logits), split(loss.logits_fp32), split(loss.chunk), loss.scalars
    if loss.kind is LossKind.chunked:
        # the 16-bit logits list and the 16-bit log-probabilities (FP32 when computing in FP32) stay until backward;
        # backward makes one chunk's log-prob gradient and logits gradient at a time
        log_probs = logits
        return LossPhases(logits + log_probs, logits + log_probs + scalars, logits + log_probs + 2 * chunk, chunk)
    if loss.kind is LossKind.chunked_fp32:
        # each chunk's FP32 copy lives while its log_softmax runs; `del logits` frees the 16-bit logits after
        # forward; backward: one chunk's FP32 log-prob gradient and its upcast's gradient, then the 16-bit cast
        chunk16 = -(-chunk * compute // 4)
        return LossPhases(logits + fp32 + chunk, fp32 + scalars, fp32 + 2 * chunk + chunk16 + scalars, chunk16)
    if loss.kind is LossKind.fused:
        grads = split(loss.fused_gradients)
        return LossPhases(grads + chunk, grads + scalars, grads + scalars, 0)
    upcast = fp32 if compute != 4 else 0
    return LossPhases(logits + upcast + fp32, fp32 + scalars, 3 * fp32 + scalars, logits)
