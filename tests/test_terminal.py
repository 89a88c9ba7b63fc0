"""Output that survives any terminal: COLUMNS of 0 or garbage, and 80 columns (issue 13)."""

from __future__ import annotations

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
