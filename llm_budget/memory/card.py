"""What a training or serving report adds beside the allocated peak: the layout spelled out, the host RAM
an offloaded layout needs, and what the user will see on the card (the allocator's reserved memory and
nvidia-smi's figure), each an estimate with its assumption.

training_report(spec, setup, ...) -> MemoryReport is what `llm-budget memory --mode train` prints.
Sources: PyTorch c10/cuda/CUDACachingAllocator.cpp (segments, allocator.py); PyTorch's CUDA semantics
notes (nvidia-smi shows reserved memory plus the CUDA context); usable.py (the context's size).
"""

from __future__ import annotations

from llm_budget.memory.allocator import reserved_for, rounded
from llm_budget.memory.optimizers import OPTIMIZERS
from llm_budget.memory.report import CardMemory, Component, HostMemory, InferSettings, LayoutSummary, MemoryReport
from llm_budget.memory.setup import Parallel, TrainSetup
from llm_budget.memory.step import UnshardedStep, unsharded_setup, unsharded_step
from llm_budget.memory.timeline import StepPeak, step_peak
from llm_budget.memory.training import training_memory
from llm_budget.memory.usable import CONTEXT_SEEN_BY_NVIDIA_SMI
from llm_budget.model.inventory import parameter_tensors
from llm_budget.model.spec import ModelSpec
from llm_budget.units import MiB

RESERVED_ASSUMPTION = (
    "Reserved (torch.cuda.max_memory_reserved): every tensor live at the peak in the caching allocator's "
    "segments (≤1 MiB packed in 2 MiB segments, 1-10 MiB in 20 MiB segments, larger ones in a segment of their "
    "own rounded up to 2 MiB; CUDACachingAllocator.cpp), a rank's share spread evenly over a state's tensors. "
    "No fragmentation is assumed: blocks freed earlier in the step are taken to be reused exactly, so a real run "
    "reserves this or more (expandable_segments:True comes closest)."
)
NVIDIA_SMI_ASSUMPTION = (
    f"nvidia-smi: reserved memory plus a {CONTEXT_SEEN_BY_NVIDIA_SMI // MiB} MiB CUDA context with lazy module "
    "loading (unslothai/unsloth-zoo#1053; ~400 MB in pytorch/pytorch#109888; 274-636 MiB seen, #86509); NCCL "
    "buffers, other libraries and other processes come on top."
)


