"""vLLM's KV-cache arithmetic at start-up, to the block: the memory budget, the layer groups, the blocks, the
tokens and the concurrency it logs, and the check that refuses to start.

  requested       = total × gpu_memory_utilization                          (gpu_worker.py init_device)
  available       = requested − weights − activation peak − non-torch [− CUDA graphs]
                                                                           (gpu_worker.py determine_available_memory)
  num_blocks      = available // page_size // group_size                    (kv_cache_utils.py get_num_blocks)
  tokens          = num_blocks // len(groups) × block_size                  (_report_kv_cache_config)
  concurrency     = num_blocks / Σ_groups cdiv(max_memory_usage, page_size) (get_max_concurrency_for_kv_cache_config)
  needed          = group_size × page_size × Σ_groups blocks per request   (_max_memory_usage_bytes_from_groups)
Files: vllm-project/vllm@001cabc1 vllm/v1/core/kv_cache_utils.py, vllm/v1/kv_cache_interface.py; the budget per
release in engines.py. Tensor/pipeline parallel: every rank computes its blocks and all take the minimum
(get_kv_cache_configs: 'Change the num_blocks of each rank to the smallest among all ranks').
"""

from __future__ import annotations

from llm_budget.hardware import GpuSpec
from llm_budget.memory.inference import inference_memory
from llm_budget.memory.setup import InferSetup
from llm_budget.model.spec import ModelSpec
from llm_budget.serving.engines import EngineVersion
from llm_budget.serving.layers import Kind, LayerKV, layer_counts, layer_kv, layers_per_stage
from llm_budget.serving.results import BudgetLine, Concurrency, KVGroup, ServeReport
from llm_budget.serving.setup import (
    CUDA_GRAPH_MEMORY,
    NCCL_BUFFERS,
    NON_TORCH_AT_START,
    NON_TORCH_INCREASE,
    ServeSetup,
    activation_peak,
)
from llm_budget.units import GiB

COMMON_LENGTHS = (2048, 8192, 32768, 131072)
"""Request lengths the capacity view lists (2k, 8k, 32k, 128k), up to max_model_len."""

DOCS = "See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details."


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def blocks_per_layer(layer: LayerKV, *, max_model_len: int, batched: int, block: int) -> int:
    """Blocks one request of max_model_len needs in one layer: KVCacheSpec.max_memory_usage_bytes / page.

    full, MLA: cdiv(max_model_len, block)                        (FullAttentionSpec)
    sliding:   cdiv(min(window − 1 + batched, max_model_len), block) + 1   (SlidingWindowSpec: '+1 here because
               the sliding window may not start from the beginning of the block')
    chunked:   cdiv(min(chunk + batched, max_model_len), block)   (ChunkedLocalAttentionSpec)
    """
    if layer.kind == "sliding" and layer.window:
        return cdiv(min(layer.window - 1 + batched, max_model_len), block) + 1
    if layer.kind == "chunked" and layer.window:
        return cdiv(min(layer.window + batched, max_model_len), block)
    return cdiv(max_model_len, block)


def group_layers(counts: dict[Kind, int], *, hybrid: bool) -> tuple[int, dict[Kind, tuple[int, int]]]:
    """(group_size, kind -> (groups, layers)): vLLM's KV-cache groups for the layer kinds of one rank.

    One kind: one group of every layer. Several, without the hybrid manager: sliding and chunked layers become
    full attention (unify_hybrid_kv_cache_specs), one group. With it: group_size = the fewest layers of a kind
    (the largest when it is under 1.5 × the fewest), each kind split into cdiv(n, group_size) groups, the last
    padded (_get_kv_cache_groups_uniform_page_size).
    """
    if len(counts) > 1 and not hybrid:
        counts = {"full": sum(counts.values())}
    if len(counts) == 1:
        ((kind, n),) = counts.items()
        return n, {kind: (1, n)}
    fewest, most = min(counts.values()), max(counts.values())
    size = most if most < fewest * 1.5 else fewest
    return size, {kind: (cdiv(n, size), n) for kind, n in counts.items()}


def weights_per_rank(spec: ModelSpec, setup: ServeSetup) -> int:
    """The checkpoint's bytes (or the spec's at the compute dtype) split evenly over TP × PP ranks."""
    total = setup.weights_bytes or inference_memory(spec, InferSetup(precision=setup.dtype)).components[0].bytes
    return cdiv(total, setup.world_size)


def scheduler(setup: ServeSetup, row: EngineVersion, max_model_len: int) -> tuple[int, int]:
    """max_num_seqs and max_num_batched_tokens as this release defaults them."""
    return setup.scheduler_defaults(v0_max_model_len=max_model_len if row.budget == "v0-peak" else 0)


