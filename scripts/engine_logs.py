"""Regenerate docs/engine-logs.md: start-up lines people published in the engines' issue trackers, beside ours.

    python scripts/engine_logs.py           # write docs/engine-logs.md
    python scripts/engine_logs.py --check   # exit 1 when the page differs from what this script writes

Each case is data: its source URL, model (the config.json sizes), GPU, settings, engine release, and what the log
printed. Two comparisons per case:
  to the block   the logged KV-cache budget ('Available KV cache memory', 'kv_cache_size', printed to 0.01 GiB) run
                 through our block arithmetic: the interval of blocks/tokens that budget allows, and whether the
                 logged blocks/tokens fall inside it (the engine's own rounding, grouping and rank minimum);
  from scratch   where the log gives the weights, our whole budget (weights as logged, our activation and
                 non-torch estimates) against the logged KV-cache budget.
Pure function of the checkout: no clock, no network (tests/test_serving_logs.py runs it in-process).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from llm_budget.hardware import load_gpu  # noqa: E402
from llm_budget.model.presets import resolve  # noqa: E402
from llm_budget.model.spec import ModelSpec  # noqa: E402
from llm_budget.serving import ServeSetup, serve_capacity  # noqa: E402
from llm_budget.serving.layers import layers_per_stage  # noqa: E402
from llm_budget.serving.sglang import cell_size  # noqa: E402

PAGE = ROOT / "docs" / "engine-logs.md"
GiB = 2**30
HALF = 0.005  # the logs print GiB to two decimals

LLAMA31_8B = resolve("llama3-8b").with_overrides(context_window=131072)  # meta-llama/Llama-3.1-8B config.json
LLAMA31_70B = resolve("llama3-70b").with_overrides(context_window=131072)
QWEN3_235B = ModelSpec(  # Qwen/Qwen3-235B-A22B config.json
    d_embed=4096, n_heads=64, n_kv_heads=4, d_head=128, n_layers=94, n_vocab=151936, d_mlp=12288, mlp="gated",
    qk_norm="shared", n_experts=128, n_active_experts=8, d_expert=1536, context_window=40960,
)  # fmt: skip
DEEPSEEK_V2_LITE = ModelSpec(  # deepseek-ai/DeepSeek-V2-Lite config.json
    d_embed=2048, n_heads=16, n_layers=27, n_vocab=102400, d_mlp=10944, mlp="gated", n_experts=64,
    n_active_experts=6, d_expert=1408, d_shared_mlp=2816, first_dense_layers=1, context_window=163840,
    mla=dict(kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128),
)  # fmt: skip
GPT_OSS_120B = ModelSpec(  # openai/gpt-oss-120b config.json: 36 layers alternating sliding (128) and full
    d_embed=2880, n_heads=64, n_kv_heads=8, d_head=64, n_layers=36, n_vocab=201088, d_mlp=2880, mlp="gated",
    attn_qkv_bias=True, attn_out_bias=True, n_experts=128, n_active_experts=4, router_bias=True, mlp_bias=True,
    sliding_window=128, layer_pattern=("sliding_attention", "full_attention"), attention_sinks=True,
    context_window=131072,
)  # fmt: skip

CASES: list[dict[str, Any]] = [
    dict(
        name="Llama-3.1-8B-Instruct, RTX 3090, max_model_len 20,000",
        source="https://github.com/vllm-project/vllm/issues/10517 (comment of 2024-12-02)",
        spec=LLAMA31_8B,
        gpu="rtx-3090-24gb",
        total_gib=23.58,
        engine="vllm",
        version="0.6",
        version_note="V0 engine ('Memory profiling results' and '# GPU blocks' lines; release not stated)",
        settings=dict(gpu_memory_utilization=0.9, max_model_len=20000),
        logged=dict(kv_gib=[3.81], blocks=1952, concurrency=1.56, weights_gib=14.9888, starts=True),
    ),
    dict(
        name="Llama-3.1-8B-Instruct, RTX 3090, max_model_len 29,000",
        source="https://github.com/vllm-project/vllm/issues/10517 (comment of 2024-12-02)",
        spec=LLAMA31_8B,
        gpu="rtx-3090-24gb",
        total_gib=23.58,
        engine="vllm",
        version="0.6",
        version_note="V0 engine; refused: 'maximum number of tokens that can be stored in KV cache (23648)'",
        settings=dict(gpu_memory_utilization=0.9, max_model_len=29000),
        logged=dict(kv_gib=[2.89], blocks=1478, concurrency=0.82, weights_gib=14.9888, starts=False),
    ),
    dict(
        name="Meta-Llama-3.1-70B-Instruct-quantized.w8a8, max_model_len 2,048, V1 preview",
        source="https://github.com/vllm-project/vllm/pull/12569 (description, 2025-01-30)",
        spec=LLAMA31_70B,
        gpu="h100-sxm5-80gb",
        engine="vllm",
        version="0.8",
        version_note="VLLM_USE_V1=1 in the 0.7 line ('# GPU blocks' from kv_cache_utils.py); GPU not stated",
        settings=dict(gpu_memory_utilization=0.98, max_model_len=2048),
        logged=dict(blocks=1381, concurrency=10.79, starts=True),
    ),
    dict(
        name="Qwen3-235B-A22B-FP8, 4 × H100, TP 4 (vLLM)",
        source="https://github.com/vllm-project/vllm/issues/21348 (2025-07-22)",
        spec=QWEN3_235B,
        gpu="h100-sxm5-80gb",
        engine="vllm",
        version="0.10",
        version_note="July 2025 (release not stated)",
        settings=dict(tensor_parallel_size=4),
        logged=dict(kv_gib=[8.11], tokens=178880, starts=True),
        note="The log shows one rank's budget; vLLM gives every rank the smallest rank's blocks, and 178,880 "
        "tokens are what 8.02 GiB gives: the other ranks' lines were not published, so the difference is not "
        "explained here.",
    ),
    dict(
        name="Qwen3-235B-A22B-FP8, 4 × H100, TP 4 (SGLang, mem_fraction_static 0.93)",
        source="https://github.com/vllm-project/vllm/issues/21348 (2025-07-22)",
        spec=QWEN3_235B,
        gpu="h100-sxm5-80gb",
        engine="sglang",
        version="0.4",
        version_note="July 2025 (release not stated)",
        settings=dict(tensor_parallel_size=4, mem_fraction_static=0.93),
        logged=dict(tokens=367404, k_gib=8.23, starts=True),
    ),
    dict(
        name="DeepSeek-V2-Lite (MLA), 4 × L4, TP 2 × PP 2, max_model_len 1,024",
        source="https://github.com/vllm-project/vllm/pull/20665 (description, 2025-07-09)",
        spec=DEEPSEEK_V2_LITE,
        gpu="l4-pcie-24gb",
        engine="vllm",
        version="0.10",
        version_note="July 2025 main (release not stated)",
        settings=dict(tensor_parallel_size=2, pipeline_parallel_size=2, max_model_len=1024),
        logged=dict(kv_gib=[12.13, 12.13, 11.33, 11.33], tokens=807792, concurrency=788.86, starts=True),
    ),
    dict(
        name="gpt-oss-120b (sliding 128 / full, hybrid), H100, max_num_batched_tokens 1,024",
        source="https://github.com/vllm-project/vllm/issues/27508 (comment of 2025-10-31)",
        spec=GPT_OSS_120B,
        gpu="h100-sxm5-80gb",
        engine="vllm",
        version="0.10",
        version_note="October 2025 (release not stated); refused at start-up",
        settings=dict(gpu_memory_utilization=0.95, max_num_batched_tokens=1024),
        logged=dict(kv_gib=[1.71], starts=False),
    ),
]


def _setup(case: dict[str, Any], **extra: Any) -> ServeSetup:
    return ServeSetup(engine=case["engine"], engine_version=case["version"], **case["settings"], **extra)


def _gpu(case: dict[str, Any]) -> Any:
    gpu = load_gpu(case["gpu"])
    if "total_gib" in case:  # the total the log printed (driver's mem_get_info), not the catalog's
        gpu = gpu.model_copy(update={"memory_bytes": round(case["total_gib"] * GiB)})
    return gpu


def _blocks_by_rank(case: dict[str, Any], kv_gib: float) -> tuple[int, int]:
    """Blocks the smallest rank allows, at kv_gib ± 0.005 per rank (the log's rounding): (low, high)."""
    logged = case["logged"]["kv_gib"]
    pp = case["settings"].get("pipeline_parallel_size", 1)
    spec = case["spec"]
    out = []
    for edge in (-HALF, HALF):
        per_rank = []
        stages = layers_per_stage(spec.n_layers, pp)
        for i, gib in enumerate(logged):
            stage = stages[i * pp // len(logged)]
            r = serve_capacity(spec, _gpu(case), _setup(case, kv_cache_memory_bytes=int((gib + edge) * GiB)))
            per_rank.append(int((gib + edge) * GiB) // r.page_bytes // (stage if pp > 1 else r.group_size))
        out.append(min(per_rank))
    return out[0], out[1]


def _vllm_row(case: dict[str, Any]) -> list[str]:
    logged = case["logged"]
    base = serve_capacity(case["spec"], _gpu(case), _setup(case, kv_cache_memory_bytes=GiB))
    block, groups = base.block_size, sum(g.groups for g in base.groups)
    need = sum(g.groups * g.blocks_per_request for g in base.groups)  # blocks one max_model_len request needs
    logged_tokens = logged.get("tokens") or (logged["blocks"] * block if "blocks" in logged else None)
    if "kv_gib" in logged:
        lo, hi = _blocks_by_rank(case, logged["kv_gib"][0])
        at = serve_capacity(
            case["spec"], _gpu(case), _setup(case, kv_cache_memory_bytes=int(logged["kv_gib"][0] * GiB))
        )
        starts = at.starts
    else:  # only the blocks were logged: the concurrency formula is what is checked
        lo = hi = logged["blocks"]
        starts = True
    tok_lo, tok_hi = lo // groups * block, hi // groups * block
    inside = logged_tokens is None or tok_lo <= logged_tokens <= tok_hi
    conc_ok = "concurrency" in logged and not (round(lo / need, 2) <= logged["concurrency"] <= round(hi / need, 2))
    agree = inside and starts == logged["starts"] and not conc_ok
    ours_tokens = f"{tok_lo:,}" if tok_lo == tok_hi else f"{tok_lo:,} – {tok_hi:,}"
    if not starts:
        ours_tokens += f" (refused: {_refusal(at.error)})"
    conc = f"{lo / need:.2f}" if lo == hi else f"{lo / need:.2f} – {hi / need:.2f}"
    return [
        case["name"],
        (f"{logged_tokens:,}" if logged_tokens else "—") + (" (refused)" if not logged["starts"] else ""),
        ours_tokens,
        f"{logged['concurrency']:.2f}x" if "concurrency" in logged else "—",
        conc + "x",
        "yes" if agree else "**no**",
        _estimate(case),
    ]


def _refusal(error: Optional[str]) -> str:
    """The figures of the engine's refusal: what one request needs, and the longest that fits."""
    if not error:
        return ""
    needed = error.split("), (")[1].split(" KV cache")[0] if "), (" in error else ""
    best = error.split("maximum model length is ")[1].split(".")[0] if "maximum model length is" in error else ""
    if needed:
        return f"{needed} needed" + (f", longest that fits {int(best):,}" if best else "")
    return error.split(". Try")[0]


def _estimate(case: dict[str, Any]) -> str:
    """Our whole budget against the logged one, where the log gives the weights."""
    logged = case["logged"]
    if "weights_gib" not in logged or "kv_gib" not in logged:
        return "—"
    weights = int(logged["weights_gib"] * GiB)
    r = serve_capacity(case["spec"], _gpu(case), _setup(case, weights_bytes=weights))
    ours, theirs = r.available_kv_bytes / GiB, logged["kv_gib"][0]
    return f"{ours:.2f} vs {theirs:.2f} GiB ({(ours - theirs) / theirs * 100:+.1f}%)"


def _sglang_row(case: dict[str, Any]) -> list[str]:
    logged = case["logged"]
    spec, tp = case["spec"], case["settings"]["tensor_parallel_size"]
    cell = cell_size(spec, tp=tp, n_layers=spec.n_layers, bits=16)
    k_gib = logged["tokens"] * cell / 2 / GiB
    return [
        case["name"],
        f"{logged['tokens']:,} (K {logged['k_gib']:.2f} GB)",
        f"K = tokens × cell / 2 = {k_gib:.2f} GiB (cell {cell:,} B)",
        "—",
        "—",
        "yes" if round(k_gib, 2) == logged["k_gib"] else "**no**",
        "—",
    ]


HEADER = [
    "Case",
    "Logged tokens",
    "Ours from the logged budget",
    "Logged concurrency",
    "Ours",
    "Agrees",
    "Our budget vs logged",
]


def page() -> str:
    lines = [
        "<!-- Generated by scripts/engine_logs.py: do not edit by hand. -->",
        "# Engine start-up logs, beside ours",
        "",
        "[README](../README.md) · [llm-budget serve](serve.md) · regenerate: `python scripts/engine_logs.py`",
        "",
        "Start-up lines people published in the engines' issue trackers, each with its source, model, GPU, "
        "settings and release, beside what `llm-budget serve` computes. 'Ours from the logged budget' runs the "
        "KV-cache budget the log printed (to 0.01 GiB, hence an interval) through our block arithmetic: the "
        "logged tokens should fall inside. 'Our budget vs logged' is our whole estimate (the weights as the log "
        "gives them, our activation and non-torch estimates) against the logged budget.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    for case in CASES:
        row = _sglang_row(case) if case["engine"] == "sglang" else _vllm_row(case)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    lines += ["", "## The cases", ""]
    for case in CASES:
        settings = ", ".join(f"{k}={v}" for k, v in case["settings"].items()) or "defaults"
        lines.append(
            f"- **{case['name']}**: {case['source']}; {case['engine']} {case['version']} row "
            f"({case['version_note']}); GPU {case['gpu']}"
            + (f" (total as logged: {case['total_gib']} GiB)" if "total_gib" in case else "")
            + f"; settings: {settings}."
            + (f" {case['note']}" if case.get("note") else "")
        )
    lines += [
        "",
        "The non-torch estimate of the V0 budget (0.35 GiB) is read from the first case's log, so that case's "
        "budget comparison is not independent for that term.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = page()
    if "--check" in args:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run `python scripts/engine_logs.py`")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
