"""Which catalog GPUs a printed total capacity can be (the matching rule is in llm_budget/oom/thresholds.py)."""

from __future__ import annotations

from llm_budget.oom.report import Figure, GpuCandidate
from llm_budget.oom.thresholds import DRIVER_MARGIN


def gpu_candidates(total: Figure) -> list[GpuCandidate]:
    """Catalog GPUs whose memory is 0 to 1 GiB above the printed total (exact matches first)."""
    from llm_budget.hardware import gpu_catalog

    out = []
    for gpu in gpu_catalog().values():
        mem = getattr(gpu, "device_memory_bytes", gpu.memory_bytes)
        below = mem - total.bytes
        if -total.tolerance_bytes <= below <= DRIVER_MARGIN + total.tolerance_bytes:
            out.append(
                GpuCandidate(
                    name=gpu.name,
                    display_name=gpu.display_name,
                    memory_bytes=mem,
                    below_catalog_bytes=below,
                    exact=abs(below) <= total.tolerance_bytes,
                )
            )
    return sorted(out, key=lambda c: (not c.exact, abs(c.below_catalog_bytes), c.name))
