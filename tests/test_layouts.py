"""A layout the user chooses (issue 12, part 2): ZeRO / FSDP / HSDP per-GPU model states against the ZeRO
paper's formulas, offload to host RAM, optimizer in backward, and the layout options' validation.

Expected numbers are arithmetic written here: Rajbhandari et al. 2020 (ZeRO) §5.1-5.3 and Figure 1 give the
per-GPU model states with Ψ parameters, N_d data-parallel ranks and K = 12 bytes of optimizer state:
DDP 2Ψ + 2Ψ + KΨ; ZeRO-1 2Ψ + 2Ψ + KΨ/N_d; ZeRO-2 2Ψ + (2 + K)Ψ/N_d; ZeRO-3 (2 + 2 + K)Ψ/N_d.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.memory import Parallel, TrainSetup, training_memory
from llm_budget.memory.card import training_report
from llm_budget.model.spec import ModelSpec

D, HEADS, KV, L, V, FF = 256, 8, 2, 4, 1000, 704
SPEC = ModelSpec(
    name="tiny-llama", d_embed=D, n_heads=HEADS, n_kv_heads=KV, n_layers=L, n_vocab=V, d_mlp=FF, mlp="gated",
    norm="rmsnorm", position="rotary", tied_embeddings=False, context_window=128,
)  # fmt: skip
HD = D // HEADS
PER_BLOCK = D * D + 2 * D * KV * HD + D * D + 3 * D * FF + 2 * D  # q, k, v, o, gate/up/down, two RMSNorms
PSI = 2 * V * D + D + L * PER_BLOCK  # embedding, unembedding (untied), final norm, blocks
TENSORS = 9 * L + 3  # each step counter is a 4-byte FP32 scalar per parameter tensor (torch.optim.AdamW)
ROPE = (
    2 * (HD // 2) * 4
)  # transformers' rotary inv_freq and original_inv_freq buffers (modeling_llama.py): head_dim/2 FP32 each
NDP = 4


def report(parallel: Parallel, **setup: object):
    # --convention zero: 2-byte weights and gradients, K = 12 (FP32 master 4 + Adam 8): the paper's 16 bytes/param
    base = dict(convention="zero", batch=1, seq=16, device="cpu", optimizer_impl="for-loop")
    return training_report(SPEC, TrainSetup(parallel=parallel, **{**base, **setup}))


def rows(r) -> dict[str, int]:
    return {c.name: c.bytes for c in r.components}


def test_psi_is_the_counted_parameters():
    assert report(Parallel()).params == PSI == 3_332_352


@pytest.mark.parametrize(
    ("zero", "weights", "gradients", "optimizer", "masters"),
    [
        (0, 2 * PSI + ROPE, 2 * PSI, 8 * PSI, 4 * PSI),  # DDP: everything replicated
        (1, 2 * PSI + ROPE, 2 * PSI, 8 * PSI // NDP, 4 * PSI // NDP),  # ZeRO-1: optimizer states (and masters)
        (2, 2 * PSI + ROPE, 2 * PSI // NDP, 8 * PSI // NDP, 4 * PSI // NDP),  # ZeRO-2: + gradients
        (3, (2 * PSI + ROPE) // NDP, 2 * PSI // NDP, 8 * PSI // NDP, 4 * PSI // NDP),  # ZeRO-3: + weights
    ],
)
def test_zero_stages_per_gpu_are_the_papers(zero, weights, gradients, optimizer, masters):
    r = report(Parallel(dp=NDP, zero=zero))
    s = r.settings
    assert s.weight_bytes - s.gathered_bytes == weights
    assert s.gradient_bytes == gradients
    assert s.optimizer_state_bytes == optimizer + TENSORS * 4  # the step counters are not sharded
    assert rows(r)["Master weights (FP32)"] == masters
    # the total model states, as Figure 1 writes them: (2 + 2 + K)Ψ / N_d at stage 3
    if zero == 3:
        assert s.weight_bytes - s.gathered_bytes + s.gradient_bytes + optimizer + masters == (16 * PSI + ROPE) // NDP


def test_ddp_keeps_a_bucket_copy_of_the_gradients():
    """DistributedDataParallel's default (gradient_as_bucket_view=False) all-reduces through buckets that copy
    every gradient: its docs say bucket views save "the total gradients size". 2 bytes × Ψ here."""
    assert rows(report(Parallel(dp=NDP, zero=0)))["DDP gradient buckets"] == 2 * PSI
    assert "DDP gradient buckets" not in rows(report(Parallel(dp=NDP, zero=1)))
    assert "DDP gradient buckets" not in rows(report(Parallel()))


def test_pipeline_rows_are_the_stage_that_peaks():
    """pp 2 on 4 layers: the first stage holds the embedding and 2 blocks, the last 2 blocks, the final norm and
    the unembedding; the rows are the stage whose step peaks higher, and the layout names it."""
    first = 2 * (V * D + 2 * PER_BLOCK)
    last = 2 * (2 * PER_BLOCK + D + V * D) + ROPE
    for seq in (4, 128):  # the last stage peaks at 4 tokens (optimizer step), the first at 128 (its 2 micro-batches)
        r = report(Parallel(pp=2), seq=seq)
        assert r.layout is not None and r.layout.peak_rank in ("the first pipeline stage", "the last pipeline stage")
        expected = first if r.layout.peak_rank == "the first pipeline stage" else last
        assert r.settings.weight_bytes == expected
        assert r.peak_phase.startswith(r.layout.peak_rank.removeprefix("the "))


def test_hybrid_shard_shards_within_the_group_only():
    """HSDP on 8 GPUs in groups of 4 keeps a quarter of each state, as full sharding on 4 GPUs does."""
    hybrid = report(Parallel(dp=8, zero=3, shard_group=4)).settings
    assert hybrid.weight_bytes - hybrid.gathered_bytes == (2 * PSI + ROPE) // 4
    assert hybrid.optimizer_state_bytes == 8 * PSI // 4 + TENSORS * 4
    assert report(Parallel(dp=8, zero=3)).settings.optimizer_state_bytes == 8 * PSI // 8 + TENSORS * 4


def test_offloaded_optimizer_lives_in_host_ram():
    """ZeRO-Offload (Ren et al. 2021 §4.1): optimizer states, FP32 masters and gradients on the host."""
    r = report(Parallel(dp=NDP, zero=2, offload="optimizer"))
    assert "Optimizer states" not in rows(r) and "Master weights (FP32)" not in rows(r)
    host = r.host
    assert host is not None
    assert host.per_gpu_bytes == 8 * PSI // NDP + TENSORS * 4 + 4 * PSI // NDP + 2 * PSI // NDP
    assert host.ranks_per_node == NDP and host.per_node_bytes == NDP * host.per_gpu_bytes


def test_offloaded_parameters_leave_only_the_gathered_blocks():
    r = report(Parallel(dp=NDP, zero=3, offload="all"))
    s, host = r.settings, r.host
    assert s.weight_bytes == s.gathered_bytes > 0  # no resident shard on the GPU
    assert host is not None
    assert (
        host.per_gpu_bytes == (2 * PSI + ROPE) // NDP + 8 * PSI // NDP + TENSORS * 4 + 4 * PSI // NDP + 2 * PSI // NDP
    )


def test_host_ram_figure_gives_a_verdict():
    r = training_report(
        SPEC,
        TrainSetup(seq=16, device="cpu", parallel=Parallel(dp=16, zero=3, offload="optimizer")),
        gpus_per_node=8,
        host_ram=10**6,
    )
    assert (
        r.host is not None and r.host.ranks_per_node == 8 and r.host.available_bytes == 10**6 and r.host.fits is False
    )


def test_optimizer_in_backward_never_holds_every_gradient():
    """torchtune's optimizer_in_bwd: each gradient is stepped and freed as it is made; at a short sequence the
    ordinary step peaks at the optimizer step with every FP32 gradient live (4Ψ under autocast), the fused one
    never holds more than what one backward phase makes at once (the unembedding's V·d, or one block's)."""
    plain = report(Parallel(), convention="autocast", seq=4)
    fused = report(Parallel(optimizer_in_backward=True), convention="autocast", seq=4)
    assert plain.peak_phase == "optimizer step" and rows(plain)["Gradients"] == 4 * PSI
    assert fused.peak_phase != "optimizer step" and fused.total_bytes < plain.total_bytes
    assert rows(fused).get("Gradients", 0) <= 4 * max(V * D, PER_BLOCK)


# -- the command line -----------------------------------------------------------------------------------------

MODEL = ["--d-embed", str(D), "--n-heads", str(HEADS), "--n-kv-heads", str(KV), "--n-layers", str(L),
         "--n-vocab", str(V), "--d-mlp", str(FF), "--mlp", "gated"]  # fmt: skip


def run(*args: str):
    return CliRunner().invoke(app, ["memory", *MODEL, "--mode", "train", "--seq", "16", *args])


def test_memory_takes_a_layout_and_reports_it_in_json():
    out = run("--gpus", "8", "--tp", "2", "--sharding", "fsdp", "--sequence-parallel", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["settings"]["parallel"] == {"dp": 4, "tp": 2, "pp": 1, "zero": 3, "sp": True, "micro_batches": None}
    assert data["layout"]["gpus"] == 8 and data["layout"]["sharding"] == "ZeRO-3 / FSDP full shard"
    assert data["host"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus", "8", "--tp", "3"], "dp × tp × pp must equal --gpus"),
        (["--gpus", "8", "--dp", "2"], "--dp 2 × --tp 1 × --pp 1 = 2 GPUs, but --gpus is 8"),
        (["--gpus", "3", "--tp", "3"], "--tp 3 does not divide the 8 attention heads"),
        (["--gpus", "8", "--pp", "8"], "--pp 8 pipeline stages for 4 layers"),
        (["--gpus", "8", "--offload", "params"], "offloading parameters needs sharded weights"),
        (["--gpus", "8", "--offload", "optimizer"], "not DDP"),
        (["--gpus", "8", "--shard-group", "4"], "--shard-group applies to --sharding hsdp"),
        (["--gpus", "8", "--sharding", "hsdp", "--shard-group", "3"], "does not divide the 8 data-parallel ranks"),
        (["--offload", "optimizer", "--host-ram", "512"], "give a size with its unit"),
        (["--gpus", "8", "--micro-batches", "4"], "give --pp 2 or more"),
        (["--gpus", "8", "--sequence-parallel"], "give --tp 2 or more"),
    ],
)
def test_bad_layouts_are_one_line_errors(args, message):
    out = run(*args)
    assert out.exit_code == 2, out.output
    assert message in out.output and len(out.output.strip().splitlines()) == 1, out.output


def test_kv_heads_that_tp_neither_divides_nor_replicates():
    out = CliRunner().invoke(
        app, ["memory", *MODEL[:4], "--n-kv-heads", "4", *MODEL[6:], "--mode", "train", "--gpus", "8", "--tp", "8"]
    )
    assert out.exit_code == 0, out.output  # 8 = 2 × 4: each KV head replicated on two ranks
    spec12 = ["--d-embed", "384", "--n-heads", "12", "--n-kv-heads", "3", *MODEL[6:]]
    out = CliRunner().invoke(app, ["memory", *spec12, "--mode", "train", "--gpus", "2", "--tp", "2"])
    assert out.exit_code == 2 and "3 KV heads" in out.output, out.output


def test_serving_refuses_training_layouts():
    out = CliRunner().invoke(app, ["memory", *MODEL, "--mode", "infer", "--tp", "2"])
    assert out.exit_code == 2 and "apply to training" in out.output


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("512GB", 512 * 10**9),
        ("480GiB", 480 * 2**30),
        ("1.5TB", 15 * 10**11),
        ("2 TiB", 2 * 2**40),
        ("64mib", 64 * 2**20),
    ],
)
def test_host_ram_is_read_with_its_unit(typed, expected):
    from llm_budget.cli.options import memory_size

    assert memory_size(typed, "--host-ram") == expected


def test_default_memory_report_is_unchanged_by_the_layout():
    """No layout option: the report's numbers are training_memory's (the golden numbers hold)."""
    setup = TrainSetup(batch=2, seq=64)
    assert training_report(SPEC, setup).total_bytes == training_memory(SPEC, setup).total_bytes
