"""The serving engines and their releases: the constants and rules that move the KV-cache answer, each with
the engine file it was read from.

A row is a release line of one engine; `engine_version("vllm", "0.10")` finds it. What differs between rows:
  budget:   how the memory for the KV cache is formed (vLLM's Worker.determine_available_memory)
      "v0-peak"        V0 engine: total × util − (torch peak incl. weights + non-torch incl. CUDA context)
      "v1-peak"        V1 engine, first form: the same, on the V1 worker
      "v1-requested"   requested = total × util; minus weights, the torch peak increase and the non-torch
                       increase since the start-up snapshot (the CUDA context is outside the budget)
      "v1-cudagraph"   as v1-requested, less the profiled CUDA-graph memory as well
      "sglang"         rest = free after weights − total × (1 − mem_fraction_static)
  hybrid:   layer types get their own KV-cache groups (sliding windows keep only the window's blocks)
  log:      which start-up line the engine prints ("# GPU blocks" in V0, "GPU KV cache size" in V1)
Release boundaries are those of the files read (the commit in `read_at`); a release between two rows
behaves as the earlier row.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from llm_budget.errors import LLMBudgetError

Engine = Literal["vllm", "sglang"]
Budget = Literal["v0-peak", "v1-peak", "v1-requested", "v1-cudagraph", "sglang"]


class EngineVersion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Engine
    version: str  # the release line, as `--engine-version` takes it
    budget: Budget
    hybrid: bool  # per-layer-type KV-cache groups (vLLM's hybrid KV-cache manager)
    log: Literal["gpu-blocks", "kv-cache-size", "sglang"]
    block_size: int  # default tokens per block (SGLang: page_size)
    read_at: str  # the files this row was read from: repository, path, commit


VLLM_MAIN = "vllm-project/vllm@001cabc1"  # kv_cache_utils.py, kv_cache_interface.py (2026, newest read)
VLLM_WORKER_V1 = "vllm-project/vllm@0012cf69: vllm/v1/worker/gpu_worker.py (V1, total × util − peak)"
VLLM_WORKER_SNAPSHOT = "vllm-project/vllm@35d5cda1: vllm/v1/worker/gpu_worker.py (requested − non_kv_cache_memory)"

ENGINES: tuple[EngineVersion, ...] = (
    EngineVersion(
        engine="vllm",
        version="0.6",
        budget="v0-peak",
        hybrid=False,
        log="gpu-blocks",
        block_size=16,
        read_at="vllm-project/vllm v0.6.x: vllm/worker/worker.py determine_num_available_blocks "
        "(memory_profiling: kv_cache_size = total × util − peak_torch − non_torch; '# GPU blocks: N'); "
        "vllm/executor/executor_base.py ('Maximum concurrency' = blocks × block_size / max_model_len)",
    ),
    EngineVersion(
        engine="vllm",
        version="0.8",
        budget="v1-peak",
        hybrid=False,
        log="kv-cache-size",
        block_size=16,
        read_at=VLLM_WORKER_V1 + "; vllm/v1/core/kv_cache_utils.py (num_blocks = available // page // layers)",
    ),
    EngineVersion(
        engine="vllm",
        version="0.10",
        budget="v1-requested",
        hybrid=True,
        log="kv-cache-size",
        block_size=16,
        read_at=VLLM_WORKER_SNAPSHOT + f"; {VLLM_MAIN}: vllm/v1/core/kv_cache_utils.py get_kv_cache_configs",
    ),
    EngineVersion(
        engine="vllm",
        version="0.19",
        budget="v1-cudagraph",
        hybrid=True,
        log="kv-cache-size",
        block_size=16,
        read_at="vllm-project/vllm envs.py VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS ('Profile CUDA graph memory "
        "during memory profiling for more accurate KV cache sizing'; on in v0.19 launch scripts); "
        f"{VLLM_MAIN}: vllm/v1/core/kv_cache_utils.py",
    ),
    EngineVersion(
        engine="sglang",
        version="0.4",
        budget="sglang",
        hybrid=False,
        log="sglang",
        block_size=1,
        read_at="sgl-project/sglang python/sglang/srt/model_executor/model_runner.py profile_max_num_token "
        "(cell_size; rest_memory = available − total × (1 − mem_fraction_static); max_num_token = "
        "int(rest_memory × 2^30 // cell_size)); mem_cache/memory_pool.py MHATokenToKVPool / MLATokenToKVPool",
    ),
)

DEFAULT_VERSION: dict[str, str] = {"vllm": "0.10", "sglang": "0.4"}
"""The release each engine is modelled at when --engine-version is not given."""

VLLM_BLOCK_SIZES = (1, 8, 16, 32, 64, 128)
"""--block-size choices on CUDA (vllm/config/cache.py BlockSize; 16 is CacheConfig's default)."""


def engine_version(engine: str, version: str | None = None) -> EngineVersion:
    """The row for `engine` at `version` ("0.10", "v0.10.1", "0.11": the latest row not newer than it)."""
    rows = [r for r in ENGINES if r.engine == engine]
    if not rows:
        raise LLMBudgetError(f"--engine: unknown engine {engine!r}; expected vllm or sglang")
    wanted = _release(version or DEFAULT_VERSION[engine], engine)
    known = [r for r in rows if _release(r.version, engine) <= wanted]
    if not known:
        listing = ", ".join(r.version for r in rows)
        raise LLMBudgetError(f"--engine-version: {engine} {version} is older than any modelled release ({listing})")
    return max(known, key=lambda r: _release(r.version, engine))


def _release(text: str, engine: str) -> tuple[int, ...]:
    """'v0.10.1' -> (0, 10, 1); anything else is an error naming the option."""
    parts = text.strip().removeprefix("v").split(".")
    if not parts or not all(p.isdigit() for p in parts) or len(parts) > 3:
        raise LLMBudgetError(f"--engine-version: {text!r} is not a {engine} release such as 0.10 or 0.10.1")
    return tuple(int(p) for p in parts)
