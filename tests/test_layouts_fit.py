"""`fit` with a layout the user chooses (issue 12, part 2): the training verdict is for exactly that layout,
offload needs a host-RAM figure, and changes are still listed when it does not fit."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.fit import advise
from llm_budget.hardware import load_gpu
from llm_budget.memory import Parallel, TrainSetup, training_memory
from llm_budget.model.presets import resolve

runner = CliRunner()


def fit(*args: str):
    return runner.invoke(app, ["fit", "--preset", "llama3-8b", "--gpu", "a100-80gb", "--mode", "train", *args])


def test_given_layout_is_evaluated_as_given():
    out = fit("--gpus", "8", "--seq", "4096", "--tp", "2", "--sharding", "zero-2", "--json")
    assert out.exit_code == 0, out.output
    verdict = json.loads(out.output)["verdicts"][0]
    assert verdict["layout_given"] and (verdict["dp"], verdict["tp"], verdict["pp"], verdict["zero"]) == (4, 2, 1, 2)
    # the need is the accountant's, for that layout: the same number `memory` prints
    expected = training_memory(resolve("llama3-8b"), TrainSetup(seq=4096, parallel=Parallel(dp=4, tp=2, zero=2)))
    assert verdict["required_bytes_per_gpu"] == expected.total_bytes


def test_default_search_is_untouched_without_a_layout():
    spec, gpu = resolve("llama3-8b"), load_gpu("a100-80gb")
    r = advise(spec, gpu, mode="train", gpus=8, train=TrainSetup(seq=4096))
    assert not r.verdicts[0].layout_given and r.verdicts[0].host is None


def test_offload_needs_host_ram_for_a_verdict():
    out = fit("--gpus", "8", "--sharding", "fsdp", "--offload", "all")
    assert out.exit_code == 2 and "--host-ram" in out.output and len(out.output.strip().splitlines()) == 1


def test_host_ram_too_small_does_not_fit():
    """FSDP CPU offload of a 8B model's states: weights 4 + gradients 4 + Adam 8 bytes/param (FP32, the fsdp
    convention), sharded over 8 GPUs of one node: at least 16 × 8.03e9 bytes ≈ 128 GB on the host."""
    small = fit(
        "--gpus", "8", "--seq", "1024", "--sharding", "fsdp", "--offload", "all", "--host-ram", "64GB", "--json"
    )
    assert small.exit_code == 0, small.output
    data = json.loads(small.output)
    host = data["verdicts"][0]["host"]
    assert host["per_node_bytes"] >= 16 * 8_030_261_248 and host["fits"] is False and data["fits"] is False
    assert data["changes"]  # still lists what would make it fit
    big = fit("--gpus", "8", "--seq", "1024", "--sharding", "fsdp", "--offload", "all", "--host-ram", "1TiB", "--json")
    assert json.loads(big.output)["verdicts"][0]["host"]["fits"] is True
    assert fit("--gpus", "8", "--sharding", "fsdp", "--offload", "all", "--host-ram", "64GB", "--check").exit_code == 1


def test_layout_that_does_not_make_the_gpus_is_refused():
    out = fit("--gpus", "8", "--tp", "3")
    assert out.exit_code == 2 and "dp × tp × pp must equal --gpus" in out.output
    out = fit("--gpus", "8", "--host-ram", "512GB")
    assert out.exit_code == 2 and "give --offload too" in out.output
    out = runner.invoke(
        app, ["fit", "--preset", "llama3-8b", "--gpu", "a100-80gb", "--mode", "infer", "--gpus", "2", "--tp", "2"]
    )
    assert out.exit_code == 2 and "--mode train" in out.output