def _budget(spec: ModelSpec, setup: ServeSetup, row: EngineVersion, max_model_len: int) -> list[BudgetLine]:
    """The terms taken from the requested memory before the KV cache, per rank."""
    seqs, batched = scheduler(setup, row, max_model_len)
    src = row.read_at
    lines = [
        BudgetLine(
            name="weights",
            bytes=weights_per_rank(spec, setup),
            formula=f"model_memory_usage: the checkpoint / (tp {setup.tensor_parallel_size} × pp "
            f"{setup.pipeline_parallel_size})",
            source=src,
        ),
        BudgetLine(
            name="activation peak",
            bytes=activation_peak(spec, tokens=batched, seqs=seqs, c=setup.dtype.bits // 8),
            formula=f"profile_run: a {batched:,}-token forward, or the sampler for {min(seqs, batched)} requests",
            source=src,
            assumed=True,
        ),
    ]
    at_start = row.budget in ("v0-peak", "v1-peak")
    non_torch = NON_TORCH_AT_START if at_start else NON_TORCH_INCREASE
    if setup.tensor_parallel_size > 1:
        non_torch += NCCL_BUFFERS
    lines.append(
        BudgetLine(
            name="non-torch memory",
            bytes=non_torch,
            formula="CUDA context and library workspaces" if at_start else "non_torch_increase during profiling",
            source=src,
            assumed=True,
        )
    )
    if row.budget == "v1-cudagraph" and not setup.enforce_eager:
        lines.append(
            BudgetLine(
                name="CUDA graphs",
                bytes=CUDA_GRAPH_MEMORY,
                formula="profiled CUDA-graph memory (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS)",
                source=src,
                assumed=True,
            )
        )
    return lines


def _needed(layer: dict[Kind, LayerKV], groups: dict[Kind, tuple[int, int]], size: int, block: int, **kw: int) -> int:
    """Bytes of one request of max_model_len: group_size × page × Σ over groups of its blocks."""
    page = next(iter(layer.values())).page_bytes(block)
    kinds = {k: layer.get(k) or next(iter(layer.values())) for k in groups}
    blocks = sum(n * blocks_per_layer(kinds[k], block=block, **kw) for k, (n, _) in groups.items())
    return size * page * blocks


def _layout(
    spec: ModelSpec, setup: ServeSetup, row: EngineVersion
) -> tuple[dict[Kind, LayerKV], int, dict[Kind, tuple[int, int]]]:
    """The layer specs of the fullest rank, the group size and the groups (kind -> (groups, layers))."""
    fp8_ds = setup.kv_cache_dtype == "fp8_ds_mla"
    layer = layer_kv(spec, tp=setup.tensor_parallel_size, bits=setup.kv_bits, fp8_ds_mla=fp8_ds)
    stage_layers = max(layers_per_stage(spec.n_layers, setup.pipeline_parallel_size))
    size, groups = group_layers(layer_counts(spec, stage_layers), hybrid=row.hybrid)
    if "full" in groups and "full" not in layer:  # sliding/chunked treated as full attention
        layer = {"full": next(iter(layer.values())).model_copy(update={"kind": "full", "window": None})}
    return layer, size, groups


def vllm_capacity(
    spec: ModelSpec, gpu: GpuSpec, setup: ServeSetup, row: EngineVersion, max_model_len: int
) -> ServeReport:
    """What vLLM logs at start-up for `spec` on `gpu`: blocks, tokens, concurrency, or its refusal."""
    total = gpu.device_memory_bytes
    seqs, batched = scheduler(setup, row, max_model_len)
    block = setup.block_size or row.block_size
    layer, size, groups = _layout(spec, setup, row)
    page = next(iter(layer.values())).page_bytes(block)
    requested = int(total * setup.gpu_memory_utilization)
    budget = [] if setup.kv_cache_memory_bytes else _budget(spec, setup, row, max_model_len)
    available = setup.kv_cache_memory_bytes or requested - sum(b.bytes for b in budget)
    num_blocks = max(0, available // page // size)
    kw = dict(max_model_len=max_model_len, batched=batched)
    per_request = {k: blocks_per_layer(layer[k], block=block, **kw) for k in groups}
    blocks_needed = sum(n * per_request[k] for k, (n, _) in groups.items())
    n_groups = sum(n for n, _ in groups.values())
    tokens = num_blocks // n_groups * block if row.log != "gpu-blocks" else num_blocks * block

    def concurrency(length: int) -> Concurrency:
        k = dict(max_model_len=length, batched=batched)
        need = sum(n * blocks_per_layer(layer[kind], block=block, **k) for kind, (n, _) in groups.items())
        if row.log == "gpu-blocks":  # V0: blocks × block_size / max_model_len (executor_base.py)
            return Concurrency(tokens=length, blocks_per_request=cdiv(length, block), concurrency=tokens / length)
        return Concurrency(tokens=length, blocks_per_request=need, concurrency=num_blocks / need)

    at_max = concurrency(max_model_len)
    error = _refusal(
        row, available, size * page * blocks_needed, tokens, max_model_len, layer, groups, size, block, batched
    )
    lines = _log_lines(row, available, num_blocks, tokens, at_max, max_model_len)
    return ServeReport(
        engine="vllm",
        engine_version=row.version,
        read_at=row.read_at,
        model=spec.label,
        gpu=gpu.display_name,
        tensor_parallel_size=setup.tensor_parallel_size,
        pipeline_parallel_size=setup.pipeline_parallel_size,
        max_model_len=max_model_len,
        max_num_seqs=seqs,
        max_num_batched_tokens=batched,
        block_size=block,
        kv_cache_dtype=setup.kv_cache_dtype if setup.kv_cache_dtype != "auto" else f"auto ({setup.dtype.value})",
        total_bytes=total,
        requested_bytes=requested,
        weights_bytes_per_rank=weights_per_rank(spec, setup),
        budget=budget,
        available_kv_bytes=available,
        page_bytes=page,
        group_size=size,
        groups=[
            KVGroup(kind=k, groups=n, layers=real, window=layer[k].window, blocks_per_request=per_request[k])
            for k, (n, real) in groups.items()
        ],
        num_blocks=num_blocks,
        kv_cache_tokens=tokens,
        kv_cache_bytes=num_blocks * page * size,
        max_concurrency=at_max.concurrency,
        by_length=[concurrency(n) for n in COMMON_LENGTHS if n <= max_model_len],
        starts=error is None,
        error=error,
        log_lines=lines,
        assumptions=_assumptions(setup, row, budget),
    )


def estimate_max_model_len(needed_at, available: int, upper: int) -> int:  # type: ignore[no-untyped-def]
    """The longest max_model_len whose one request fits: vLLM's binary search (estimate_max_model_len)."""
    if needed_at(1) > available:
        return 0
    lo, hi, best = 1, upper, 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if needed_at(mid) <= available:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def _refusal(
    row: EngineVersion,
    available: int,
    needed: int,
    tokens: int,
    max_model_len: int,
    layer: dict[Kind, LayerKV],
    groups: dict[Kind, tuple[int, int]],
    size: int,
    block: int,
    batched: int,
) -> str | None:
    """The engine's own error when one request of max_model_len cannot fit (kv_cache_utils.py
    _check_enough_kv_cache_memory; V0: vllm/worker/worker.py raise_if_cache_size_invalid)."""
    if available <= 0:
        return (
            "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
            f"initializing the engine. {DOCS}"
        )
    if row.log == "gpu-blocks":
        if max_model_len <= tokens:
            return None
        return (
            f"The model's max seq len ({max_model_len}) is larger than the maximum number of tokens that can be "
            f"stored in KV cache ({tokens}). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` "
            "when initializing the engine."
        )
    if needed <= available:
        return None
    best = estimate_max_model_len(
        lambda n: _needed(layer, groups, size, block, max_model_len=n, batched=batched), available, max_model_len
    )
    hint = f"Based on the available memory, the estimated maximum model length is {best}. " if best > 0 else ""
    return (
        f"To serve at least one request with the models's max seq len ({max_model_len}), "
        f"({needed / GiB:.2f} GiB KV cache is needed, which is larger than the available KV cache memory "
        f"({available / GiB:.2f} GiB). {hint}Try increasing `gpu_memory_utilization` or decreasing "
        f"`max_model_len` when initializing the engine. {DOCS}"
    )


def _log_lines(row: EngineVersion, available: int, blocks: int, tokens: int, at: Concurrency, n: int) -> list[str]:
    """The start-up lines this release prints, with our numbers."""
    if row.log == "gpu-blocks":
        return [f"# GPU blocks: {blocks}", f"Maximum concurrency for {n} tokens per request: {at.concurrency:.2f}x"]
    return [
        f"Available KV cache memory: {available / GiB:.2f} GiB",
        f"GPU KV cache size: {tokens:,} tokens",
        f"Maximum concurrency for {n:,} tokens per request: {at.concurrency:.2f}x",
    ]


def _assumptions(setup: ServeSetup, row: EngineVersion, budget: list[BudgetLine]) -> list[str]:
    out = [
        f"vLLM {row.version} release line; block size, grouping and rounding are the engine's own arithmetic.",
    ]
    if any(b.assumed for b in budget):
        out.append(
            "Terms marked 'estimate' are measured by the engine at start-up (profiling); ours are estimates: "
            "give --kv-cache-memory-bytes (the logged 'Available KV cache memory') to reproduce the blocks exactly."
        )
    if setup.world_size > 1:
        out.append("Weights split evenly over the ranks; every rank then takes the smallest rank's blocks.")
    if setup.pipeline_parallel_size > 1:
        out.append("Pipeline stages: the stage with the most layers (its share of each layer kind) sets the blocks.")
    return out
