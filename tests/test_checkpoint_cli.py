"""`--model NAME` on the commands: resolution order, revisions, offline errors, the Hub path over 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from checkpoint_fixtures import (
    TINY_LLAMA,
    TINY_LLAMA_PARAMS,
    fake_hub_cache,
    llama_tensors,
    write_checkpoint,
    write_safetensors,
)
from typer.testing import CliRunner

from llm_budget.cli import app

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OLD = "89abcdef0123456789abcdef0123456789abcdef"
BF16_BYTES = 2 * TINY_LLAMA_PARAMS  # every tensor of the tiny Llama in BF16
runner = CliRunner()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty HF cache in tmp_path, offline: nothing here may touch the network."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def params_json(*args: str) -> dict:
    r = run("params", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def one_line_error(r, *fragments: str) -> None:
    assert r.exit_code == 2, r.output
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.output and r.stdout == ""
    for f in fragments:
        assert f in r.stderr, r.stderr


def test_folder_and_cached_hub_id_and_preset(hub, tmp_path):
    folder = write_checkpoint(tmp_path / "ckpt", llama_tensors())
    data = params_json("--model", str(folder))
    assert data["total"] == TINY_LLAMA_PARAMS and data["checkpoint"]["total_bytes"] == BF16_BYTES
    assert data["checkpoint"]["cross_check"]["difference"] == 0

    write_checkpoint(fake_hub_cache(hub, "org/tiny", COMMIT), llama_tensors(), shards=2)
    data = params_json("--model", "org/tiny")
    assert data["model"] == "org/tiny" and data["checkpoint"]["total_params"] == TINY_LLAMA_PARAMS
    assert len(data["checkpoint"]["files"]) == 2

    preset = params_json("--model", "llama2-7b")
    assert preset["total"] == params_json("--preset", "llama2-7b")["total"] and "checkpoint" not in preset


def test_revisions_by_branch_and_by_commit(hub):
    fake_hub_cache(hub, "org/tiny", COMMIT, refs={"main": COMMIT, "v1": OLD})
    write_checkpoint(hub / "models--org--tiny" / "snapshots" / COMMIT, llama_tensors())
    old = {**TINY_LLAMA, "num_hidden_layers": 1}
    tensors = {k: v for k, v in llama_tensors().items() if ".layers.1." not in k}
    write_checkpoint(hub / "models--org--tiny" / "snapshots" / OLD, tensors, old)
    one_layer = params_json("--model", "org/tiny@v1")["total"]
    assert one_layer == params_json("--model", f"org/tiny@{OLD}")["total"] < params_json("--model", "org/tiny")["total"]


def test_offline_and_not_cached_names_what_and_where(hub):
    r = run("params", "--model", "org/absent")
    one_line_error(r, "org/absent", str(hub / "models--org--absent"), "HF_HUB_OFFLINE=1")
    r = run("params", "--model", "org/absent@v2")
    one_line_error(r, "org/absent@v2")


def test_bad_checkpoints_are_one_line_errors(hub, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(run("params", "--model", str(empty)), "no config.json")
    folder = write_checkpoint(tmp_path / "trunc", {})
    (folder / "model.safetensors").write_bytes(b"\xff\xff")
    one_line_error(run("memory", "--mode", "infer", "--model", str(folder)), "truncated safetensors")
    folder = write_checkpoint(
        tmp_path / "q", llama_tensors(), {**TINY_LLAMA, "quantization_config": {"quant_method": "zz"}}
    )
    one_line_error(run("fit", "--model", str(folder), "--gpu", "l4"), "quantization method 'zz' is not supported")
    one_line_error(run("params", "--model", "llama2-7b", "--preset", "llama2-7b"), "--model or --preset, not both")


def test_an_extra_head_is_reported_not_dropped(hub, tmp_path):
    tensors = {**llama_tensors(), "score.weight": ("BF16", (3, 64))}
    data = params_json("--model", str(write_checkpoint(tmp_path / "m", tensors)))
    check = data["checkpoint"]["cross_check"]
    assert check["difference"] == 3 * 64
    assert {"component": "Other", "checkpoint": 192, "counter": 0, "difference": 192} in check["rows"]
    r = run("params", "--model", str(tmp_path / "m"))
    assert "Differs from the counter by +192" in r.stdout and "score.weight" in r.stdout


def test_serving_uses_the_table_and_precision_overrides(hub, tmp_path):
    folder = write_checkpoint(tmp_path / "m", llama_tensors())
    r = run("memory", "--mode", "infer", "--model", str(folder), "--context", "64", "--json")
    weights = json.loads(r.stdout)["components"][0]
    assert weights["bytes"] == BF16_BYTES and "tensor table" in weights["name"]
    r = run("memory", "--mode", "infer", "--model", str(folder), "--context", "64", "--precision", "int8", "--json")
    report = json.loads(r.stdout)
    assert report["components"][0]["bytes"] != BF16_BYTES
    assert any("overrides the checkpoint" in a for a in report["assumptions"])
    r = run("fit", "--mode", "infer", "--model", str(folder), "--gpu", "l4", "--json")
    assert r.exit_code == 0, r.output
    r = run("memory", "--mode", "infer", "--model", str(folder), "--context", "64")
    assert "m: serving the checkpoint as stored" in r.stdout


@pytest.mark.slow
def test_params_on_a_cached_model_imports_no_torch(tmp_path):
    cache = tmp_path / "hub"
    write_checkpoint(fake_hub_cache(cache, "org/tiny", COMMIT), llama_tensors())
    code = (
        "import sys, runpy\n"
        "sys.argv = ['llm-budget', 'params', '--model', 'org/tiny', '--json']\n"
        "try:\n    runpy.run_module('llm_budget', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "loaded = sorted(m for m in ('torch', 'transformers', 'numpy', 'huggingface_hub') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["checkpoint"]["total_bytes"] == BF16_BYTES


# -- the Hub path, against a server on 127.0.0.1 -------------------------------------------------------------


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ROOT/<org>/<name>/resolve/<rev>/<file> with single byte ranges (RFC 9110 §14), logging each request."""

    root: Path
    log: list[tuple[str, str | None, int]]
    ignore_range = False

    def do_GET(self):  # noqa: N802 (http.server's name)
        parts = self.path.split("/")
        if len(parts) < 6 or parts[3] != "resolve":
            self.send_error(404)
            return
        path = self.root / parts[1] / parts[2] / "/".join(parts[5:])
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        rng = None if self.ignore_range else self.headers.get("Range")
        if rng:
            first, _, last = rng.removeprefix("bytes=").partition("-")
            lo, hi = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
            body = data[lo : hi + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {lo}-{hi}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.log.append((parts[-1], rng, len(body)))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client stopped reading, as it should
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub_server(tmp_path, monkeypatch):
    root = tmp_path / "served"
    handler = type("H", (_RangeHandler,), {"root": root, "log": [], "ignore_range": False})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    yield root, handler.log, cache, handler
    server.shutdown()
    server.server_close()


def test_hub_reads_config_index_and_headers_only(hub_server):
    pytest.importorskip("huggingface_hub")
    root, log, cache, _ = hub_server
    tensors = llama_tensors()
    folder = write_checkpoint(root / "org" / "tiny", tensors, shards=2)
    shard_sizes = {p.name: p.stat().st_size for p in folder.glob("*.safetensors")}
    data = params_json("--model", "org/tiny")
    assert data["checkpoint"]["total_bytes"] == BF16_BYTES and data["total"] == TINY_LLAMA_PARAMS
    fetched = {}
    for name, rng, n in log:
        fetched[name] = fetched.get(name, 0) + n
        if name.endswith(".safetensors"):
            assert rng is not None  # only ranges of a shard, never the whole file
    for shard, size in shard_sizes.items():
        header_end = 8 + len(_header(folder / shard))
        assert fetched[shard] == header_end < size  # the length, then the header: no weight byte
    assert list(cache.iterdir()) == []  # the user's cache is not written


def _header(path: Path) -> bytes:
    raw = path.read_bytes()
    return raw[8 : 8 + int.from_bytes(raw[:8], "little")]


def test_hub_single_file_and_missing_repo(hub_server):
    pytest.importorskip("huggingface_hub")
    root, _, _, _ = hub_server
    (root / "org" / "one").mkdir(parents=True)
    (root / "org" / "one" / "config.json").write_text(json.dumps(TINY_LLAMA))
    write_safetensors(root / "org" / "one" / "model.safetensors", llama_tensors())
    assert params_json("--model", "org/one@main")["checkpoint"]["total_bytes"] == BF16_BYTES
    one_line_error(run("params", "--model", "org/nothing"), "org/nothing@main", "no config.json on http://127.0.0.1")


def test_unreachable_endpoint_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    one_line_error(run("params", "--model", "org/tiny"), "org/tiny@main: could not reach http://127.0.0.1")


def test_hub_server_ignoring_range_still_yields_only_the_header(hub_server):
    pytest.importorskip("huggingface_hub")
    root, _, _, handler = hub_server
    handler.ignore_range = True  # answers 200 with the whole file: the client must stop after the header
    tensors = {**llama_tensors(), "model.big.weight": ("BF16", (8 * 2**20,))}  # 16 MiB of data after the header
    write_checkpoint(root / "org" / "big", tensors)
    data = params_json("--model", "org/big")
    assert data["checkpoint"]["total_bytes"] == BF16_BYTES + 16 * 2**20


def test_a_cached_config_alone_counts_from_the_config(hub):
    snap = fake_hub_cache(hub, "org/cfg", COMMIT)
    (snap / "config.json").write_text(json.dumps(TINY_LLAMA))
    data = params_json("--model", "org/cfg")
    assert data["total"] == TINY_LLAMA_PARAMS and data["checkpoint"] is None
    assert "no safetensors files" in run("params", "--model", "org/cfg").stdout


def test_hub_reads_autogptq_quantize_config(hub_server):
    pytest.importorskip("huggingface_hub")
    from test_checkpoint_quant import SCHEMES

    root, log, _, _ = hub_server
    (linear, hand), _, _ = SCHEMES["gptq"]
    folder = write_checkpoint(root / "org" / "gptq", llama_tensors(linear=linear))
    (folder / "quantize_config.json").write_text(json.dumps({"bits": 4, "group_size": 32, "desc_act": False}))
    data = params_json("--model", "org/gptq")
    assert data["checkpoint"]["scheme"]["method"] == "gptq" and data["checkpoint"]["total_params"] == TINY_LLAMA_PARAMS
