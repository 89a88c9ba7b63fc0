"""The probe under FSDP2: shard the reference model with `fully_shard`, measure one rank, compare with ZeRO-3.

Run it under torchrun (`torchrun --nproc-per-node 8 -m llm_budget probe --preset llama3-8b --fsdp`),
or spawn ranks yourself and call `probe_fsdp` in each (tests/test_distributed.py runs 2 CPU ranks
over gloo). Each block is one FSDP unit, and so is the root (embeddings, final norm, unembedding);
mixed precision is FSDP2's MixedPrecisionPolicy (16-bit compute, FP32 sharded weights, gradients
reduced in FP32), which the accountant calls the `fsdp` convention.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
from collections.abc import Callable
from typing import Optional

import torch
import torch.distributed as dist

from llm_budget.defaults import sequence_length
from llm_budget.errors import LLMBudgetError
from llm_budget.memory import Convention, MemoryReport, Parallel, Recipe, TrainSettings, TrainSetup, training_memory
from llm_budget.model.spec import ModelSpec
from llm_budget.probe.measure import (
    DTYPES,
    LiveBytes,
    StepMeasurement,
    _Meter,
    build_model,
    make_optimizer,
    measure_two_steps,
)
from llm_budget.probe.run import ProbeReport, ProbeRow, _row


def shard_model(model: torch.nn.Module, setup: TrainSetup, *, mesh: object = None) -> None:
    """fully_shard each block and the root (over `mesh`: the data-parallel dimension of a 2-D mesh)."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    mp = None
    if setup.resolved_recipe is Recipe.mixed:
        mp = MixedPrecisionPolicy(param_dtype=DTYPES[setup.precision], reduce_dtype=torch.float32)
    kw: dict[str, object] = {"mp_policy": mp} if mp is not None else {}
    if mesh is not None:
        kw["mesh"] = mesh
    for block in model.blocks:  # type: ignore[union-attr]
        fully_shard(block, **kw)  # type: ignore[call-overload]
    fully_shard(model, **kw)  # type: ignore[call-overload]


def measure_fsdp_step(spec: ModelSpec, setup: TrainSetup) -> StepMeasurement:
    """Two steps of the FSDP2-sharded model on this rank; the second is measured (like measure_training_step)."""
    return measure_sharded_step(spec, setup, lambda model: shard_model(model, setup))


