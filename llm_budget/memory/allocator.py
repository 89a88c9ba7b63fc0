"""Bytes as the CUDA caching allocator hands them out: every block rounded up to 512 bytes.

Source: PyTorch c10/cuda/CUDACachingAllocator.cpp (kMinBlockSize = 512). On the CPU (the probe's fake
path) sizes are exact.
"""

from __future__ import annotations

from llm_budget.model.inventory import ParamTensor

CUDA_ROUND = (
    512  # the CUDA caching allocator rounds every block up to 512 bytes (CUDACachingAllocator.cpp kMinBlockSize)
)


def rounded(n_bytes: int, device: str) -> int:
    """One allocation of n_bytes as the device's allocator sizes it."""
    if device != "cuda" or n_bytes == 0:
        return n_bytes
    return -(-n_bytes // CUDA_ROUND) * CUDA_ROUND


def tensor_bytes(tensors: list[ParamTensor], width: float, device: str) -> int:
    """Bytes of one value of `width` bytes per parameter for every tensor (allocator-rounded)."""
    return sum(rounded(int(t.numel * width), device) * t.copies for t in tensors)
