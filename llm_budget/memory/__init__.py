"""Where the bytes go: the training step, serving, activations, optimizers and recipes.

The package's public names; other packages import them from here, never from its modules.

Modules, from the user's request to the report:
  setup.py           TrainSetup, InferSetup, Parallel: what the user asks for
  recipes.py         RECIPES: bytes per parameter of each model state, per recipe and convention (a table)
  optimizers.py      OPTIMIZERS: states per parameter and step temporaries, per optimizer (a table)
  quantization.py    quantized weights with their scales
  states.py          model states per part of the model, from the parameter inventory
  activations.py     the tensors each block saves for backward
  rank_activations   what one tensor-parallel rank keeps of them
  backward.py        one block's backward, region by region
  step.py            the unsharded training step (cached)
  stage.py           one GPU's share of it: pipeline stage, sharded states, held activations
  timeline.py        the step as named phases; its peak (StepPeak)
  training.py        training_memory / training_peak
  explain.py         formulas, sources and assumptions of a training report
  inference.py       inference_memory (weights, KV cache from kv.py, workspace from prefill.py)
  prefill.py         prefill_workspace: what one block or the head holds at once in a prefill
  rule_of_thumb.py   the lecture's bytes-per-parameter table
  report.py          MemoryReport, MemoryLine, Phase, TrainSettings, InferSettings
  allocator.py       the CUDA caching allocator's 512-byte rounding
  kv.py, sharding.py the one KV-cache formula and the one ZeRO formula
"""

from llm_budget.choices import (
    Checkpointing,
    Convention,
    LoraTargets,
    Optimizer,
    OptimizerImpl,
    Recipe,
)
from llm_budget.memory.activations import (
    AttentionKind,
    Device,
    Flow,
    Saved,
    Step,
    head_saved,
    layer_saved,
)
from llm_budget.memory.allocator import CUDA_ROUND
from llm_budget.memory.card import host_memory, training_report, with_card
from llm_budget.memory.inference import inference_memory, serving_need
from llm_budget.memory.kv import kv_bytes, kv_cache_bytes, tokens_held
from llm_budget.memory.optimizers import OPTIMIZERS, OptimizerSpec
from llm_budget.memory.prefill import prefill_workspace
from llm_budget.memory.quantization import quantized_weight_bytes
from llm_budget.memory.recipes import RECIPES, RecipeBytes, recipe_bytes
from llm_budget.memory.report import (
    CardMemory,
    HostMemory,
    InferSettings,
    LayoutSummary,
    MemoryLine,
    MemoryReport,
    NoSettings,
    Phase,
    TrainSettings,
)
from llm_budget.memory.rule_of_thumb import LECTURE_BYTES, rule_of_thumb
from llm_budget.memory.setup import InferSetup, Parallel, TrainSetup, check_layout
from llm_budget.memory.sharding import (
    GRADIENTS,
    OPTIMIZER_STATES,
    WEIGHTS,
    sharded_bytes,
)
from llm_budget.memory.step import unsharded_step
from llm_budget.memory.timeline import StepPeak
from llm_budget.memory.training import (
    training_memory,
    training_peak,
    training_step_peak,
)
from llm_budget.memory.usable import DEFAULT_CUDA_CONTEXT, DEFAULT_FRAGMENTATION, Usable, usable_memory

__all__ = [
    "CardMemory",
    "HostMemory",
    "LayoutSummary",
    "check_layout",
    "host_memory",
    "training_report",
    "with_card",
    "CUDA_ROUND",
    "DEFAULT_CUDA_CONTEXT",
    "DEFAULT_FRAGMENTATION",
    "Usable",
    "usable_memory",
    "serving_need",
    "GRADIENTS",
    "LECTURE_BYTES",
    "OPTIMIZERS",
    "OPTIMIZER_STATES",
    "RECIPES",
    "WEIGHTS",
    "AttentionKind",
    "Checkpointing",
    "Convention",
    "Device",
    "Flow",
    "InferSettings",
    "InferSetup",
    "LoraTargets",
    "MemoryLine",
    "MemoryReport",
    "NoSettings",
    "Optimizer",
    "OptimizerImpl",
    "OptimizerSpec",
    "Parallel",
    "Phase",
    "Recipe",
    "RecipeBytes",
    "Saved",
    "Step",
    "StepPeak",
    "TrainSettings",
    "TrainSetup",
    "head_saved",
    "inference_memory",
    "kv_bytes",
    "kv_cache_bytes",
    "layer_saved",
    "prefill_workspace",
    "quantized_weight_bytes",
    "recipe_bytes",
    "rule_of_thumb",
    "sharded_bytes",
    "tokens_held",
    "training_memory",
    "training_peak",
    "training_step_peak",
    "unsharded_step",
]
