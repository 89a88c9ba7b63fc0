"""Bytes as the CUDA caching allocator hands them out: every block rounded up to 512 bytes; and the
segments it reserves from the driver to hold them (reserved_for).

Source: PyTorch c10/cuda/CUDACachingAllocator.cpp (kMinBlockSize = 512, kSmallSize, kSmallBuffer,
kLargeBuffer, kMinLargeAlloc, kRoundLarge). On the CPU (the probe's fake path) sizes are exact.
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


# The caching allocator's segments (PyTorch c10/cuda/CUDACachingAllocator.cpp): what cudaMalloc reserves.
SMALL_SIZE = 1 << 20  # kSmallSize: a request of at most 1 MiB is "small"
SMALL_BUFFER = 2 << 20  # kSmallBuffer: small blocks are carved from 2 MiB segments
LARGE_BUFFER = 20 << 20  # kLargeBuffer: requests of 1-10 MiB are carved from 20 MiB segments
MIN_LARGE_ALLOC = 10 << 20  # kMinLargeAlloc: from 10 MiB a request gets a segment of its own ...
ROUND_LARGE = 2 << 20  # kRoundLarge: ... rounded up to 2 MiB


def reserved_for(allocations: list[tuple[int, int]]) -> int:
    """Segments the caching allocator reserves for (bytes, count) allocations live together, when nothing
    else is cached (no fragmentation): small ones packed into 2 MiB segments, 1-10 MiB ones into 20 MiB
    segments, each larger one in its own segment rounded up to 2 MiB (CUDACachingAllocator.cpp's get_allocation_size)."""
    small = medium = large = 0
    for n_bytes, n in allocations:
        size = rounded(n_bytes, "cuda")
        if size == 0 or n <= 0:
            continue
        if size <= SMALL_SIZE:
            small += size * n
        elif size < MIN_LARGE_ALLOC:
            medium += size * n
        else:
            large += -(-size // ROUND_LARGE) * ROUND_LARGE * n
    return large + -(-small // SMALL_BUFFER) * SMALL_BUFFER + -(-medium // LARGE_BUFFER) * LARGE_BUFFER
