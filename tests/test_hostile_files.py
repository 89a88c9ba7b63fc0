"""Hostile spec and config files through the real CLI: one line on stderr, exit code 2, quickly, file untouched.

Each file is built here in tmp_path (no network): other encodings, binary, deep nesting, a YAML alias bomb,
YAML 1.1 coercions, numbers past units.MAX_QUANTITY, non-files (directory, FIFO, device, symlink loop), a
name too long for the file system, values of the wrong type in a config.json. Issue 13, "Tracebacks and
hangs" and "Accepted although wrong".
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.model.files import MAX_DEPTH, MAX_FILE_BYTES
from llm_budget.units import MAX_QUANTITY, MiB

runner = CliRunner()

SPEC = "d_embed: 64\nn_heads: 4\nn_layers: 2\nn_vocab: 100\nd_mlp: 256\n"
SPEC_JSON = {"d_embed": 64, "n_heads": 4, "n_layers": 2, "n_vocab": 100, "d_mlp": 256}
GPT2_CONFIG = {"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2, "vocab_size": 100, "n_positions": 32}
# what the spec above counts (independent arithmetic: embedding, 4 d² attention + 2 d·f MLP per layer, unembedding)
SPEC_PARAMS = 100 * 64 + 2 * (4 * 64 * 64 + 2 * 64 * 256 + 2 * 64) + 64 + 64 * 100

SECONDS = 2.0  # every refusal here, the alias bomb included, is far quicker; before the fixes some never ended


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging the suite (a FIFO used to block in open(), /dev/zero to read forever)."""
    if sys.platform == "win32" or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def invoke(*args: str, limit: float = SECONDS):
    start = time.monotonic()
    with deadline(limit + 10):
        r = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return r, time.monotonic() - start


def assert_refused(args: tuple[str, ...], *fragments: str, limit: float = SECONDS) -> str:
    r, elapsed = invoke(*args, limit=limit)
    assert "Traceback" not in r.output, r.output
    assert r.exit_code == 2, (args, r.exit_code, r.output, r.exception)
    assert isinstance(r.exception, SystemExit), repr(r.exception)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert elapsed < limit, f"{args} took {elapsed:.2f} s"
    return lines[0]


def snapshot(path: Path) -> tuple[bytes, int] | None:
    return (path.read_bytes(), path.stat().st_mtime_ns) if path.is_file() else None


def check_all(path: Path, commands: list[tuple[str, ...]], *fragments: str, limit: float = SECONDS) -> None:
    """Every command refuses the file the same way, and the file is exactly as it was."""
    before = snapshot(path)
    for args in commands:
        assert_refused(args, *fragments, limit=limit)
    assert snapshot(path) == before


def as_spec(p: Path) -> list[tuple[str, ...]]:
    return [("params", "--preset", str(p)), ("presets", "show", str(p)), ("memory", "--preset", str(p))]


def as_config(p: Path) -> list[tuple[str, ...]]:
    return [("params", "--hf-config", str(p)), ("params", "--preset", str(p))]


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


# -- 1. encodings ----------------------------------------------------------------------------------------------

ENCODED: dict[str, Callable[[str], bytes]] = {
    "utf-16": lambda t: t.encode("utf-16"),
    "utf-16-le without a BOM": lambda t: t.encode("utf-16-le"),
    "latin-1": lambda t: ("notes: café\n" + t).encode("latin-1"),
    "binary": lambda t: bytes(range(256)) * 4,
}


@pytest.mark.parametrize("encoding", list(ENCODED))
def test_a_spec_that_is_not_utf8(tmp_path: Path, encoding: str):
    p = write(tmp_path, "spec.yaml", ENCODED[encoding](SPEC))
    check_all(p, as_spec(p), "spec.yaml", "UTF-8")


@pytest.mark.parametrize("encoding", list(ENCODED))
def test_a_config_that_is_not_utf8(tmp_path: Path, encoding: str):
    p = write(tmp_path, "config.json", ENCODED[encoding](json.dumps(GPT2_CONFIG)))
    check_all(p, as_config(p), "config.json", "UTF-8")


