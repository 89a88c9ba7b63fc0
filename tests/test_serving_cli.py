"""`llm-budget serve`: the command parses, calls serve_view and renders; bad input is one line and exit 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llm_budget.cli import app

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["serve", *args])


def test_json_blocks_from_a_given_kv_budget() -> None:
    # 40 GiB over 32 layers of 65,536-byte pages: 40·2^30 // 65,536 // 32 = 20,480 blocks, 327,680 tokens
    r = run("--preset", "llama3-8b", "--gpu", "h100-sxm", "--kv-cache-memory-bytes", str(40 * 2**30), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["capacity"]["num_blocks"] == 20480
    assert data["capacity"]["kv_cache_tokens"] == 327680
    assert data["capacity"]["max_concurrency"] == pytest.approx(327680 / 8192)
    assert data["throughput"]["bound"] == "memory"


def test_table_and_sglang() -> None:
    r = run("--preset", "mistral-7b", "--gpu", "a100-80gb", "--max-model-len", "8192", "--explain")
    assert r.exit_code == 0, r.output
    assert "GPU KV cache size:" in r.output and "sliding" in r.output
    s = run("--preset", "llama3-8b", "--gpu", "h100-sxm", "--engine", "sglang", "--json")
    assert s.exit_code == 0, s.output
    assert json.loads(s.output)["capacity"]["log_lines"][1].startswith("max_total_num_tokens=")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gpu-memory-utilization", "0"], "must be in (0, 1]"),
        (["--gpu-memory-utilization", "1.01"], "must be in (0, 1]"),
        (["--max-model-len", "9000"], "VLLM_ALLOW_LONG_MAX_MODEL_LEN"),
        (["--tensor-parallel-size", "5"], "does not divide"),
        (["--engine-version", "0.2"], "older than any modelled release"),
        (["--engine-version", "nightly"], "not a vllm release"),
    ],
)
def test_bad_input_one_line_exit_2(args: list[str], message: str) -> None:
    r = run("--preset", "llama3-8b", "--gpu", "h100-sxm", *args)
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output


def test_refusal_is_reported_not_raised() -> None:
    # 512 MiB: 2^29 // 65,536 // 32 = 256 blocks = 4,096 tokens, half of one 8,192-token request
    r = run("--preset", "llama3-8b", "--gpu", "h100-sxm", "--kv-cache-memory-bytes", str(2**29), "--json")
    data = json.loads(r.output)
    assert data["capacity"]["starts"] is False and data["throughput"] is None
    assert "the estimated maximum model length is 4096" in data["capacity"]["error"]


def test_fit_engine_and_serve_agree_and_load_the_accountants_weights() -> None:
    """`fit --mode infer --engine vllm` answers with serve's object; a 4-bit --precision loads the weights row
    `memory --mode infer --precision int4` reports (one home for weight bytes)."""
    fit = runner.invoke(
        app,
        ["fit", "--preset", "llama3-8b", "--gpu", "l4", "--mode", "infer", "--engine", "vllm", "--context", "8192"]
        + ["--json"],
    )
    serve = run("--preset", "llama3-8b", "--gpu", "l4", "--max-model-len", "8192", "--json")
    assert fit.exit_code == 0 and serve.exit_code == 0, fit.output + serve.output
    assert json.loads(fit.output)["capacity"] == json.loads(serve.output)["capacity"]
    q = runner.invoke(
        app,
        ["fit", "--preset", "llama3-8b", "--gpu", "l4", "--mode", "infer", "--engine", "vllm", "--precision", "int4"]
        + ["--context", "8192", "--json"],
    )
    mem = runner.invoke(app, ["memory", "--preset", "llama3-8b", "--mode", "infer", "--precision", "int4", "--json"])
    weights = json.loads(mem.output)["components"][0]["bytes"]
    assert json.loads(q.output)["capacity"]["weights_bytes_per_rank"] == weights


def test_large_gpu_rule() -> None:
    """vLLM's larger scheduler defaults: ≥ 70 GiB and not an A100 (H100 80 GB: yes; A100 80 GB, L4: no)."""
    from llm_budget.hardware import load_gpu
    from llm_budget.serving import is_large_gpu

    assert is_large_gpu(load_gpu("h100-sxm"))
    assert not is_large_gpu(load_gpu("a100-80gb"))
    assert not is_large_gpu(load_gpu("l4"))
