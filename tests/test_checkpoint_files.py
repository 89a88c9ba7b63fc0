"""Reading checkpoints without torch: --model names, the HF cache layout, safetensors headers, shard indexes."""

from __future__ import annotations

import json
import struct

import pytest
from checkpoint_fixtures import fake_hub_cache, llama_tensors, write_checkpoint, write_safetensors

from llm_budget.checkpoint.cache import cached_snapshot, hub_cache_dir
from llm_budget.checkpoint.index import read_folder_headers
from llm_budget.checkpoint.names import NameKind, parse_model_name
from llm_budget.checkpoint.safetensors import MAX_HEADER_BYTES, read_header
from llm_budget.errors import LLMBudgetError

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


# -- names ---------------------------------------------------------------------------------------------------


def test_names_are_classified_path_then_preset_then_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_model_name("llama3-8b").kind is NameKind.preset
    hub = parse_model_name("Qwen/Qwen3-8B@v1.0")
    assert (hub.kind, hub.repo_id, hub.revision) == (NameKind.hub, "Qwen/Qwen3-8B", "v1.0")
    assert parse_model_name("meta-llama/Llama-3.1-8B-Instruct").revision is None
    (tmp_path / "Qwen" / "Qwen3-8B").mkdir(parents=True)  # a local folder named like the repo wins
    assert parse_model_name("Qwen/Qwen3-8B").kind is NameKind.path


@pytest.mark.parametrize("text", ["", "./missing", "/no/such/dir", "a/b/c", "org/na me", "org/..", "x.json"])
def test_bad_names_are_one_line_errors(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LLMBudgetError) as e:
        parse_model_name(text)
    assert "\n" not in str(e.value)


# -- the cache -----------------------------------------------------------------------------------------------


def test_cache_dir_follows_huggingface_hub_precedence(tmp_path, monkeypatch):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hub_cache_dir() == tmp_path / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c"))
    assert hub_cache_dir() == tmp_path / "c"


def test_snapshots_by_branch_and_by_commit(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    snap = fake_hub_cache(tmp_path, "org/model", COMMIT, refs={"main": COMMIT, "v2": OTHER})
    (snap.parent / OTHER).mkdir()
    assert cached_snapshot("org/model", None) == snap
    assert cached_snapshot("org/model", "main") == snap
    assert cached_snapshot("org/model", "v2") == snap.parent / OTHER
    assert cached_snapshot("org/model", COMMIT) == snap
    assert cached_snapshot("org/model", "nope") is None
    assert cached_snapshot("org/other", None) is None


# -- safetensors headers -------------------------------------------------------------------------------------


def test_header_reader_agrees_with_the_safetensors_library(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    tensors = {
        "a": torch.zeros(3, 5, dtype=torch.bfloat16),
        "b": torch.zeros(7, dtype=torch.float8_e4m3fn),
        "c": torch.zeros(2, 2, 2, dtype=torch.int32),
        "d": torch.zeros(9, dtype=torch.uint8),
    }
    st.save_file(tensors, tmp_path / "x.safetensors", metadata={"format": "pt"})
    header = read_header(tmp_path / "x.safetensors")
    got = {t.name: (t.dtype, t.shape, t.nbytes) for t in header.tensors}
    assert got == {
        "a": ("BF16", (3, 5), 30),
        "b": ("F8_E4M3", (7,), 7),
        "c": ("I32", (2, 2, 2), 32),
        "d": ("U8", (9,), 9),
    }
    assert header.metadata == {"format": "pt"}


def _raw(path, length: int, body: bytes) -> None:
    path.write_bytes(struct.pack("<Q", length) + body)


def _json(path, header: dict, data_bytes: int) -> None:
    raw = json.dumps(header).encode()
    _raw(path, len(raw), raw + bytes(data_bytes))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b"\x10\x00"), "truncated safetensors file"),
        (lambda p: _raw(p, 1000, b"{}"), "the header announces 1,000 bytes"),
        (lambda p: _raw(p, MAX_HEADER_BYTES + 1, b"{}"), "refused"),
        (lambda p: _raw(p, 2**63, b"{}"), "refused"),
        (lambda p: _raw(p, 4, b"nope"), "not UTF-8 JSON"),
        (lambda p: _raw(p, 2, b"[]"), "not an object"),
        (lambda p: _json(p, {"w": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 1]}}, 1), "unknown dtype"),
        (lambda p: _json(p, {"w": {"dtype": "F16", "shape": [4], "data_offsets": [0, 4]}}, 4), "needs 8"),
        (lambda p: _json(p, {"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}, 2), "past the file"),
        (lambda p: _json(p, {"w": {"dtype": "F16", "shape": [-2], "data_offsets": [0, 4]}}, 4), "shape"),
    ],
)
def test_broken_headers_are_one_line_errors(tmp_path, make, message):
    path = tmp_path / "bad.safetensors"
    make(path)
    with pytest.raises(LLMBudgetError) as e:
        read_header(path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_only_the_header_is_read(tmp_path):
    # a header that describes 1 GB of data after it: the reader needs only the first 8 + N bytes
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2**29], "data_offsets": [0, 2**30]}}).encode()
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + 2**30)  # sparse: no 1 GB written
    (t,) = read_header(path).tensors
    assert (t.shape, t.nbytes, t.elements) == ((2**29,), 2**30, 2**29)


# -- sharded folders -----------------------------------------------------------------------------------------


def test_sharded_folder_reads_every_shard(tmp_path):
    tensors = llama_tensors()
    folder = write_checkpoint(tmp_path / "m", tensors, shards=3)
    headers = read_folder_headers(folder)
    assert [h.file for h in headers] == [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    assert sorted(t.name for h in headers for t in h.tensors) == sorted(tensors)


def test_index_naming_a_missing_shard_is_an_error(tmp_path):
    folder = write_checkpoint(tmp_path / "m", llama_tensors(), shards=2)
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(LLMBudgetError, match="names shard model-00002-of-00002.safetensors, missing"):
        read_folder_headers(folder)


def test_index_placing_a_tensor_in_the_wrong_shard_is_an_error(tmp_path):
    folder = write_checkpoint(tmp_path / "m", llama_tensors(), shards=2)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    index["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors"
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(LLMBudgetError, match="whose header lacks it"):
        read_folder_headers(folder)


def test_unsharded_file_without_index(tmp_path):
    write_safetensors(tmp_path / "model.safetensors", {"x": ("F32", (2, 3))})
    (h,) = read_folder_headers(tmp_path)
    assert h.tensors[0].nbytes == 24


def test_an_index_over_the_config_file_limit_is_read(tmp_path):
    # DeepSeek-V3's index lists ~90,000 tensors (~9 MB), over the 4 MiB a spec or config file may have
    names = [f"model.layers.{i // 256}.mlp.experts.{i % 256}.gate_proj.weight_scale_inv" for i in range(60_000)]
    write_safetensors(tmp_path / "model-00001-of-00001.safetensors", {n: ("F32", (1,)) for n in names})
    index = {"metadata": {}, "weight_map": dict.fromkeys(names, "model-00001-of-00001.safetensors")}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert (tmp_path / "model.safetensors.index.json").stat().st_size > 4 * 2**20
    (h,) = read_folder_headers(tmp_path)
    assert len(h.tensors) == 60_000