def measure_sharded_step(
    spec: ModelSpec,
    setup: TrainSetup,
    shard: Callable[[torch.nn.Module], None],
    loss_context: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> StepMeasurement:
    """Two steps of the model as `shard` lays it out on this rank (the loss and its backward inside
    `loss_context`: DTensor's loss_parallel under tensor parallelism); the second is measured."""
    cuda = torch.cuda.is_available() and dist.get_backend() == "nccl"
    path = "cuda" if cuda else "cpu"
    device = f"cuda:{torch.cuda.current_device()}" if cuda else "cpu"
    tracker = None if cuda else LiveBytes()
    meter = _Meter(path, tracker)
    m = StepMeasurement(path=path, device=torch.cuda.get_device_name() if cuda else "cpu")
    if cuda:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    seq = sequence_length(setup.seq, spec.context_window)
    with tracker if tracker is not None else contextlib.nullcontext():
        before = meter.now()
        torch.manual_seed(0)
        model = build_model(
            spec,
            setup.model_copy(update={"recipe": Recipe.fp32 if setup.resolved_recipe is Recipe.mixed else setup.recipe}),
            device,
            setup.attention,
        )
        shard(model)
        dist.barrier()  # DTensor's distribute_tensor scatters from rank 0: let its send buffers go
        gc.collect()
        m.weights = meter.now() - before
        opt = make_optimizer(model, setup)
        g = torch.Generator(device=device).manual_seed(dist.get_rank())
        tokens = torch.randint(0, spec.n_vocab, (setup.batch, seq), device=device, generator=g)
        targets = torch.randint(0, spec.n_vocab, (setup.batch, seq), device=device, generator=g)

        def forward() -> torch.Tensor:
            return model.loss(tokens, targets)  # type: ignore[operator,no-any-return]  # noqa: F821 (deleted after the step)

        def settle() -> None:
            # The reduce-scatters are asynchronous: the barrier waits for them, but a worker thread of the
            # backend may still hold a finished one's buffers for a moment. Read until the live bytes stop
            # falling (three equal readings 10 ms apart; at most 2 s).
            dist.barrier()
            if cuda:
                torch.cuda.synchronize()
            last, same = meter.now(), 0
            for _ in range(200):
                time.sleep(0.01)
                now = meter.now()
                same = same + 1 if now == last else 0
                last = now
                if same >= 2:
                    break

        with loss_context():
            measure_two_steps(m, meter, opt, forward, after_backward=settle, cuda=cuda)
        del model, opt
    return m


DEFAULT_TOLERANCE = 0.10
"""Sharded layouts are estimated (padding, gathered units, reduce-scatter buffers): every row within 10%."""


def probe_fsdp(spec: ModelSpec, setup: TrainSetup, *, tolerance: float = DEFAULT_TOLERANCE) -> ProbeReport:
    """One rank's measurement against the accountant's ZeRO-3 estimate for the same world size."""
    if not dist.is_available() or not dist.is_initialized():
        raise LLMBudgetError(
            "--fsdp needs a process group: run under torchrun (torchrun --nproc-per-node N -m llm_budget probe --fsdp …)"
        )
    world = dist.get_world_size()
    meas = measure_fsdp_step(spec, setup)
    convention = Convention.fsdp if setup.resolved_recipe is Recipe.mixed else setup.convention
    est = training_memory(
        spec,
        setup.model_copy(
            update={
                "parallel": Parallel(dp=world, zero=3),
                "device": meas.path,
                "convention": convention,
                "implementation": "reference",
            }
        ),
    )
    settings = {
        "world_size": world,
        "rank": dist.get_rank(),
        "fsdp": "fully_shard per block + root",
        "estimate": "ZeRO-3",
        "recipe": est.recipe,
        "convention": convention.value,
    }
    return _report(spec, meas, est, tolerance, settings)


def _report(
    spec: ModelSpec, meas: StepMeasurement, est: MemoryReport, tolerance: float, settings: dict[str, object]
) -> ProbeReport:
    """This rank's rows (weights, optimizer states, gradients, peak) against the estimate, each within `tolerance`."""
    s = est.settings
    assert isinstance(s, TrainSettings)
    rows: list[ProbeRow] = [
        # the gathered blocks are part of the estimate's weights but not resident after the step
        _row("train", "weights", s.weight_bytes - s.gathered_bytes, meas.weights, tolerance),
        _row("train", "optimizer states", s.optimizer_state_bytes, meas.states, tolerance),
        _row("train", "gradients", s.gradient_bytes, meas.gradients, tolerance),
        _row("train", "peak", est.total_bytes, meas.peak, tolerance),
    ]
    rows = [
        r.model_copy(
            update={"tolerance": tolerance, "ok": r.measured_bytes is not None and abs(r.error or 0) <= tolerance}
        )
        for r in rows
    ]
    rank, world = settings["rank"], settings["world_size"]
    return ProbeReport(
        device=meas.device,
        path=meas.path,  # type: ignore[arg-type]
        torch_version=torch.__version__,
        model=spec.label,
        settings=settings,
        layers_probed=spec.n_layers,
        layers_total=spec.n_layers,
        rows=rows,
        passed=all(r.ok for r in rows),
        notes=[
            f"Rank {rank} of {world}. Sharded rows are compared within ±{100 * tolerance:g}% (FSDP2 pads each tensor's first dimension to the world size)."
        ],
    )


def tensor_parallel(model: torch.nn.Module, mesh: object) -> None:
    """Megatron-style tensor parallelism with PyTorch's own DTensor plans (as torchtitan applies them): q, k, v,
    gate and up column-wise, o and down row-wise, the embedding row-wise (vocab split), the unembedding column-wise
    with its logits left sharded for loss_parallel; each attention keeps its local heads. Norms are replicated."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    tp = mesh.size()  # type: ignore[attr-defined]
    for block in model.blocks:  # type: ignore[union-attr]
        attn, mlp = block.attn, block.mlp
        if attn.h % tp or attn.kv % tp:
            raise LLMBudgetError(
                f"the probe's tensor parallelism splits whole heads: {tp} ranks for {attn.h} heads, {attn.kv} KV heads"
            )
        plan = {
            "attn.q": ColwiseParallel(),
            "attn.k": ColwiseParallel(),
            "attn.v": ColwiseParallel(),
            "attn.o": RowwiseParallel(),
        }
        plan.update({"mlp.up": ColwiseParallel(), "mlp.down": RowwiseParallel()})
        if getattr(mlp, "gate", None) is not None:
            plan["mlp.gate"] = ColwiseParallel()
        parallelize_module(block, mesh, plan)  # type: ignore[arg-type]
        attn.h, attn.kv = attn.h // tp, attn.kv // tp
    parallelize_module(
        model,
        mesh,  # type: ignore[arg-type]
        {
            "embed": RowwiseParallel(input_layouts=Replicate()),
            "unembed": ColwiseParallel(output_layouts=Shard(-1), use_local_output=False),
        },
    )


def probe_tp(spec: ModelSpec, setup: TrainSetup, *, tp: int, tolerance: float = DEFAULT_TOLERANCE) -> ProbeReport:
    """One rank's measurement under tensor parallelism over `tp` ranks (and FSDP2 over the others: a 2-D mesh,
    data-parallel outer, tensor-parallel inner), against the accountant's estimate for the same layout."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor.parallel import loss_parallel

    world = dist.get_world_size()
    if world % tp:
        raise LLMBudgetError(f"{world} ranks are not a multiple of tensor parallel {tp}")
    dp = world // tp
    device_type = "cuda" if torch.cuda.is_available() and dist.get_backend() == "nccl" else "cpu"
    mesh = init_device_mesh(device_type, (dp, tp), mesh_dim_names=("dp", "tp"))

    mixed = setup.resolved_recipe is Recipe.mixed
    if mixed and dp == 1:
        raise LLMBudgetError(
            "the probe's tensor parallelism alone runs fp32 or pure bf16; mixed precision is FSDP2's policy"
        )

    def shard(model: torch.nn.Module) -> None:
        tensor_parallel(model, mesh["tp"])
        if dp > 1:
            shard_model(model, setup, mesh=mesh["dp"])

    meas = measure_sharded_step(spec, setup, shard, loss_parallel)
    parallel = Parallel(dp=dp, tp=tp, zero=3 if dp > 1 else 0)
    est = training_memory(
        spec, setup.model_copy(update={"parallel": parallel, "device": meas.path, "implementation": "reference"})
    )
    layout = f"tensor parallel {tp}" + (f" × FSDP2 over {dp}" if dp > 1 else "")
    return _report(spec, meas, est, tolerance, {"world_size": world, "rank": dist.get_rank(), "layout": layout})


