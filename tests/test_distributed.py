"""FSDP2 on 2 CPU ranks (gloo): per-rank memory against the accountant's ZeRO-3 estimate."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("torch")

MODEL = [
    "--d-embed",
    "256",
    "--n-heads",
    "8",
    "--n-kv-heads",
    "2",
    "--n-layers",
    "4",
    "--n-vocab",
    "1000",
    "--d-mlp",
    "704",
    "--mlp",
    "gated",
]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_fsdp_two_cpu_ranks(precision):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "llm_budget",
        "probe",
        "--fsdp",
        *MODEL,
        "--precision",
        precision,
        "--batch",
        "2",
        "--seq",
        "64",
        "--json",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[:3000]
    data = json.loads(out.stdout[out.stdout.index("{") :])
    reports = data["reports"]
    assert len(reports) == 2 and {r["settings"]["rank"] for r in reports} == {0, 1}
    for r in reports:
        rows = {row["component"]: row for row in r["rows"]}
        # Sharded model states: half of the model's on each rank (to FSDP2's padding); the gradients are read
        # once the reduce-scatters have settled. The peak moves with when the asynchronous collectives free
        # their buffers (-5.4% ... +0.7% seen), so it is held to 10%.
        assert abs(rows["weights"]["error"]) < 1e-4 and rows["optimizer states"]["error"] == 0
        assert abs(rows["gradients"]["error"]) < 1e-3
        assert abs(rows["peak"]["error"]) <= 0.10
        assert r["passed"]


def test_fsdp_without_a_process_group_is_a_clear_error():
    from typer.testing import CliRunner

    from llm_budget.cli import app

    r = CliRunner().invoke(app, ["probe", "--fsdp", *MODEL])
    assert r.exit_code == 2 and "torchrun" in r.stderr and len(r.stderr.strip().splitlines()) == 1
