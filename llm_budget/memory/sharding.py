"""How model states are split over GPUs: the one formula for ZeRO / FSDP sharding.

Formula: bytes on one GPU = ⌈⌈total / mp⌉ / dp⌉ when the ZeRO stage ≥ the state's level, else ⌈total / mp⌉
         (mp = the model-parallel ranks that already split the tensor: tensor × pipeline parallel)
Levels:  1 optimizer states and FP32 master weights (ZeRO-1), 2 gradients (ZeRO-2), 3 weights (ZeRO-3 / FSDP full shard)
Source:  Rajbhandari et al. 2020 (ZeRO) §5.1-5.3, Figure 1; Zhao et al. 2023 (PyTorch FSDP) §3.
"""

from __future__ import annotations

OPTIMIZER_STATES, GRADIENTS, WEIGHTS = 1, 2, 3
"""The ZeRO stage from which each kind of model state is sharded over the data-parallel group."""


def sharded_bytes(total: int, *, level: int, zero: int, dp: int, model_parallel: int = 1) -> int:
    """Bytes of one model state on one GPU: split by the model-parallel ranks, then over `dp` from ZeRO stage `level`."""
    per_rank = -(-total // model_parallel)
    return -(-per_rank // dp) if zero >= level else per_rank