def test_a_utf16_file_is_named_as_such(tmp_path: Path):
    p = write(tmp_path, "spec.yaml", SPEC.encode("utf-16"))
    assert "UTF-16" in assert_refused(("params", "--preset", str(p)))


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path):
    spec = write(tmp_path, "spec.yaml", b"\xef\xbb\xbf" + SPEC.encode())
    config = write(tmp_path, "config.json", b"\xef\xbb\xbf" + json.dumps(SPEC_JSON).encode())
    for args in [("params", "--preset", str(spec), "--json"), ("params", "--preset", str(config), "--json")]:
        r, _ = invoke(*args)
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["total"] == SPEC_PARAMS


# -- 2. nesting, names, non-files, wrong types -------------------------------------------------------------------


def test_deeply_nested_json(tmp_path: Path):
    p = write(tmp_path, "config.json", "[" * 100_000 + "]" * 100_000)
    check_all(p, as_config(p), f"nested deeper than {MAX_DEPTH} levels")


def test_nesting_just_past_the_limit_is_refused_and_at_it_is_not(tmp_path: Path):
    deep = {"model_type": "gpt2"}
    for _ in range(MAX_DEPTH):  # the config's object plus MAX_DEPTH nested ones: one level too many
        deep = {"x": deep}
    p = write(tmp_path, "config.json", json.dumps(deep))
    assert_refused(("params", "--hf-config", str(p)), f"nested deeper than {MAX_DEPTH} levels")
    ok = {"x": "y"}
    for _ in range(MAX_DEPTH - 2):
        ok = {"x": ok}
    p = write(tmp_path, "config.json", json.dumps({**GPT2_CONFIG, "deep": ok}))
    r, _ = invoke("params", "--hf-config", str(p))
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # flow style
        "".join("  " * i + "a:\n" for i in range(2_000)),  # block style
        "- " * 5_000 + "x\n",  # nested block sequences on one line
    ],
    ids=["flow", "block-mappings", "block-sequences"],
)
def test_deeply_nested_yaml(tmp_path: Path, text: str):
    p = write(tmp_path, "spec.yaml", text)
    check_all(p, as_spec(p), f"nested deeper than {MAX_DEPTH} levels")


def test_a_name_too_long_for_a_file_is_an_unknown_preset():
    name = "x" * 300
    for args in [("params", "--preset", name), ("presets", "show", name), ("memory", "--preset", name)]:
        assert_refused(args, "unknown preset")


def test_a_name_with_a_nul_byte_is_an_unknown_preset():
    assert_refused(("presets", "show", "llama\x00x"), "unknown preset")


def test_a_directory(tmp_path: Path):
    d = tmp_path / "spec.yaml"
    d.mkdir()
    check_all(d, as_spec(d), "spec.yaml", "directory")
    # --hf-config takes a folder for the config.json inside it
    assert_refused(("params", "--hf-config", str(tmp_path)), "config.json", "no such file")


def test_a_symlink_loop(tmp_path: Path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.symlink_to(b)
    b.symlink_to(a)
    check_all(a, as_spec(a) + [("params", "--hf-config", str(a))], "a.yaml", "cannot read")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_never_blocks(tmp_path: Path):
    p = tmp_path / "spec.yaml"
    os.mkfifo(p)
    check_all(p, as_spec(p) + [("params", "--hf-config", str(p))], "spec.yaml", "FIFO")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_dev_zero_is_not_read():
    check_all(Path("/dev/zero"), as_spec(Path("/dev/zero")) + as_config(Path("/dev/zero")), "/dev/zero", "device")


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"model_type": ["llama"]}, "unsupported model_type ['llama']"),
        ({"model_type": {"a": 1}}, "unsupported model_type"),
        ({**GPT2_CONFIG, "n_embd": {}}, "'n_embd' must be a whole number"),
        ({**GPT2_CONFIG, "n_embd": [64]}, "'n_embd' must be a whole number"),
        ({**GPT2_CONFIG, "n_embd": "64"}, "'n_embd' must be a whole number"),
        ({**GPT2_CONFIG, "n_embd": True}, "'n_embd' must be a whole number"),
        ({**GPT2_CONFIG, "resid_pdrop": [0.1]}, "'resid_pdrop' must be a number"),
        ({**GPT2_CONFIG, "n_inner": 256.0}, "d_mlp: must be a whole number"),
        (
            {"model_type": "dbrx", "d_model": 8, "n_heads": 1, "n_layers": 1, "vocab_size": 1, "ffn_config": [1]},
            "'ffn_config' must be an object",
        ),
    ],
)
def test_config_values_of_the_wrong_type(tmp_path: Path, config: dict, fragment: str):
    p = write(tmp_path, "config.json", json.dumps(config))
    check_all(p, as_config(p), fragment)


