"""What each optimizer keeps per parameter (its states) and what its step allocates on top (temporaries).

OPTIMIZERS is the table: per optimizer, the state bytes of one tensor (a rule of its shape and the
recipe's state width), whether torch keeps a `step` scalar per tensor, the step temporaries of each
PyTorch implementation (foreach / for-loop / fused), the formula the report prints and its source key
(llm_budget/refs.py).

Adding an optimizer (CONTRIBUTING):
  1. add its value to Optimizer in llm_budget/choices.py (owned by the CLI's lead);
  2. add one entry to OPTIMIZERS: `state_bytes` (reuse `moments(k)` for k full-size states, or write a
     rule of one tensor, as `_adafactor_states`), `states_per_param` (k, or None when the rule is not
     k full-size states), `step_counter`, `temporaries` (ADAM_LIKE unless it updates in place: IN_PLACE),
     the formula text ({w} = state width in bytes) and the source key (add it to llm_budget/refs.py);
     an optimizer with its own kernels (bitsandbytes) takes the temporaries of those kernels (BNB_KERNELS);
  3. add a test in tests/test_memory.py that computes the states of a small model from the paper's
     description (as test_optimizers does for Adafactor and 8-bit AdamW).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from llm_budget.choices import Optimizer, OptimizerImpl
from llm_budget.memory.allocator import rounded, tensor_bytes
from llm_budget.model.inventory import ParamTensor

StateRule = Callable[[ParamTensor, int, str], int]
"""Optimizer-state bytes of one copy of a tensor, given the state width (bytes per value) and the device."""

TemporaryRule = Callable[[list[ParamTensor], int, str], int]
"""Bytes an optimizer step allocates on top of the states, given the trainable tensors, width and device."""


def moments(k: int) -> StateRule:
    """k full-size states per parameter (Adam: 2 moments; SGD with momentum, Lion: 1)."""
    return lambda t, width, device: k * rounded(int(t.numel * width), device)


def _adamw8bit_states(t: ParamTensor, width: int, device: str) -> int:
    """Two 1-byte moments plus an FP32 absmax per 2048-value block, for tensors of 4096+ values; smaller
    tensors keep FP32 moments (Dettmers et al. 2022; bitsandbytes' min_8bit_size)."""
    if t.numel >= 4096:
        return 2 * rounded(t.numel + 4 * -(-t.numel // 2048), device)
    return 2 * rounded(t.numel * 4, device)


def _adafactor_states(t: ParamTensor, width: int, device: str) -> int:
    """A row and a column accumulator per matrix, a full one per vector (Shazeer & Stern 2018)."""
    if len(t.shape) == 2:
        return rounded(t.shape[0] * width, device) + rounded(t.shape[1] * width, device)
    return rounded(t.numel * width, device)


def _no_temporaries(trainable: list[ParamTensor], width: int, device: str) -> int:
    return 0


def _copy_of_every_parameter(trainable: list[ParamTensor], width: int, device: str) -> int:
    return tensor_bytes(trainable, width, device)


def _two_copies_of_the_largest(trainable: list[ParamTensor], width: int, device: str) -> int:
    largest = max((t.numel for t in trainable), default=0)
    return 2 * rounded(largest * width, device)


ADAM_LIKE: dict[OptimizerImpl, TemporaryRule] = {
    OptimizerImpl.foreach: _copy_of_every_parameter,  # _foreach_ ops: one copy of every parameter (the denominators)
    OptimizerImpl.loop: _two_copies_of_the_largest,  # one parameter at a time
    OptimizerImpl.fused: _no_temporaries,  # one fused kernel
}
"""Step temporaries measured on PyTorch 2.13 for AdamW; optimizers without a measurement are taken as AdamW."""

IN_PLACE: dict[OptimizerImpl, TemporaryRule] = {impl: _no_temporaries for impl in OptimizerImpl}
"""SGD (with or without momentum) updates in place."""

BNB_KERNELS: dict[OptimizerImpl, TemporaryRule] = {impl: _no_temporaries for impl in OptimizerImpl}
"""bitsandbytes' 8-bit optimizers bring their own kernels whatever PyTorch implementation is asked for: `step`
walks the parameters one tensor at a time and `Optimizer2State.update_step` calls one in-place CUDA kernel per
tensor (`F.optimizer_update_8bit_blockwise`, or `F.optimizer_update_32bit` for tensors below min_8bit_size
= 4096 values) that reads the gradient and updates the weight, both 8-bit states and their block absmax where
they are: no foreach copy, no per-tensor temporary (bitsandbytes-foundation/bitsandbytes:
bitsandbytes/optim/optimizer.py, Optimizer8bit.step and Optimizer2State.update_step; bitsandbytes/functional.py,
optimizer_update_8bit_blockwise, "an in-place optimizer update")."""


class OptimizerSpec(NamedTuple):
    state_bytes: StateRule
    states_per_param: int | None  # full-size states per parameter, for the "Model states" line (None: the name)
    step_counter: bool  # torch keeps a float32 `step` scalar per tensor (on the CPU unless fused/capturable)
    temporaries: dict[OptimizerImpl, TemporaryRule]
    formula: str  # {w}: bytes per state value
    source: str  # a key of llm_budget/refs.py


OPTIMIZERS: dict[Optimizer, OptimizerSpec] = {
    Optimizer.adamw: OptimizerSpec(
        moments(2), 2, True, ADAM_LIKE, "N × 2 × {w} (first and second moments)", "loshchilov2019"
    ),
    Optimizer.adam: OptimizerSpec(
        moments(2), 2, True, ADAM_LIKE, "N × 2 × {w} (first and second moments)", "kingma2015"
    ),
    Optimizer.adamw8bit: OptimizerSpec(
        _adamw8bit_states,
        None,
        False,
        BNB_KERNELS,
        "N × (2 × 1 + 8/2048) for tensors ≥ 4096 values (block-wise 8-bit), else N × 8",
        "dettmers2022b",
    ),
    Optimizer.sgd: OptimizerSpec(moments(0), 0, False, IN_PLACE, "none", "kingma2015"),
    Optimizer.sgd_momentum: OptimizerSpec(moments(1), 1, False, IN_PLACE, "N × {w} (momentum buffer)", "kingma2015"),
    Optimizer.adafactor: OptimizerSpec(
        _adafactor_states,
        None,
        True,
        ADAM_LIKE,
        "Σ (rows + columns) × {w} per matrix, full size per vector",
        "shazeer2018",
    ),
    Optimizer.lion: OptimizerSpec(moments(1), 1, False, ADAM_LIKE, "N × {w} (one momentum)", "chen2023"),
}


def optimizer_state_bytes(trainable: list[ParamTensor], optimizer: Optimizer, width: int, device: str) -> int:
    """Optimizer states of the trainable tensors (every copy), allocator-rounded."""
    rule = OPTIMIZERS[optimizer].state_bytes
    return sum(t.copies * rule(t, width, device) for t in trainable)


def step_counter_bytes(trainable: list[ParamTensor], optimizer: Optimizer, device: str) -> int:
    """torch's per-tensor float32 `step` scalars: on the CPU only (a CUDA step keeps them off the GPU)."""
    if not OPTIMIZERS[optimizer].step_counter or device != "cpu":
        return 0
    return 4 * sum(t.copies for t in trainable)


def step_temporaries(
    trainable: list[ParamTensor], optimizer: Optimizer, impl: OptimizerImpl, width: int, device: str
) -> int:
    """Bytes the optimizer step allocates above the states (PyTorch 2.13, see ADAM_LIKE / IN_PLACE)."""
    return OPTIMIZERS[optimizer].temporaries[impl](trainable, width, device)


def states_text(optimizer: Optimizer, width: int) -> str:
    """'2×4' for AdamW at FP32 states; the optimizer's name when its states are not k full-size copies."""
    k = OPTIMIZERS[optimizer].states_per_param
    return f"{k}×{width}" if k is not None else optimizer.value
