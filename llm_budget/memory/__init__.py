"""Where the bytes go: the training step, serving, activations, optimizers and recipes.

The package's public names; other packages import them from here, never from its modules."""

from llm_budget.memory.training import (
    CUDA_ROUND,
    inference_memory,
    InferSetup,
    kv_cache_bytes,
    LECTURE_BYTES,
    MemoryLine,
    MemoryReport,
    Parallel,
    Phase,
    prefill_workspace,
    quantized_weight_bytes,
    rule_of_thumb,
    training_memory,
    training_peak,
    TrainSetup,
)
from llm_budget.memory.activations import (
    AttentionKind,
    Device,
    Flow,
    head_saved,
    layer_saved,
    Saved,
    Step,
)
from llm_budget.memory.sharding import GRADIENTS, OPTIMIZER_STATES, WEIGHTS, sharded_bytes
from llm_budget.choices import Checkpointing, Convention, LoraTargets, Optimizer, OptimizerImpl, Recipe
from llm_budget.memory.kv import kv_bytes, tokens_held

__all__ = [
    "kv_bytes",
    "tokens_held",
    "GRADIENTS",
    "OPTIMIZER_STATES",
    "WEIGHTS",
    "sharded_bytes",
    "AttentionKind",
    "Checkpointing",
    "Convention",
    "CUDA_ROUND",
    "Device",
    "Flow",
    "head_saved",
    "inference_memory",
    "InferSetup",
    "kv_cache_bytes",
    "layer_saved",
    "LECTURE_BYTES",
    "LoraTargets",
    "MemoryLine",
    "MemoryReport",
    "Optimizer",
    "OptimizerImpl",
    "Parallel",
    "Phase",
    "prefill_workspace",
    "quantized_weight_bytes",
    "Recipe",
    "rule_of_thumb",
    "Saved",
    "Step",
    "training_memory",
    "training_peak",
    "TrainSetup",
]