# -- 3. size limit ---------------------------------------------------------------------------------------------


def test_a_file_over_the_size_limit(tmp_path: Path):
    limit = f"at most {MAX_FILE_BYTES // MiB} MiB"
    spec = write(tmp_path, "spec.yaml", SPEC + "#" * MAX_FILE_BYTES)
    check_all(spec, as_spec(spec), "spec.yaml", limit)
    config = write(tmp_path, "config.json", json.dumps(GPT2_CONFIG) + " " * MAX_FILE_BYTES)
    check_all(config, as_config(config), "config.json", limit)


# -- 4. the alias bomb -------------------------------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """~300 bytes that expand to width**levels (387 million) nodes: each level lists the previous one `width` times."""
    lines = ["a: &a [" + ", ".join(["x"] * width) + "]"]
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path):
    p = write(tmp_path, "bomb.yaml", alias_bomb())
    assert p.stat().st_size < 1024
    check_all(p, as_spec(p), "bomb.yaml:2:", "aliases", limit=2.0)


def test_a_single_alias_is_refused_too(tmp_path: Path):
    p = write(tmp_path, "spec.yaml", "d_embed: &d 64\nn_heads: 4\nn_layers: 2\nn_vocab: 100\nd_mlp: *d\n")
    check_all(p, as_spec(p), "spec.yaml:5:", "aliases (*d)")


# -- 5. YAML 1.1 coercions: integers must be integers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_layers", "1:30"),  # YAML 1.1: sexagesimal 90
        ("n_layers", "on"),  # YAML 1.1: true, then 1
        ("n_layers", "yes"),
        ("d_embed", "true"),  # a boolean, then 1
        ("n_layers", "0x10"),  # hex
        ("n_layers", "2.0"),  # a float
        ("n_layers", '"2"'),  # a string
        ("n_layers", "2024-01-01"),  # YAML 1.1: a date
    ],
)
def test_sizes_must_be_written_as_integers(tmp_path: Path, field: str, value: str):
    text = SPEC.replace("d_embed: 64", "d_embed: 4" if field == "d_embed" else "d_embed: 64")
    text = "\n".join(f"{field}: {value}" if line.startswith(f"{field}:") else line for line in text.splitlines())
    if field == "d_embed":
        text = text.replace("n_heads: 4", "n_heads: 1")
    p = write(tmp_path, "spec.yaml", text + "\n")
    check_all(p, as_spec(p), f"{field}: must be a whole number")


def test_a_leading_zero_is_decimal_and_underscores_still_group(tmp_path: Path):
    p = write(
        tmp_path, "spec.yaml", SPEC.replace("d_mlp: 256", "d_mlp: 0_256").replace("n_vocab: 100", "n_vocab: 0100")
    )
    r, _ = invoke("params", "--preset", str(p), "--json")
    assert r.exit_code == 0, r.output
    spec = json.loads(r.stdout)["spec"]
    assert spec["d_mlp"] == 256 and spec["n_vocab"] == 100  # YAML 1.1 would read 0100 as octal 64


def test_json_sizes_refuse_booleans_and_floats(tmp_path: Path):
    for value in (True, 64.0):
        p = write(tmp_path, "spec.json", json.dumps({**SPEC_JSON, "d_embed": value}))
        check_all(p, as_spec(p), "d_embed: must be a whole number")


# -- 6. one limit for numbers: units.MAX_QUANTITY (1e30), as on the command line ---------------------------------


def test_the_command_line_limit_reads_the_same():
    assert_refused(("memory", "--params", "1e31"), "must be at most 1e30")


@pytest.mark.parametrize("digits", [32, 400, 5_000])
def test_a_huge_number_in_a_file(tmp_path: Path, digits: int):
    huge = "9" * digits
    spec_json = write(tmp_path, "spec.json", json.dumps(SPEC_JSON).replace('"d_embed": 64', f'"d_embed": {huge}'))
    check_all(spec_json, as_spec(spec_json), "must be at most 1e30", f"{digits:,} digits")
    spec_yaml = write(tmp_path, "spec.yaml", SPEC.replace("d_mlp: 256", f"d_mlp: {huge}"))
    check_all(spec_yaml, as_spec(spec_yaml), "spec.yaml:5:", "must be at most 1e30")
    config = write(tmp_path, "config.json", json.dumps(GPT2_CONFIG).replace('"n_embd": 64', f'"n_embd": {huge}'))
    check_all(config, as_config(config), "must be at most 1e30")


