"""Estimation commands must not import torch (or transformers): they answer in well under a second."""

from __future__ import annotations

import subprocess
import sys


def test_cli_does_not_import_torch():
    code = (
        "import sys, runpy\n"
        "sys.argv = ['llm-budget', 'params', '--preset', 'gpt3-175b', '--json']\n"
        "try:\n"
        "    runpy.run_module('llm_budget', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "# nor the other commands' models: each command imports its arithmetic when it runs\n"
        "others = sorted(m for m in ('llm_budget.scaling', 'llm_budget.compute', 'llm_budget.memory', 'llm_budget.fit',\n"
        "                            'llm_budget.gpus', 'llm_budget.oom', 'llm_budget.dtypes') if m in sys.modules)\n"
        "assert not others, others\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert '"total": 175181291520' in r.stdout


def test_python_dash_m_works():
    r = subprocess.run([sys.executable, "-m", "llm_budget", "params", "--preset", "gpt2-124m", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert '"total": 124439808' in r.stdout
