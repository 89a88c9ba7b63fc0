"""Bytes per parameter of each model state, per training recipe and mixed-precision convention.

RECIPES is the table; `recipe_bytes(setup)` picks the entry of a setup. The convention only
matters for the mixed recipe (the 16 / 18 / 20 bytes-per-parameter confusion, Convention in
llm_budget/choices.py); every other recipe has one entry, keyed with convention None.

Adding a recipe or a convention (CONTRIBUTING):
  1. add its value to Recipe or Convention in llm_budget/choices.py (owned by the CLI's lead);
  2. add one entry here: flow, compute width, weight / gradient / master / extra-gradient bytes,
     optimizer-state width and the description template (placeholders: {weight}, {gradient},
     {master}, {extra_gradient}, {states} (the optimizer's, e.g. "2×4"), {precision}, {recipe});
  3. add a test in tests/test_memory.py that derives its bytes/param from the source you cite
     (as test_mixed_precision_conventions does for ZeRO's 16 and Megatron's 18).

Sources: Micikevicius et al. 2018 §3 (FP32 master weights), Rajbhandari et al. 2020 §3.1 (2 + 2 + 12 = 16
bytes/param with Adam), Megatron-LM (FP32 main gradients: 18), PyTorch autocast (FP32 weights, 16-bit
compute), FSDP2's MixedPrecisionPolicy (Zhao et al. 2023), PEFT's FP32 adapters (Hu et al. 2021).
"""

from __future__ import annotations

from typing import NamedTuple

from llm_budget.choices import Convention, Recipe
from llm_budget.memory.activations import Flow
from llm_budget.memory.setup import TrainSetup


class RecipeBytes(NamedTuple):
    """How one recipe stores and computes a parameter (bytes per value)."""

    flow: Flow  # "autocast": FP32 weights, 16-bit matmuls under torch.autocast; "pure": compute in the stored dtype
    compute: int  # the dtype the forward and backward run in
    weight: int  # the stored weights (LoRA/QLoRA: the frozen base; QLoRA's matrices are quantized on top)
    gradient: int  # the gradients backward makes
    master: int  # an FP32 master copy the optimizer updates (0: none)
    extra_gradient: int  # an FP32 copy of the gradients (0: none)
    state: int  # each optimizer state value
    description: str  # the report's "Model states" line (placeholders: see the module docstring)


RECIPES: dict[tuple[Recipe, Convention | None], RecipeBytes] = {
    # torch.autocast / Hugging Face Trainer: FP32 weights and gradients, a 16-bit copy of each matmul weight per step
    (Recipe.mixed, Convention.autocast): RecipeBytes(
        "autocast",
        2,
        4,
        4,
        0,
        0,
        4,
        "autocast: FP32 weights {weight} + FP32 gradients {gradient} + optimizer {states} (+2 transient 16-bit weight copies); Hugging Face's 18 bytes/param",
    ),
    # FSDP2 MixedPrecisionPolicy: FP32 sharded weights cast to 16 bits as they are gathered
    (Recipe.mixed, Convention.fsdp): RecipeBytes(
        "pure",
        2,
        4,
        4,
        0,
        0,
        4,
        "fsdp: FP32 sharded weights {weight} + FP32 gradients {gradient} + optimizer {states}; 16-bit compute on gathered weights",
    ),
    # Rajbhandari et al. 2020 §3.1: 2 + 2 + (4 + 4 + 4) = 16 bytes/param with Adam
    (Recipe.mixed, Convention.zero): RecipeBytes(
        "pure",
        2,
        2,
        2,
        4,
        0,
        4,
        "zero: 16-bit weights {weight} + gradients {gradient} + FP32 master {master} + optimizer {states} (ZeRO paper's 16 bytes/param with Adam)",
    ),
    # Megatron-LM keeps FP32 main gradients: 2 + 4 + 4 + 8 = 18
    (Recipe.mixed, Convention.megatron): RecipeBytes(
        "pure",
        2,
        2,
        4,
        4,
        0,
        4,
        "megatron: 16-bit weights {weight} + gradients {gradient} + FP32 master {master} + optimizer {states} (Megatron-LM's 18 bytes/param with Adam)",
    ),
    # 16-bit gradients plus an FP32 copy: 2 + 2 + 4 + 4 + 8 = 20
    (Recipe.mixed, Convention.grad_copy): RecipeBytes(
        "pure",
        2,
        2,
        2,
        4,
        4,
        4,
        "grad-copy: 16-bit weights {weight} + gradients {gradient} + FP32 gradient copy {extra_gradient} + FP32 master {master} + optimizer {states} (20 with an FP32 gradient copy bytes/param with Adam)",
    ),
    (Recipe.fp32, None): RecipeBytes(
        "pure", 4, 4, 4, 0, 0, 4, "FP32: weights {weight} + gradients {gradient} + optimizer {states}"
    ),
    # everything in the 16-bit dtype, optimizer states too
    (Recipe.pure, None): RecipeBytes(
        "pure",
        2,
        2,
        2,
        0,
        0,
        2,
        "pure {precision}: weights {weight} + gradients {gradient} + optimizer {states} (states in the weights' dtype)",
    ),
    # the frozen base computes in 16 bits; adapters, their gradients and states are FP32 (PEFT's default).
    # recipe_bytes builds a LoRA/QLoRA setup's entry from its base recipe (adapters.py); these two are its default
    (Recipe.lora, None): RecipeBytes(
        "pure",
        2,
        2,
        4,
        0,
        0,
        4,
        "{recipe}: frozen {precision} base; FP32 adapters 4 + gradients {gradient} + optimizer {states}",
    ),
    (Recipe.qlora, None): RecipeBytes(
        "pure",
        2,
        2,
        4,
        0,
        0,
        4,
        "{recipe}: frozen {precision} base; FP32 adapters 4 + gradients {gradient} + optimizer {states}",
    ),
}


def recipe_bytes(setup: TrainSetup) -> RecipeBytes:
    """The RECIPES entry of a setup (its resolved recipe; the convention for mixed precision); a LoRA/QLoRA
    setup's from its base recipe and adapter precision (adapters.py, adapter_recipe)."""
    recipe = setup.resolved_recipe
    if is_frozen_base(recipe):
        from llm_budget.memory.adapters import adapter_recipe  # adapters.py builds on this table

        return adapter_recipe(setup)
    return RECIPES[(recipe, setup.convention if recipe is Recipe.mixed else None)]


def is_frozen_base(recipe: Recipe) -> bool:
    """LoRA and QLoRA train adapters on a frozen base: the base has no gradients or optimizer states."""
    return recipe in (Recipe.lora, Recipe.qlora)
