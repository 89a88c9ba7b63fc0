"""SGLang's token pool at start-up: `max_total_num_tokens`, from mem_fraction_static and the cell size.

  cell_size       = kv_heads_per_rank · head_dim · n_layers · 2 · dtype bytes     (MHA / GQA)
                  = (kv_lora_rank + qk_rope_head_dim) · n_layers · dtype bytes    (MLA: the latent)
  rest_memory     = free memory after the weights − total · (1 − mem_fraction_static)       (GiB)
  max_num_token   = int(rest_memory · 2^30 // cell_size), then rounded down to page_size
Source: sgl-project/sglang python/sglang/srt/model_executor/model_runner.py profile_max_num_token and
init_memory_pool; mem_cache/memory_pool.py MHATokenToKVPool / MLATokenToKVPool (0.4 line). The free memory is
the minimum over TP ranks (get_available_gpu_memory(distributed=tp > 1)). Default mem_fraction_static by TP size:
0.88, 0.87 (tp ≥ 2), 0.85 (≥ 4), 0.81 (≥ 8), 0.79 (≥ 16) (server_args.py __post_init__, 0.4 line).
"""

from __future__ import annotations

from llm_budget.hardware import GpuSpec
from llm_budget.memory.kv import kv_bytes
from llm_budget.model.spec import ModelSpec
from llm_budget.serving.engines import EngineVersion
from llm_budget.serving.layers import kv_heads_per_rank, latent_bytes, layers_per_stage
from llm_budget.serving.results import BudgetLine, Concurrency, KVGroup, ServeReport
from llm_budget.serving.setup import NCCL_BUFFERS, NON_TORCH_AT_START, ServeSetup
from llm_budget.serving.vllm import COMMON_LENGTHS, weights_per_rank
from llm_budget.units import GiB


def default_mem_fraction_static(tp: int) -> float:
    """SGLang 0.4's default by tensor-parallel size (server_args.py)."""
    for at_least, fraction in ((16, 0.79), (8, 0.81), (4, 0.85), (2, 0.87)):
        if tp >= at_least:
            return fraction
    return 0.88


def cell_size(spec: ModelSpec, *, tp: int, n_layers: int, bits: int) -> int:
    """Bytes one token takes in the pool, every layer of one rank: K and V per head, or MLA's latent."""
    if spec.mla is not None:
        kv_heads_per_rank(spec, tp)  # the query heads must still split
        width = spec.mla.kv_lora_rank + spec.mla.qk_rope_head_dim
        return latent_bytes(n_layers=n_layers, width=width, tokens=1, bits=bits)
    return kv_bytes(
        n_layers=n_layers, kv_heads=kv_heads_per_rank(spec, tp), head_dim=spec.head_dim, tokens=1, bits=bits
    )


def _budget(row: EngineVersion, weights: int, other: int, outside: int, fraction: float) -> list[BudgetLine]:
    src = row.read_at
    return [
        BudgetLine(name="weights", bytes=weights, formula="loaded before the pool is sized", source=src),
        BudgetLine(
            name="CUDA context and other", bytes=other, formula="not free after loading", source=src, assumed=True
        ),
        BudgetLine(
            name="outside mem_fraction_static",
            bytes=outside,
            formula=f"total × (1 − {fraction}) kept for activations and CUDA graphs",
            source=src,
        ),
    ]


def sglang_capacity(
    spec: ModelSpec, gpu: GpuSpec, setup: ServeSetup, row: EngineVersion, max_model_len: int
) -> ServeReport:
    """What SGLang logs at start-up: 'KV Cache is allocated. #tokens: N' and 'max_total_num_tokens=N'."""
    total = gpu.device_memory_bytes
    tp = setup.tensor_parallel_size
    fraction = setup.mem_fraction_static or default_mem_fraction_static(tp)
    layers = max(layers_per_stage(spec.n_layers, setup.pipeline_parallel_size))
    cell = cell_size(spec, tp=tp, n_layers=layers, bits=setup.kv_bits)
    page = setup.block_size or row.block_size
    weights = weights_per_rank(spec, setup)
    other = NON_TORCH_AT_START + (NCCL_BUFFERS if tp > 1 else 0)
    budget = _budget(row, weights, other, int(total * (1 - fraction)), fraction)
    if setup.kv_cache_memory_bytes:
        rest, budget = setup.kv_cache_memory_bytes, []
    else:
        free_after_weights = (total - weights - other) / GiB  # get_available_gpu_memory: GiB, a float
        rest_gib = free_after_weights - total / GiB * (1 - fraction)
        rest = int(rest_gib * GiB)
    tokens = max(0, int(rest // cell)) // page * page
    error = None if tokens > 0 else "Not enough memory. Please try to increase --mem-fraction-static."
    k_bytes = tokens * cell // 2 if spec.mla is None else tokens * cell

    def concurrency(n: int) -> Concurrency:
        return Concurrency(tokens=n, blocks_per_request=-(-n // page), concurrency=tokens / n)

    seqs, batched = setup.scheduler_defaults()
    log = [
        f"KV Cache is allocated. #tokens: {tokens}, K size: {k_bytes / GiB:.2f} GB, V size: "
        f"{(tokens * cell - k_bytes) / GiB:.2f} GB",
        f"max_total_num_tokens={tokens}",
    ]
    return ServeReport(
        engine="sglang",
        engine_version=row.version,
        read_at=row.read_at,
        model=spec.label,
        gpu=gpu.display_name,
        tensor_parallel_size=tp,
        pipeline_parallel_size=setup.pipeline_parallel_size,
        max_model_len=max_model_len,
        max_num_seqs=seqs,
        max_num_batched_tokens=batched,
        block_size=page,
        kv_cache_dtype=setup.kv_cache_dtype if setup.kv_cache_dtype != "auto" else f"auto ({setup.dtype.value})",
        total_bytes=total,
        requested_bytes=int(total * fraction),
        weights_bytes_per_rank=weights,
        budget=budget,
        available_kv_bytes=rest,
        page_bytes=cell,
        group_size=1,
        groups=[KVGroup(kind="mla" if spec.mla else "full", groups=1, layers=layers, blocks_per_request=max_model_len)],
        num_blocks=tokens // page,
        kv_cache_tokens=tokens,
        kv_cache_bytes=tokens * cell,
        max_concurrency=tokens / max_model_len,
        by_length=[concurrency(n) for n in COMMON_LENGTHS if n <= max_model_len],
        starts=error is None,
        error=error,
        log_lines=log,
        assumptions=[
            f"SGLang {row.version} line, mem_fraction_static {fraction}; one token pool for every layer "
            "(sliding-window layers hold every token in this line).",
            "Requests longer than the pool are not refused at start-up: SGLang caps max_req_input_len at "
            "max_total_num_tokens − 1.",
        ],
    )