def test_just_over_the_limit_is_refused_and_the_limit_itself_is_not(tmp_path: Path):
    over = write(tmp_path, "over.json", json.dumps({**SPEC_JSON, "d_mlp": MAX_QUANTITY + 1}))
    assert_refused(("params", "--preset", str(over)), "d_mlp: must be at most 1e30")
    for field in ("n_layers", "n_vocab", "d_mlp"):
        at = write(tmp_path, "at.json", json.dumps({**SPEC_JSON, field: MAX_QUANTITY}))
        r, _ = invoke("params", "--preset", str(at), "--json")
        assert r.exit_code == 0, r.output


@pytest.mark.parametrize("text", ['{"d_embed": NaN}', '{"d_embed": Infinity}', '{"dropout": 1e999}'])
def test_non_finite_numbers_in_json(tmp_path: Path, text: str):
    p = write(tmp_path, "spec.json", text)
    check_all(p, as_spec(p), "finite")


def test_a_huge_value_is_shortened_in_the_error(tmp_path: Path):
    p = write(tmp_path, "spec.json", json.dumps({**SPEC_JSON, "n_heads": 10**30 + 1}))
    line = assert_refused(("params", "--preset", str(p)), "n_heads: must be at most 1e30")
    assert len(line) < 300


# -- any file at all (hypothesis, a fixed seed): exit 0 or 2, one line, never a traceback ----------------------------------------------------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
_FIELDS = st.sampled_from(["d_embed", "n_heads", "n_layers", "n_vocab", "d_mlp", "n_kv_heads", "mlp", "dropout"])
_SPECS = st.dictionaries(_FIELDS, _VALUES, max_size=8).map(lambda d: {**SPEC_JSON, **d})
_CONFIG_KEYS = st.sampled_from(["model_type", "n_embd", "n_head", "n_layer", "hidden_act", "n_inner", "resid_pdrop"])
_CONFIGS = st.dictionaries(_CONFIG_KEYS, _VALUES, max_size=7).map(lambda d: {**GPT2_CONFIG, **d})


def _survives(suffix: str, data: bytes, option: str = "--preset") -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"file{suffix}"
        p.write_bytes(data)
        before = snapshot(p)
        r, elapsed = invoke("params", option, str(p), "--json")
        assert snapshot(p) == before
    assert "Traceback" not in r.output, r.output
    assert r.exit_code in (0, 2), (r.exit_code, r.output, r.exception)
    if r.exit_code == 2:
        assert isinstance(r.exception, SystemExit), repr(r.exception)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert elapsed < SECONDS


@pytest.mark.slow  # 60 CLI runs each, 1-4 s
@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.binary(max_size=200), st.sampled_from([".yaml", ".json"]))
def test_any_bytes(data: bytes, suffix: str):
    _survives(suffix, data)


@pytest.mark.slow  # 60 CLI runs each, 1-4 s
@settings(max_examples=60, deadline=None, derandomize=True)
@given(_SPECS, st.sampled_from(["json", "yaml"]))
def test_any_spec_values(spec: dict, form: str):
    if form == "json":
        _survives(".json", json.dumps(spec).encode())
    else:
        _survives(".yaml", yaml.safe_dump(spec, allow_unicode=True).encode())


@pytest.mark.slow  # 60 CLI runs each, 1-4 s
@settings(max_examples=60, deadline=None, derandomize=True)
@given(_CONFIGS)
def test_any_config_values(config: dict):
    _survives(".json", json.dumps(config).encode(), option="--hf-config")


def test_thousands_of_unknown_keys_and_a_huge_key_still_give_one_short_line(tmp_path: Path):
    keys = {f"key{i}": i for i in range(10_000)}
    p = write(tmp_path, "spec.json", json.dumps({**SPEC_JSON, **keys}))
    line = check_and_get(p, "unknown key 'key0'", "and 9,995 more")
    assert len(line) < 400, line
    p = write(tmp_path, "spec.json", json.dumps({**SPEC_JSON, "k" * 100_000: 1}))
    line = check_and_get(p, "unknown key 'kkk")
    assert len(line) < 400, line


def check_and_get(path: Path, *fragments: str) -> str:
    before = snapshot(path)
    line = assert_refused(("params", "--preset", str(path)), *fragments)
    assert snapshot(path) == before
    return line
