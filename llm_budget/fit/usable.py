"""Usable memory per GPU (llm_budget.memory.usable: one home, shared with compute's single-GPU verdict)."""

from llm_budget.memory.usable import DEFAULT_CUDA_CONTEXT, DEFAULT_FRAGMENTATION, Usable, usable_memory

__all__ = ["DEFAULT_CUDA_CONTEXT", "DEFAULT_FRAGMENTATION", "Usable", "usable_memory"]
