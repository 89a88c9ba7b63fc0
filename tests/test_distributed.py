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


TP_WORKER = """
import json, os, sys
import torch.distributed as dist
from llm_budget.memory import TrainSetup
from llm_budget.model.spec import ModelSpec
from llm_budget.probe.distributed import probe_tp

dist.init_process_group("gloo")
spec = ModelSpec(name="tiny", d_embed=256, n_heads=8, n_kv_heads=2, n_layers=4, n_vocab=1000, d_mlp=704,
                 mlp="gated", norm="rmsnorm", position="rotary", tied_embeddings=False, context_window=128)
setup = TrainSetup(precision=sys.argv[2], batch=2, seq=64, device="cpu")
report = probe_tp(spec, setup, tp=int(sys.argv[1])).model_dump(mode="json")
reports = [None] * dist.get_world_size()
dist.all_gather_object(reports, report)
if dist.get_rank() == 0:
    print(json.dumps(reports))
dist.barrier()
sys.stdout.flush()
os._exit(0)  # gloo's threads can abort the interpreter's finalization (see probe/distributed.py)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ranks", "precision", "gradients_within"),
    [
        # TP 2 alone (fp32): gradients measure 7.2% above the estimate. PyTorch 2.13's DTensor gives the row-wise
        # (vocab-)sharded embedding a Replicate, full [vocab, d] gradient (1,024,000 bytes, not the shard's 512,000):
        # embedding_dense_backward's sharding rule. The accountant counts Megatron's VocabParallelEmbedding, whose
        # gradient is the [vocab/tp, d] shard. Under FSDP2 × TP the gradient is reduce-scattered and matches.
        (2, "fp32", 0.08),
        # FSDP2 over 2 × TP 2 on a 2-D mesh (bf16: FSDP2's MixedPrecisionPolicy)
        (4, "bf16", 1e-3),
    ],
)
def test_tensor_parallel_ranks_against_the_estimate(tmp_path, ranks, precision, gradients_within):
    """DTensor tensor parallelism (parallelize_module with ColwiseParallel / RowwiseParallel on the reference
    model's attention, MLP, embedding and unembedding, loss_parallel) on gloo CPU ranks: each rank's weights and
    optimizer states are the accountant's per-GPU estimate for the same layout (the norms, replicated by TP,
    are the 0.07% difference), and its peak within 10% (the collectives free their buffers asynchronously)."""
    worker = tmp_path / "tp_worker.py"
    worker.write_text(TP_WORKER)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks), str(worker)]
    out = subprocess.run(cmd + ["2", precision], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    reports = json.loads(out.stdout[out.stdout.index("[") :])
    assert len(reports) == ranks
    for r in reports:
        rows = {row["component"]: row for row in r["rows"]}
        assert abs(rows["weights"]["error"]) < 1e-3 and abs(rows["optimizer states"]["error"]) < 1e-3
        assert abs(rows["gradients"]["error"]) <= gradients_within
        assert abs(rows["peak"]["error"]) <= 0.10