def start_process_group() -> bool:
    """Join torchrun's process group (NCCL on CUDA, gloo on the CPU); True when this call created it."""
    if "RANK" not in os.environ and not (dist.is_available() and dist.is_initialized()):
        raise LLMBudgetError(
            "--fsdp needs a process group: run under torchrun (torchrun --nproc-per-node N -m llm_budget probe --fsdp …)"
        )
    if dist.is_initialized():
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend)
    return True


def probe_fsdp_all_ranks(
    spec: ModelSpec, *, precision: str, batch: int, seq: int, tolerance: Optional[float]
) -> list[ProbeReport]:
    """Every rank measures; every rank gets every rank's report, in rank order."""
    setup = TrainSetup(precision=precision, batch=batch, seq=seq, device="cuda" if torch.cuda.is_available() else "cpu")  # type: ignore[arg-type]
    report = probe_fsdp(spec, setup, tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance)
    reports: list[Optional[ProbeReport]] = [None] * dist.get_world_size()
    dist.all_gather_object(reports, report)
    return [r for r in reports if r is not None]


def is_first_rank() -> bool:
    return dist.get_rank() == 0


def end_process_group(own_group: bool, *, passed: bool) -> None:
    """Wait for every rank; when this process created the group, destroy it and leave with 0 (passed) or 1."""
    dist.barrier()
    if not own_group:
        return
    dist.destroy_process_group()
    # Gloo's worker threads can abort the interpreter's finalization ("terminate called without an active
    # exception", SIGABRT; about 1 run in 8 here, see pytorch/pytorch#179291). The results are printed:
    # leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if passed else 1)
