"""Usable memory per GPU: what the driver reports, minus the CUDA context, minus a fragmentation margin."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec
from llm_budget.units import MiB

DEFAULT_CUDA_CONTEXT = 1280 * MiB
"""What PyTorch cannot use of the total nvidia-smi reports. Two parts: the driver keeps some memory out of
cudaMemGetInfo's total (out-of-memory messages print 79.15 GiB total capacity on an A100 80GB whose
nvidia-smi total is 80 GiB, 79.11 GiB on an H100 80GB (79.65), 14.75 GiB on a T4 (15.00): 0.25-0.9 GiB;
see tests/test_oom.py's messages), and the CUDA context with its libraries takes 274 MiB (lazy module
loading) to 636 MiB (eager) (pytorch/pytorch#86509; "around 400MB", #109888), cuBLAS and NCCL
workspaces on top. 1.25 GiB covers both on current cards; --cuda-context sets it."""

DEFAULT_FRAGMENTATION = 0.05
"""Share of the remaining memory kept back for the caching allocator's fragmentation (reserved but not
allocated: blocks rounded to 2 MiB/20 MiB segments, split blocks that cannot be reused;
PyTorch CUDA semantics notes). Set --fragmentation 0 with expandable_segments:True."""


class Usable(BaseModel):
    model_config = ConfigDict(frozen=True)

    total_bytes: int  # as the driver reports it
    cuda_context_bytes: int
    fragmentation_bytes: int
    usable_bytes: int


def usable_memory(
    gpu: GpuSpec, *, cuda_context: int = DEFAULT_CUDA_CONTEXT, fragmentation: float = DEFAULT_FRAGMENTATION
) -> Usable:
    """Driver-visible memory of one device, minus the CUDA context, minus the fragmentation margin."""
    if not 0 <= fragmentation < 1:
        raise LLMBudgetError(f"--fragmentation must be in [0, 1), got {fragmentation}")
    if cuda_context < 0:
        raise LLMBudgetError(f"--cuda-context must be ≥ 0, got {cuda_context}")
    total = gpu.device_memory_bytes
    after_ctx = max(total - cuda_context, 0)
    frag = int(after_ctx * fragmentation)
    if after_ctx - frag <= 0:
        raise LLMBudgetError(
            f"nothing usable on {gpu.display_name}: {total:,} bytes minus a {cuda_context:,}-byte CUDA context"
            f" and {fragmentation:.0%} fragmentation leave {max(after_ctx - frag, 0)} bytes (lower --cuda-context"
            " or --fragmentation)"
        )
    return Usable(
        total_bytes=total, cuda_context_bytes=cuda_context, fragmentation_bytes=frag, usable_bytes=after_ctx - frag
    )


CONTEXT_SEEN_BY_NVIDIA_SMI = 426 * MiB
"""The CUDA context nvidia-smi shows for a PyTorch process beside its reserved memory, with lazy module
loading (PyTorch's default since 1.13, pytorch/pytorch#86509): 426 MiB measured after torch.cuda.mem_get_info
with PyTorch 2.10 + CUDA 13.0 (unslothai/unsloth-zoo#1053); "around 400MB if CUDA >= 11.7 is used and lazy
module loading enabled" (pytorch/pytorch#109888). Seen from 274 MiB (#86509, CUDA 11.7) to 636 MiB (eager
loading); NCCL's buffers and other libraries come on top. Unlike DEFAULT_CUDA_CONTEXT it excludes the
memory the driver keeps out of nvidia-smi's total."""