def _pattern(live: int, sizes: list[int]) -> list[tuple[int, int]]:
    """`live` bytes as (bytes, count) allocations: whole repeats of a pattern of tensor sizes (activations: one
    repeat per block held) and the rest as one allocation; or, when less than one repeat is live (a sharded
    state), every tensor of the pattern at the same share."""
    sizes = [rounded(s, "cuda") for s in sizes if s > 0]
    total = sum(sizes)
    if live <= 0:
        return []
    if total <= 0:
        return [(live, 1)]
    repeats = live // total
    if repeats == 0:
        return [(s * live // total, 1) for s in sizes]
    rest = live - repeats * total
    return [(s, repeats) for s in sizes] + ([(rest, 1)] if rest else [])


def _training_allocations(step: UnshardedStep, peak: StepPeak) -> list[tuple[int, int]]:
    """(bytes, count) of the allocations live at the peak, category by category."""
    storage, live = step.storage, peak.live
    weights = [t.numel * storage.weight for t in parameter_tensors(step.spec) for _ in range(t.copies)]
    trainable = [t.numel for t in step.trainable for _ in range(t.copies)]
    k = OPTIMIZERS[step.setup.optimizer].states_per_param or 1
    linear = [t.numel * 2 for t in parameter_tensors(step.spec) if t.kind == "linear" for _ in range(t.copies)]
    saved = [x.bytes for x in step.per_block]
    patterns = {
        Component.weights: weights,
        Component.masters: [n * 4 for n in trainable],
        Component.adapters: [n * 4 for n in trainable],
        Component.gradients: [n * (storage.gradient + storage.extra_gradient) for n in trainable],
        Component.buckets: [25 * 2**20],  # bucket_cap_mb = 25
        Component.optimizer: [n * storage.state for n in trainable for _ in range(k)],
        Component.copies: linear,
        Component.activations: saved,
        Component.loss: [step.loss.logits_fp32],
        Component.inputs: [step.tokens * 8, step.tokens * 8],
    }
    out: list[tuple[int, int]] = []
    for category, n_bytes in live.items():
        out += _pattern(n_bytes, patterns.get(category, []))  # temporaries: one allocation
    return out


def card_memory(allocated: int, allocations: list[tuple[int, int]]) -> CardMemory:
    """Reserved memory for the live allocations (never below the allocated peak) and nvidia-smi's figure."""
    reserved = max(reserved_for(allocations), allocated)
    return CardMemory(
        allocated_bytes=allocated,
        reserved_bytes=reserved,
        reserved_assumption=RESERVED_ASSUMPTION,
        cuda_context_bytes=CONTEXT_SEEN_BY_NVIDIA_SMI,
        nvidia_smi_bytes=reserved + CONTEXT_SEEN_BY_NVIDIA_SMI,
        nvidia_smi_assumption=NVIDIA_SMI_ASSUMPTION,
    )


def layout_summary(parallel: Parallel, peak: StepPeak) -> LayoutSummary:
    stage = peak.phase.split(" pipeline stage:")[0] if parallel.pp > 1 else ""
    return LayoutSummary(
        gpus=parallel.gpus,
        dp=parallel.dp,
        tp=parallel.tp,
        pp=parallel.pp,
        zero=parallel.zero,
        sharding=parallel.sharding_label,
        shard_group=parallel.shards,
        sequence_parallel=parallel.sp,
        micro_batches=min(parallel.pp, parallel.micro_batches or parallel.pp),
        offload=parallel.offload,
        optimizer_in_backward=parallel.optimizer_in_backward,
        peak_rank=f"the {stage} pipeline stage" if stage else "every rank alike",
    )


def host_memory(per_gpu: int, parallel: Parallel, gpus_per_node: int, host_ram: int | None) -> HostMemory:
    """Host RAM per node: each rank on it keeps its offloaded share (the peak rank's, for every rank)."""
    ranks = max(1, min(parallel.gpus, gpus_per_node))
    per_node = per_gpu * ranks
    return HostMemory(
        per_gpu_bytes=per_gpu,
        ranks_per_node=ranks,
        per_node_bytes=per_node,
        available_bytes=host_ram,
        fits=None if host_ram is None else per_node <= host_ram,
        formula=f"offloaded share of one rank × {ranks} ranks per node (pinned host memory, Ren et al. 2021 §4.1)",
    )


def training_report(
    spec: ModelSpec, setup: TrainSetup, *, gpus_per_node: int = 8, host_ram: int | None = None
) -> MemoryReport:
    """training_memory's report with the layout, the host RAM an offload needs, and (CUDA) the card's view."""
    report = training_memory(spec, setup)
    step = unsharded_step(spec, unsharded_setup(setup))
    peak = step_peak(step, setup.parallel)
    extra: dict[str, object] = {"layout": layout_summary(setup.parallel, peak)}
    if setup.parallel.offload != "none":
        extra["host"] = host_memory(peak.host_bytes, setup.parallel, gpus_per_node, host_ram)
    if setup.device == "cuda":
        extra["card"] = card_memory(report.total_bytes, _training_allocations(step, peak))
    return MemoryReport.model_validate({**dict(report), **extra})


def inference_card(report: MemoryReport) -> CardMemory:
    """Serving: each component taken as one allocation (the weights' and the KV cache's tensors are many:
    their 2 MiB rounding, at most 2 MiB a tensor, is then a lower bound)."""
    return card_memory(report.total_bytes, [(c.bytes, 1) for c in report.components])


def with_card(report: MemoryReport) -> MemoryReport:
    """A serving report with the card's view added (CUDA only)."""
    if not isinstance(report.settings, InferSettings) or report.settings.device != "cuda":
        return report
    return MemoryReport.model_validate({**dict(report), "card": inference_card(report)})
