"""Model states of one training step, per part of the model: weights, gradients, FP32 master weights,
optimizer states (and LoRA adapters), from the parameter inventory (llm_budget/model/inventory.py).

Each state is split into a block's share and the two ends of the model (Parts), because pipeline
stages hold different ends and ZeRO / tensor parallelism split each part (memory/sharding.py).
Source: Rajbhandari et al. 2020 §3.1 (model states), the recipe table (recipes.py) and the optimizer
table (optimizers.py) for the bytes per parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from llm_budget.choices import OptimizerImpl, Recipe
from llm_budget.memory.adapters import adapter_tensors as adapter_tensors  # re-exported: its home moved
from llm_budget.memory.allocator import rounded, tensor_bytes
from llm_budget.memory.optimizers import (
    optimizer_state_bytes,
    step_counter_bytes,
    step_temporaries,
)
from llm_budget.memory.quantization import is_quantized_matrix, quantized_weight_bytes
from llm_budget.memory.recipes import RecipeBytes, is_frozen_base
from llm_budget.memory.setup import TrainSetup
from llm_budget.model.inventory import (
    ParamTensor,
    buffer_bytes,
    tensor_count,
)
from llm_budget.model.spec import ModelSpec

EMBEDDING_SIDE = {"embedding", "position", "embed_norm"}
"""Tensors outside the blocks that the first pipeline stage holds; the others (final norm, unembedding) are the head's."""


class Parts(NamedTuple):
    """Bytes of one model state in each part of the model."""

    block: int  # one block (the blocks' total / n_layers)
    embedding: int  # token and position embeddings (and their norm): the first pipeline stage
    head: int  # final norm and unembedding (and the rotary buffers): the last pipeline stage

    def on_stage(self, blocks: int, *, has_embedding: bool, has_head: bool) -> int:
        """The bytes of a pipeline stage with `blocks` blocks and the ends it holds."""
        return self.block * blocks + (self.embedding if has_embedding else 0) + (self.head if has_head else 0)

    def plus(self, other: Parts) -> Parts:
        return Parts(self.block + other.block, self.embedding + other.embedding, self.head + other.head)


def split_parts(tensors: list[ParamTensor], bytes_of: Callable[[list[ParamTensor]], int], n_layers: int) -> Parts:
    """Apply `bytes_of` to the blocks' tensors (divided by n_layers), the embedding side and the head side."""
    return Parts(
        bytes_of([t for t in tensors if t.layer]) // n_layers,
        bytes_of([t for t in tensors if not t.layer and t.name in EMBEDDING_SIDE]),
        bytes_of([t for t in tensors if not t.layer and t.name not in EMBEDDING_SIDE]),
    )


@dataclass(frozen=True)
class ModelStates:
    """Model states of one step before any sharding, per part."""

    weights: Parts
    gradients: Parts  # with the FP32 gradient copy of the grad-copy convention
    masters: Parts
    optimizer: Parts
    adapters_per_block: int  # LoRA/QLoRA: FP32 adapters of one block (0 for full training)
    step_counters: int  # torch's float32 `step` scalar per parameter tensor (CPU)
    optimizer_temporaries: int  # what the optimizer step allocates above the states, before sharding


def model_states(
    spec: ModelSpec, setup: TrainSetup, recipe: RecipeBytes, tensors: list[ParamTensor], trainable: list[ParamTensor]
) -> ModelStates:
    """Weights of every tensor; gradients, masters and optimizer states of the trainable ones (the adapters
    under LoRA/QLoRA), per part, allocator-rounded tensor by tensor."""
    device, L = setup.device, spec.n_layers
    frozen = is_frozen_base(setup.resolved_recipe)

    def stored(ts: list[ParamTensor]) -> int:
        if setup.resolved_recipe is Recipe.qlora:  # quantized matrices, the rest at the base recipe's width
            dq = setup.double_quant
            return sum(
                (
                    quantized_weight_bytes(t, setup.precision, double_quant=dq)
                    if is_quantized_matrix(t)
                    else rounded(t.numel * recipe.weight, device)
                )
                * t.copies
                for t in ts
            )
        return tensor_bytes(ts, recipe.weight, device)

    def width(w: int) -> Callable[[list[ParamTensor]], int]:
        return lambda ts: tensor_bytes(ts, w, device)

    weights = split_parts(tensors, stored, L)
    weights = weights._replace(
        head=weights.head + buffer_bytes(spec, setup.implementation)
    )  # rotary tables go with the head
    counters = step_counter_bytes(trainable, setup.optimizer, device)
    if counters and not frozen:  # transformers fuses some tensors: count its tensors, not the inventory's
        counters = 4 * tensor_count(spec, setup.implementation)
    return ModelStates(
        weights=weights,
        gradients=split_parts(trainable, width(recipe.gradient), L).plus(
            split_parts(trainable, width(recipe.extra_gradient), L)
        ),
        masters=split_parts(trainable, width(recipe.master), L),
        optimizer=split_parts(
            trainable, lambda ts: optimizer_state_bytes(ts, setup.optimizer, recipe.state, device), L
        ),
        adapters_per_block=tensor_bytes(trainable, recipe.gradient, device) // L if frozen else 0,
        step_counters=counters,
        optimizer_temporaries=_optimizer_temporaries(spec, setup, recipe, trainable),
    )


def _optimizer_temporaries(
    spec: ModelSpec, setup: TrainSetup, recipe: RecipeBytes, trainable: list[ParamTensor]
) -> int:
    """The optimizer table's step temporaries; transformers stores a MoE layer's experts as one
    [E, 2·d_mlp, d] gate_up tensor, which is then the largest a for-loop step copies."""
    impl = setup.resolved_impl
    temporaries = step_temporaries(trainable, setup.optimizer, impl, recipe.state, setup.device)
    hf_moe = setup.implementation == "hf" and spec.is_moe and not is_frozen_base(setup.resolved_recipe)
    if hf_moe and temporaries and impl is OptimizerImpl.loop:
        fused = spec.n_experts * 2 * spec.d_mlp * spec.d_embed
        temporaries = max(temporaries, 2 * rounded(fused * recipe.state, setup.device))
    return temporaries
