"""Output that survives any terminal: COLUMNS of 0 or garbage, and 80 columns (issue 13)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from llm_budget.cli import app

runner = CliRunner()


def run(*args: str, columns: str):
    return runner.invoke(app, list(args), env={"COLUMNS": columns})


@pytest.mark.parametrize("columns", ["0", "-3", "abc", ""])
def test_a_senseless_columns_falls_back_to_80(columns):
    r = run("params", "--preset", "gpt2-124m", columns=columns)
    assert r.exit_code == 0, r.output
    assert "124,439,808" in r.stdout  # GPT-2's published count
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    r = run("--help", columns=columns)
    assert r.exit_code == 0 and "memory" in r.stdout


@pytest.mark.parametrize("columns", ["0", "-3", "abc"])
def test_errors_reach_stderr_at_any_columns(columns):
    r = run("params", "--preset", "no-such-preset", columns=columns)
    assert r.exit_code == 2
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and "no-such-preset" in line
    r = run("params", "--no-such-option", columns=columns)
    assert r.exit_code == 2 and r.stderr.startswith("error: ")


# -- 80 columns: names a user types and numbers are never cut --------------------------------------------------

OOM = (
    "RuntimeError: CUDA out of memory. Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity; "
    "14.56 GiB already allocated; 38.44 MiB free; 14.80 GiB reserved in total by PyTorch)"
)
NARROW_CASES = [
    ["gpus"],
    ["presets"],
    ["params", "--preset", "llama3-8b"],
    ["compute", "--preset", "llama3-8b", "--gpu", "h100-sxm", "--tokens", "15t"],
    ["compute", "--preset", "llama3-70b", "--gpu", "a100-80gb", "--vs", "v100-32gb", "--tokens", "2t"],
    ["scale", "--gpu", "h100-sxm", "--gpus", "1024", "--days", "30"],
    ["memory", "--preset", "llama3-8b"],
    ["memory", "--preset", "llama3-8b", "--mode", "infer"],
    ["fit", "--preset", "llama3-70b", "--gpu", "a100-40gb"],
    ["oom", OOM],
    ["oom", OOM, "--preset", "llama3-8b"],
]
_BOX = re.compile("[\u2500-\u257f]")


def _words(text: str) -> set[str]:
    return {w.strip(",;:()·") for w in _BOX.sub(" ", text).split()}


def _table_tokens(text: str) -> set[str]:
    """Numbers and names (words with a digit or a hyphen) of the table lines (those with a vertical rule)."""
    lines = [ln for ln in text.splitlines() if ("│" in ln or "┃" in ln) and "┤" not in ln and "•" not in ln]
    return {w for w in _words("\n".join(lines)) if any(ch.isdigit() or ch == "-" for ch in w)}


@pytest.mark.parametrize("args", NARROW_CASES, ids=lambda a: " ".join(a)[:40])
def test_at_80_columns_nothing_a_table_shows_is_cut(args):
    wide = run(*args, columns="250")
    narrow = run(*args, columns="80")
    assert wide.exit_code == narrow.exit_code == 0, narrow.output
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert narrow.stdout.count("…") <= wide.stdout.count("…")
    missing = _table_tokens(wide.stdout) - _words(narrow.stdout)
    assert not missing, missing


def test_at_80_columns_every_gpu_name_and_alias_is_whole():
    names = [n for g in json.loads(run("gpus", "--json", columns="80").stdout)["gpus"] for n in [g["name"]]]
    aliases = [a for g in json.loads(run("gpus", "--json", columns="80").stdout)["gpus"] for a in g["aliases"][:3]]
    words = _words(run("gpus", columns="80").stdout)
    assert set(names) <= words and set(aliases) <= words


def test_at_80_columns_every_preset_name_is_whole():
    names = [p["name"] for p in json.loads(run("presets", "--json", columns="80").stdout)["presets"]]
    assert set(names) <= _words(run("presets", columns="80").stdout)
