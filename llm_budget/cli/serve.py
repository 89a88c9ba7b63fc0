"""`llm-budget serve`: the KV-cache capacity vLLM or SGLang computes at start-up, and throughput bounds."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

import typer

from llm_budget.cli.options import (
    ExplainOpt,
    GpuOpt,
    HfConfigOpt,
    JsonOpt,
    ModelOpt,
    PresetOpt,
    build_model,
    count,
    emit_json,
    user_errors,
)
from llm_budget.errors import LLMBudgetError

app = typer.Typer(add_completion=False)

_E = "Engine (named as the engines name them)"
Dtype = Literal["bfloat16", "float16", "float32"]
KvDtype = Literal["auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_ds_mla"]


def _opt(name: str, help: str, metavar: str = "N") -> Any:
    return typer.Option(name, help=help, metavar=metavar, rich_help_panel=_E, show_default=False)


def _fraction(text: Optional[str], option: str) -> Optional[float]:
    """A fraction in (0, 1] as typed, or a one-line error naming the option (the engines' own range)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise LLMBudgetError(f"{option}: cannot read {text!r} as a fraction (example: 0.9)") from None
    if not 0 < value <= 1:
        raise LLMBudgetError(f"{option} must be in (0, 1], got {text!r}")
    return value


@app.command()
@user_errors
def serve(
    gpu: GpuOpt,
    engine: Annotated[
        Literal["vllm", "sglang"], typer.Option("--engine", help="Serving engine.", rich_help_panel=_E)
    ] = "vllm",
    engine_version: Annotated[
        Optional[str], _opt("--engine-version", "Release (vllm: 0.6, 0.8, 0.10, 0.19; sglang: 0.4).", "X.Y")
    ] = None,
    gpu_memory_utilization: Annotated[
        str, _opt("--gpu-memory-utilization", "vLLM: share of the GPU the engine may use (default 0.9).", "F")
    ] = "0.9",
    mem_fraction_static: Annotated[
        Optional[str],
        _opt("--mem-fraction-static", "SGLang: share for weights and the KV pool (default by TP size).", "F"),
    ] = None,
    max_model_len: Annotated[
        Optional[str], _opt("--max-model-len", "Longest request (default: the model's context window).", "TOKENS")
    ] = None,
    max_num_seqs: Annotated[
        Optional[str], _opt("--max-num-seqs", "Most requests in a batch (default 256; 1024 on ≥70 GiB GPUs but A100).")
    ] = None,
    max_num_batched_tokens: Annotated[
        Optional[str],
        _opt("--max-num-batched-tokens", "Tokens per step (default 2048; 8192 on ≥70 GiB GPUs but A100)."),
    ] = None,
    block_size: Annotated[
        Optional[str], _opt("--block-size", "Tokens per KV block (vLLM default 16; SGLang page size 1).")
    ] = None,
    kv_cache_dtype: Annotated[
        KvDtype, typer.Option("--kv-cache-dtype", help="KV-cache format (auto: --dtype).", rich_help_panel=_E)
    ] = "auto",
    dtype: Annotated[
        Dtype, typer.Option("--dtype", help="Compute dtype of the weights.", rich_help_panel=_E)
    ] = "bfloat16",
    tensor_parallel_size: Annotated[str, _opt("--tensor-parallel-size", "Tensor-parallel ranks.")] = "1",
    pipeline_parallel_size: Annotated[str, _opt("--pipeline-parallel-size", "Pipeline stages.")] = "1",
    enforce_eager: Annotated[bool, typer.Option("--enforce-eager", help="No CUDA graphs.", rich_help_panel=_E)] = False,
    kv_cache_memory_bytes: Annotated[
        Optional[str],
        _opt(
            "--kv-cache-memory-bytes",
            "KV-cache bytes per GPU, skipping the profiling (vLLM; e.g. a logged 'Available KV cache memory').",
            "BYTES",
        ),
    ] = None,
    weights_bytes: Annotated[
        Optional[str],
        _opt(
            "--weights-bytes", "The checkpoint's bytes as loaded, all ranks (default: the model at --dtype).", "BYTES"
        ),
    ] = None,
    allow_long_max_model_len: Annotated[
        bool,
        typer.Option(
            "--allow-long-max-model-len",
            help="As VLLM_ALLOW_LONG_MAX_MODEL_LEN=1: a --max-model-len past the context window.",
            rich_help_panel=_E,
        ),
    ] = False,
    prompt: Annotated[
        Optional[str],
        typer.Option(
            "--prompt",
            help="Prompt for the prefill-time bound (default: max model len).",
            metavar="TOKENS",
            show_default=False,
        ),
    ] = None,
    json: JsonOpt = False,
    explain: ExplainOpt = False,
    preset: PresetOpt = None,
    hf_config: HfConfigOpt = None,
    model_name: ModelOpt = None,
) -> None:
    """KV-cache blocks, tokens and maximum concurrency as vLLM or SGLang log them at start-up, whether the engine
    starts, and decode/prefill bounds at that concurrency.

    Example: `llm-budget serve --preset llama3-8b --gpu h100-sxm --max-model-len 8192`.
    """
    from llm_budget.hardware import Precision, load_gpu
    from llm_budget.serving import ServeSetup, is_large_gpu, loaded_weight_bytes, serve_view

    spec, resolved = build_model(
        model=model_name, preset=preset, hf_config=hf_config, sizes={}, kinds={}, tied=None, bias=None
    )
    assert spec is not None
    card = load_gpu(gpu)
    weights = count(weights_bytes, "--weights-bytes")
    if weights is None and resolved is not None and resolved.weights is not None:
        weights = loaded_weight_bytes(spec, checkpoint=resolved.weights)  # the checkpoint as stored
    setup = ServeSetup(
        engine=engine,
        engine_version=engine_version,
        gpu_memory_utilization=_fraction(gpu_memory_utilization, "--gpu-memory-utilization") or 0.9,
        mem_fraction_static=_fraction(mem_fraction_static, "--mem-fraction-static"),
        max_model_len=count(max_model_len, "--max-model-len"),
        max_num_seqs=count(max_num_seqs, "--max-num-seqs"),
        max_num_batched_tokens=count(max_num_batched_tokens, "--max-num-batched-tokens"),
        block_size=count(block_size, "--block-size"),
        kv_cache_dtype=kv_cache_dtype,
        dtype={"bfloat16": Precision.bf16, "float16": Precision.fp16, "float32": Precision.fp32}[dtype],
        tensor_parallel_size=count(tensor_parallel_size, "--tensor-parallel-size") or 1,
        pipeline_parallel_size=count(pipeline_parallel_size, "--pipeline-parallel-size") or 1,
        enforce_eager=enforce_eager,
        kv_cache_memory_bytes=count(kv_cache_memory_bytes, "--kv-cache-memory-bytes"),
        weights_bytes=weights,
        allow_long_max_model_len=allow_long_max_model_len,
        large_gpu=is_large_gpu(card),
    )
    view = serve_view(spec, card, setup, prompt=count(prompt, "--prompt"))
    if json:
        emit_json(view.model_dump_json(indent=2))
        return
    from llm_budget.render import console
    from llm_budget.render.serve import serve_render

    console().print(serve_render(view, explain=explain))
