"""The loss as frameworks compute it (memory/loss.py): each way's buffers written out from the cited code."""

from __future__ import annotations

import pytest

from llm_budget.choices import LossKind
from llm_budget.memory import TrainSetup, training_memory
from llm_budget.memory.loss import loss_buffers, loss_phases
from llm_budget.memory.saved import Step
from llm_budget.model.spec import ModelSpec

SPEC = ModelSpec(d_embed=4096, n_heads=32, n_layers=2, n_vocab=32000, d_mlp=11008, mlp="gated")
b, s, V, d = 2, 1024, 32000, 4096
t = b * s
ST = Step(b=b, s=s, flow="pure", c=2, device="cpu")


def phases(kind, trainable=False):
    return loss_phases(loss_buffers(SPEC, ST, kind, head_trainable=trainable, head_width=2), 1, 2)


def test_full_is_transformers_fp32_upcast():
    p = phases(LossKind.full)
    assert p.forward_peak == t * V * 2 + 2 * t * V * 4  # 16-bit logits, .float(), log_softmax
    assert p.backward_peak == 3 * t * V * 4 + 8


def test_litgpt_chunked():
    """litgpt: 16-bit logits list (kept by fit()) + 16-bit log-probabilities; one 128-token chunk's gradients."""
    p = phases(LossKind.chunked)
    assert p.held == 2 * t * V * 2 + 8
    assert p.backward_peak == 2 * t * V * 2 + 2 * b * 128 * V * 2
    assert p.logits_gradient == b * 128 * V * 2


def test_torchtune_chunked_fp32():
    """torchtune: FP32 log-probabilities of 8 chunks held; the 16-bit logits deleted after the loss."""
    p = phases(LossKind.chunked_fp32)
    assert p.held == t * V * 4 + 8
    assert p.forward_peak == t * V * 2 + t * V * 4 + b * (s // 8) * V * 4


@pytest.mark.parametrize("trainable", [False, True])
def test_liger_fused(trainable):
    """Liger: chunk_size = next_power_of_2(cdiv(BT, cdiv(V, H))) = next_pow2(2048 / 8) = 256 rows of logits;
    grad_input (BT × H × 2), grad_weight (V × H × 2) when the head trains, loss_1d (BT × 4) made in forward."""
    p = phases(LossKind.fused, trainable)
    grads = t * d * 2 + (V * d * 2 if trainable else 0) + t * 4
    assert p.forward_peak == grads + 256 * V * 2
    assert p.logits_gradient == 0


def test_fused_and_chunked_lower_the_peak_of_a_long_sequence():
    setup = dict(precision="bf16", lora_rank=8, batch=4, seq=2048, device="cpu")
    full = training_memory(SPEC, TrainSetup(**setup)).total_bytes
    chunked = training_memory(SPEC, TrainSetup(**setup, loss="chunked")).total_bytes
    fused = training_memory(SPEC, TrainSetup(**setup, loss="fused")).total_bytes
    assert fused < chunked < full
