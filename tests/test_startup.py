"""Estimation commands must not import torch (or transformers, numpy): they answer in well under a second."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each test starts a fresh interpreter (about a second)

LECTURE_OOM = (
    "RuntimeError: CUDA out of memory. Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity; 14.56 GiB already "
    "allocated; 38.44 MiB free; 14.80 GiB reserved in total by PyTorch)"
)
HEAVY = ("torch", "transformers", "numpy")


def _run_console_script(argv: list[str], *, also_absent: tuple[str, ...] = ()) -> str:
    """Run `llm-budget ARGV` as the console script does, in a fresh interpreter; fail if a heavy module was imported."""
    absent = HEAVY + also_absent
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['llm-budget', *{argv!r}]\n"
        "try:\n"
        "    runpy.run_module('llm_budget', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        f"loaded = sorted(m for m in {absent!r} if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["dtype", "3.141592", "--json"], '"stored_value": "3.1415920257568359375"'),  # the lecture's FP32 value
        (["oom", LECTURE_OOM, "--json"], '"diagnosis": "full"'),  # 0.24 GiB unallocated of 15.78: a full card
        (["memory", "--params", "1e9", "--json"], '"total_bytes": 24000000000'),  # the lecture: 24 bytes/param
    ],
)
def test_estimation_commands_do_not_import_torch(argv, expected):
    assert expected in _run_console_script(argv)


def test_params_imports_neither_torch_nor_the_other_commands():
    # the console script builds only the command it runs (cli.COMMANDS); each command imports its arithmetic when it runs
    from llm_budget.cli import COMMANDS

    others = (
        "llm_budget.compute",
        "llm_budget.memory",
        "llm_budget.fit",
        "llm_budget.hardware",
        "llm_budget.oom",
        "llm_budget.dtypes",
        *(module for name, module in COMMANDS.items() if name != "params"),
    )
    out = _run_console_script(["params", "--preset", "gpt3-175b", "--json"], also_absent=others)
    assert '"total": 175181291520' in out  # Brown et al. 2020 / the lecture's table


def test_python_dash_m_works():
    r = subprocess.run(
        [sys.executable, "-m", "llm_budget", "params", "--preset", "gpt2-124m", "--json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert '"total": 124439808' in r.stdout
