"""What an engine loads and how it sizes its scheduler: the inputs of ServeSetup that come from the model and card."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from llm_budget.hardware import Precision, parse_precision
from llm_budget.units import GiB

if TYPE_CHECKING:
    from llm_budget.checkpoint.weights import CheckpointWeights
    from llm_budget.hardware import GpuSpec
    from llm_budget.model.spec import ModelSpec


def is_large_gpu(card: GpuSpec) -> bool:
    """vLLM's larger scheduler defaults (max_num_seqs 1024, max_num_batched_tokens 8192) apply on cards of at
    least 70 GiB that are not A100s (vllm/engine/arg_utils.py, EngineArgs._set_default_args, v0.10)."""
    return card.device_memory_bytes >= 70 * GiB and "a100" not in card.name.lower()


def loaded_weight_bytes(
    spec: ModelSpec, *, precision: Optional[Precision] = None, checkpoint: Optional[CheckpointWeights] = None
) -> Optional[int]:
    """The weights the engine loads: a checkpoint as stored, or the spec at a quantized precision — both the
    weights row of memory.inference_memory (the one home of weight bytes). None: the spec at the engine's 16-bit
    dtype, which the engine model computes itself."""
    if checkpoint is None and (precision is None or precision in (Precision.bf16, Precision.fp16)):
        return None
    from llm_budget.memory import InferSetup, inference_memory

    if checkpoint is not None and precision is None:
        precision = parse_precision(checkpoint.precision)
    setup = InferSetup(precision=precision or Precision.bf16, checkpoint=checkpoint)
    return inference_memory(spec, setup).components[0].bytes
