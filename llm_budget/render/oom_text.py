"""Words for `llm-budget oom`: the sentences of the verdict, findings and recommendations, written here from
their kinds and numbers, and the JSON that carries those sentences next to the data (`oom_json`).
No rich here: `--json` never loads it (render/oom.py draws the tables)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Optional

from llm_budget.oom import Finding, FindingKind, OomReport, Recommendation, RecommendationKind, VerdictCase, format_size
from llm_budget.render.flags import as_flags
from llm_budget.units import MemoryUnit, format_bytes

BAR_WIDTH = 60
PARTS = [  # (label, style)
    ("allocated", "cyan"),
    ("unallocated cache", "yellow"),
    ("outside PyTorch", "magenta"),
    ("free", "green"),
]
WORDING = {
    "legacy": "legacy message (PyTorch ≤ 2.0)",
    "legacy-cached": "legacy message, older wording ('cached')",
    "current": "current message",
    "current-2.1": "current message, first wording ('capacty'; PyTorch 2.1)",
}
STYLE = {"fragmentation": "bold yellow", "free-covers-request": "bold"}


ROUNDING_NOTE = (
    "Printed figures are rounded to 0.01 of their unit (±0.005 GiB = ±5.12 MiB for a GiB figure); bytes are "
    "the printed value × unit rounded to the nearest byte, and derived figures add their inputs' tolerances."
)


class _Numbers:
    """A result's named numbers, formatted: size (PyTorch's format, as the message prints), gib, share (%)."""

    def __init__(self, numbers: dict[str, int], printed: Optional[str] = None) -> None:
        self.n, self.printed = numbers, printed

    def size(self, key: str) -> str:
        return format_size(self.n[key])

    def gib(self, key: str) -> str:
        return format_bytes(self.n[key], MemoryUnit.gib)

    def pct(self, part: str, whole: str) -> str:
        return f"{100 * self.n[part] / self.n[whole]:.1f}%" if self.n[whole] else "–"


HEADLINES: dict[VerdictCase, Callable[[_Numbers], str]] = {
    "exceeds-card": lambda n: (
        f"Larger than the card: one allocation of {n.size('request')}, on a card of {n.gib('total')}. "
        "No allocator setting helps; the tensor has to shrink or be split."
    ),
    "memory-fraction": lambda n: (
        f"Per-process cap: a limit of {n.size('allowed')} (torch.cuda.set_per_process_memory_fraction) "
        f"stopped it: PyTorch holds {n.size('reserved')} and asked for {n.size('request')} more, "
        f"while the card still had {n.size('free')} free."
    ),
    "free-covers-request": lambda n: (
        f"Not a capacity shortage: the card reported {n.size('free')} free, more than the "
        f"{n.size('request')} requested: this was not a shortage of capacity at the moment the "
        "message was written."
    ),
    "fragmentation": lambda n: (
        f"Fragmentation: {n.size('unallocated')} is reserved by PyTorch but unallocated "
        f"({n.pct('unallocated', 'total')} of the card, more than the {n.size('request')} requested), "
        "yet no single free block was large enough."
    ),
    "other-processes": lambda n: (
        f"Other processes: they hold {n.size('other_processes')} ({n.pct('other_processes', 'total')} "
        f"of the card); without them the {n.size('request')} request would have fit."
    ),
    "other-processes-at-least": lambda n: (
        f"Other processes: at least {n.size('other_processes')} is held outside this process's "
        f"PyTorch and CUDA context ({n.pct('other_processes', 'total')} of the card); "
        f"without them the {n.size('request')} request would have fit."
    ),
    "full-barely-above": lambda n: (
        f"The card is full: {n.size('free')} free is barely above the {n.size('request')} request; "
        "the driver needs some headroom of its own and hands out memory in 2 MiB pages."
    ),
    "full-live-tensors": lambda n: (
        f"The card is full: live tensors take {n.size('allocated')} ({n.pct('allocated', 'total')}) "
        f"of {n.gib('total')}, and the {n.size('request')} request needed {n.size('shortfall')} "
        "more than was free."
    ),
    "full-short": lambda n: (
        f"The card is full: {n.size('free')} free of {n.gib('total')}, {n.size('shortfall')} short of the "
        f"{n.size('request')} request."
    ),
}


def _unmeasured(n: _Numbers) -> str:
    who = f"process {n.n['pid']}" if "pid" in n.n else "this process"
    return f"NVML could not measure {who} (it printed {n.printed}, more than the card): that figure is ignored."


def _outside_unsplit(n: _Numbers) -> str:
    others = (
        f", and at least {n.size('other_processes_min')} in other processes."
        if n.n["other_processes_min"] > 0
        else "; no sign of other processes."
    )
    return (
        f"Outside PyTorch's cache: {n.size('non_pytorch')} (total − free − reserved): the CUDA context "
        "(300 MiB to 2 GiB per process) and library workspaces" + others
    )


FINDINGS: dict[FindingKind, Callable[[_Numbers], str]] = {
    "nvml-unmeasured": _unmeasured,
    "container-pid": lambda n: (
        f"Process {n.n['pid']} ({n.printed}) is taken to be this process: it is the only one holding "
        f"at least PyTorch's reserved {n.gib('reserved')}, and inside a container NVML's PIDs differ "
        "from the process's own."
    ),
    "reserved-exceeds-in-use": lambda n: (
        f"PyTorch reports {n.gib('reserved')} reserved on a card with {n.gib('in_use')} in use: "
        "the figures cannot all be device memory (on Windows the driver can back CUDA "
        "allocations with shared system memory, which is slow), so the outside-PyTorch "
        "figure is left out."
    ),
    "message-cut": lambda n: (
        "The message stops before 'Of the allocated memory …': allocated and reserved are unknown, "
        "so fragmentation cannot be judged."
    ),
    "unallocated-would-cover": lambda n: (
        f"Reserved but unallocated: {n.size('unallocated')} ({n.pct('unallocated', 'reserved')} "
        f"of reserved, {n.pct('unallocated', 'total')} of the card). It would cover this "
        f"request's {n.size('shortfall')} shortfall if it were one block, so expandable_segments "
        f"may get past this allocation, but it is below {n.n['threshold_percent']}% of the "
        "card: not what fills it."
    ),
    "unallocated-too-small": lambda n: (
        f"Reserved but unallocated: {n.size('unallocated')} ({n.pct('unallocated', 'total')} of "
        "the card); even if all of it were usable, free + unallocated = "
        f"{n.size('free_plus_unallocated')} < {n.size('request')}."
    ),
    "fragmentation-pieces": lambda n: (
        f"Free {n.size('free')} + reserved-but-unallocated {n.size('unallocated')} = "
        f"{n.size('free_plus_unallocated')} ≥ {n.size('request')}: the bytes exist, in pieces. "
        "Before raising, PyTorch already released every fully free cached segment; what is left "
        "is free space inside segments that still hold live tensors."
    ),
    "cannot-fit-anyway": lambda n: (
        f"Live tensors + request = {n.size('live_plus_request')} > {n.size('usable')} (total minus "
        "memory outside PyTorch's cache): it cannot fit however the cache is arranged."
    ),
    "large-request": lambda n: (
        f"One allocation of {n.size('request')} is {n.pct('request', 'total')} of the card: look for one "
        "huge tensor (attention scores batch × heads × seq², logits batch × seq × vocab in FP32, a "
        "mis-shaped broadcast)."
    ),
    "outside-split": lambda n: (
        f"Outside PyTorch's cache: {n.size('non_pytorch')} = this process's non-PyTorch memory "
        f"{n.size('this_process_non_pytorch')} (CUDA context, cuBLAS/cuDNN/NCCL workspaces, other "
        f"libraries) + other processes {n.size('other_processes')}."
    ),
    "own-overhead-large": lambda n: (
        f"This process holds {n.size('this_process_non_pytorch')} outside PyTorch's allocator, more "
        "than a CUDA context (300 MiB to 2 GiB) explains: another library allocates with cudaMalloc "
        "directly (NCCL buffers, CuPy, custom CUDA extensions, CUDA Graph pools of another framework)."
    ),
    "outside-unsplit": _outside_unsplit,
    "other-ranks": lambda n: (
        f"{n.n['processes']} other processes hold {n.printed} each: typically other ranks of a distributed "
        "job creating a CUDA context on this GPU; call torch.cuda.set_device(local_rank) before any CUDA work."
    ),
    "private-pools": lambda n: (
        f"{n.size('private_pools')} of the allocated memory is in private pools (CUDA Graphs): captured "
        "graphs keep their memory for replay; capturing fewer batch sizes (or none) frees it."
    ),
    "no-nvml": lambda n: "No per-process figures (NVML was not available to PyTorch, e.g. on Windows or WSL).",
}


def headline(r: OomReport) -> str:
    return HEADLINES[r.verdict.case](_Numbers(r.verdict.numbers))


def finding_text(f: Finding) -> str:
    return FINDINGS[f.kind](_Numbers(f.numbers, f.printed))


def _others_held(n: _Numbers) -> str:
    if "other_processes" in n.n:
        return "Other processes hold " + n.size("other_processes")
    return "At least " + n.size("other_processes_min") + " is held outside this process's PyTorch"


# kind -> (title, what to set or run, why); a None setting is the allocator setting (`alloc_conf`).
RECOMMENDATIONS: dict[RecommendationKind, tuple[str, Optional[str], Callable[[_Numbers], str]]] = {
    "expandable-segments": (
        "Expandable segments",
        None,
        lambda n: (
            f"{n.size('reserved_unallocated')} is cached in partly used segments. With expandable segments the allocator "
            "grows one segment per stream and maps or unmaps 2 MiB / 20 MiB pages, so freed space is reused instead of "
            "left as slivers when tensor sizes change from step to step. Linux only (ignored on Windows)."
        ),
    ),
    "max-split-size": (
        "Stop splitting large blocks",
        None,
        lambda n: (
            f"Blocks of {n.n['max_split_size_mb']} MiB or more are then never split by smaller requests, so blocks the "
            f"size of this {n.size('request')} request stay whole. The documentation calls it a last resort; it is "
            "ignored with backend:cudaMallocAsync; use it or expandable_segments, not both."
        ),
    ),
    "stable-shapes": (
        "Keep tensor shapes stable",
        "pad or bucket sequence lengths and batch sizes to a few fixed sizes",
        lambda n: (
            "Fragmentation comes from sizes that change step to step (a batch of N+1 no longer fits the blocks cut for N)."
        ),
    ),
    "smaller-micro-batch": (
        "Smaller micro-batch, same effective batch",
        (
            "halve the per-GPU batch size and double gradient accumulation (HF Trainer: per_device_train_batch_size, "
            "gradient_accumulation_steps)"
        ),
        lambda n: (
            "Activation memory grows linearly with the micro-batch; weights, gradients and optimizer states do not. "
            "Accumulating gradients over 2 micro-batches keeps the optimizer step unchanged."
        ),
    ),
    "activation-checkpointing": (
        "Activation checkpointing",
        "model.gradient_checkpointing_enable() (transformers) or torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)",
        lambda n: (
            "Keeps only each block's input and recomputes the rest during backward: about one extra forward pass of "
            "compute for most of the activation memory."
        ),
    ),
    "lower-precision": (
        "Lower precision",
        "with torch.autocast('cuda', dtype=torch.bfloat16): … (training); torch_dtype=torch.bfloat16 when loading (inference)",
        lambda n: (
            "BF16 halves activations, and weights when serving, compared with FP32; 8-bit/4-bit weights (bitsandbytes) "
            "go further for inference and QLoRA."
        ),
    ),
    "shard-optimizer-state": (
        "Shard or shrink the optimizer state",
        "FSDP / DeepSpeed ZeRO across GPUs, or bitsandbytes.optim.AdamW8bit on one GPU",
        lambda n: (
            "Adam keeps two FP32 states, 8 bytes per parameter; ZeRO shards them over the GPUs, 8-bit Adam stores them "
            "in 2 bytes."
        ),
    ),
    "inference-mode": (
        "No autograd graph outside training",
        "with torch.inference_mode(): … for evaluation and generation",
        lambda n: "Without it every intermediate of the forward pass is kept for a backward pass that never comes.",
    ),
    "shrink-large-tensor": (
        "Shrink the one large tensor",
        (
            "find the op in the traceback; chunk it, or cut the batch / sequence / resolution it sees; for attention use "
            "torch.nn.functional.scaled_dot_product_attention"
        ),
        lambda n: (
            f"One allocation of {n.size('request')} ({n.pct('request', 'total')} of the card). Flash and memory-efficient "
            "attention never materialise the seq × seq score matrix."
        ),
    ),
    "find-other-processes": (
        "Find what else is on the GPU",
        "nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv",
        lambda n: (
            _others_held(n)
            + "; stop them, or run on an idle GPU with CUDA_VISIBLE_DEVICES=<index> (check the variable "
            "is really set in the job)."
        ),
    ),
    "empty-other-cache": (
        "If the other process is your own PyTorch job",
        "torch.cuda.empty_cache() in it after its peak, or cap it: torch.cuda.set_per_process_memory_fraction(f)",
        lambda n: (
            "A PyTorch process keeps freed memory cached for itself; emptying its cache or capping it leaves room for this one."
        ),
    ),
    "empty-cache-between-phases": (
        "torch.cuda.empty_cache(), between phases only",
        "torch.cuda.empty_cache() after a phase (e.g. evaluation) when another process on this GPU needs the memory",
        lambda n: (
            "It returns cached blocks that are entirely free to the driver, for other processes. It cannot help this "
            "allocation: before raising, PyTorch already released every fully free segment; the reserved-but-unallocated "
            "memory left sits in segments that still hold live tensors."
        ),
    ),
    "tensor-parallel": (
        "Split it across GPUs",
        "tensor parallelism (Megatron-LM style) for weight matrices that exceed one card",
        lambda n: "Each GPU then holds 1/t of every sharded matrix.",
    ),
    "raise-memory-fraction": (
        "Raise the per-process cap",
        "torch.cuda.set_per_process_memory_fraction(f) with a larger f (or remove the call)",
        lambda n: f"The cap is {n.size('allowed')}; the card itself had {n.size('free')} free.",
    ),
    "watch-gpu": (
        "Watch the GPU while it runs",
        "nvidia-smi --query-compute-apps=pid,used_memory --format=csv -l 1",
        lambda n: (
            "Free memory covered the request when the message was written: another process may have taken and released "
            "memory around the failure, or a limit other than free memory refused it (a MIG or vGPU slice, a container "
            "limit, the Windows display driver)."
        ),
    ),
    "expandable-segments-one-allocation": (
        "Expandable segments (for this one allocation)",
        None,
        lambda n: (
            f"The {n.size('reserved_unallocated')} reserved but unallocated would cover the {n.size('shortfall')} "
            "shortfall if it were one block. It may get past this allocation; the card stays nearly full."
        ),
    ),
}


def alloc_conf(rec: Recommendation) -> str:
    """{'max_split_size_mb': 128} through PYTORCH_CUDA_ALLOC_CONF -> 'PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:128'
    (the allocator's own syntax: key:value pairs, comma-separated; booleans True/False)."""
    return f"{rec.env}=" + ",".join(f"{key}:{value}" for key, value in rec.settings.items())


def recommendation_text(rec: Recommendation) -> dict[str, str]:
    """{'title', 'setting', 'why'}: the sentences of one recommendation."""
    title, setting, why = RECOMMENDATIONS[rec.kind]
    numbers = {
        **rec.numbers,
        **{k: v for k, v in rec.settings.items() if isinstance(v, int) and not isinstance(v, bool)},
    }
    return {
        "title": title,
        "setting": setting if setting is not None else alloc_conf(rec),
        "why": why(_Numbers(numbers)),
    }


def oom_json(r: OomReport) -> str:
    """The report as JSON, with the sentences (headline, findings, each recommendation's title/setting/why, each
    suggestion's option) beside the data they are written from; keys are only ever added."""
    data: dict[str, Any] = {}
    for key, value in r.model_dump(mode="json").items():
        if key in ("verdict", "observations", "template_source"):
            continue
        if key == "recommendations":
            value = [{**recommendation_text(rec), **d} for rec, d in zip(r.recommendations, value)]
        if key == "suggestions":
            value = [{"change": d["change"], "option": as_flags(s.settings), **d} for s, d in zip(r.suggestions, value)]
        data[key] = value
        if key == "diagnosis":
            data["headline"] = headline(r)
            data["findings"] = [finding_text(f) for f in r.observations]
    data["rounding_note"] = ROUNDING_NOTE
    data["template_source"] = r.template_source
    data["verdict"] = r.verdict.model_dump(mode="json")
    data["observations"] = [f.model_dump(mode="json") for f in r.observations]
    return json.dumps(data, indent=2, ensure_ascii=False)
