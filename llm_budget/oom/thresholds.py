"""The thresholds the diagnosis and the GPU match use, each with its reason.

- ``fragmentation`` when reserved-but-unallocated ≥ the request AND ≥ 10% of total capacity.
  At OOM time that memory can only sit in segments that are partly in use (the allocator has
  already freed all others), so when it is at least the request's size the bytes exist but
  not as one block: that is fragmentation. The 10% floor separates it from the allocator's
  normal slack (sizes rounded to 512 B and 2 MiB, 1-10 MiB requests carved from 20 MiB
  blocks): a few percent of slack is normal and reclaiming it would buy one allocation, not
  room to train. The lecture's message (0.24 GiB slack, 1.5% of 15.78 GiB) is therefore not
  fragmentation but a full card.
- ``other-processes`` when memory held by other processes is ≥ 10% of capacity and freeing it
  would cover the shortfall (request − free). Without a per-process figure (legacy form, or
  no NVML) other processes hold at least total − free − reserved − 2 GiB, 2 GiB being the top
  of the CUDA context plus library range (274-636 MiB measured for the context alone, pytorch/pytorch#86509; "around 400MB", #109888; cuBLAS
  and NCCL workspaces on top).
- ``exceeds-card`` when the request alone is larger than the card; ``memory-fraction`` when
  reserved + request passes the ``allowed`` cap; ``free-covers-request`` when the free figure
  beats the request by max(64 MiB, 1% of capacity) (the shortage was not one of capacity; a
  smaller margin is not conclusive, since the driver keeps headroom and maps 2 MiB pages);
  ``full`` otherwise.
- When fragmentation and other processes both apply, the larger amount wins.

GPU candidates: a catalog GPU matches when its memory (as ``nvidia-smi`` reports it) is at most
1 GiB above the printed total capacity and not below it beyond rounding. ``cudaMemGetInfo``'s
total sits below ``nvidia-smi``'s figure by what the driver keeps: 0.54 GiB on an H100 80GB
(79.11 GiB printed, vllm-project/vllm#27508, vs 81559 MiB), 0.25 GiB on a Colab T4 (14.75 GiB,
hpcaitech/Open-Sora#697, vs 15360 MiB), 0.75-0.85 GiB on A100 80GB (79.15-79.25 GiB vs 81920 MiB).
"""

from __future__ import annotations

from decimal import Decimal

from llm_budget.units import GiB, MiB

FRAGMENTATION_SHARE = Decimal("0.10")  # of total capacity
OTHER_PROCESSES_SHARE = Decimal("0.10")  # of total capacity
CONTEXT_ALLOWANCE = 2 * GiB  # top of the CUDA context + libraries range per process (300 MiB to 2 GiB)
DRIVER_MARGIN = 1 * GiB  # catalog total − printed total, at most (GPU candidates)
LARGE_REQUEST_SHARE = Decimal("0.25")  # one allocation this large a share of the card is worth a look
FREE_MARGIN_SHARE = Decimal("0.01")  # free must beat the request by max(64 MiB, 1% of the card) to rule out a shortage
FREE_MARGIN_MIN = 64 * MiB
MIN_MAX_SPLIT_MB = 21  # PyTorch rejects max_split_size_mb ≤ 20 (kLargeBuffer, 20 MiB)
