"""`llm-budget probe`: measure a real PyTorch model and hold every estimate to it."""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from llm_budget.choices import Checkpointing, Optimizer
from llm_budget.cli.options import (
    AttentionOpt,
    BatchOpt,
    BiasOpt,
    CheckpointingOpt,
    DEmbedOpt,
    Device,
    DHeadOpt,
    DMlpOpt,
    HfConfigOpt,
    JsonOpt,
    MlpOpt,
    ModelOpt,
    ModeOrBoth,
    NActiveExpertsOpt,
    NExpertsOpt,
    NHeadsOpt,
    NKvHeadsOpt,
    NLayersOpt,
    NormOpt,
    NPositionsOpt,
    NVocabOpt,
    OptimizerImplOpt,
    OptimizerOpt,
    PositionOpt,
    PrecisionOpt,
    PresetOpt,
    QkNormOpt,
    RecipeOpt,
    TiedOpt,
    build_spec,
    count,
    emit_json,
    user_errors,
)
from llm_budget.cli.setups import infer_setup, train_setup
from llm_budget.errors import LLMBudgetError
from llm_budget.units import parse_count

if TYPE_CHECKING:
    from llm_budget.probe.run import ProbeReport

app = typer.Typer(add_completion=False)

DEFAULT_MODEL = "gpt2-124m"
INSTALL_HINT = (
    "the probe needs PyTorch: from the llm-budget checkout, pip install torch==2.13.0 (the CPU build), "
    'then pip install -e ".[probe]"'
)
"""From a checkout: `llm-budget` on the package registry is an unrelated project, and `.[probe]` alone pulls a
CUDA build of torch."""
PATH_WORDS = {"cuda": "CUDA", "cpu": "real CPU tensors", "fake": "fake tensors"}


@app.command()
@user_errors
def probe(
    mode: Annotated[ModeOrBoth, typer.Option("--mode", help="Training step, serving, or both.")] = "both",
    precision: PrecisionOpt = "bf16",
    recipe: RecipeOpt = None,
    optimizer: OptimizerOpt = Optimizer.adamw,
    optimizer_impl: OptimizerImplOpt = None,
    batch: BatchOpt = "2",
    seq: Annotated[str, typer.Option("--seq", help="Training sequence length.", metavar="TOKENS")] = "512",
    context: Annotated[
        str, typer.Option("--context", help="Serving: tokens in the KV cache.", metavar="TOKENS")
    ] = "1024",
    checkpointing: CheckpointingOpt = Checkpointing.none,
    attention: AttentionOpt = "sdpa",
    fake: Annotated[
        bool, typer.Option("--fake", help="Run under PyTorch fake tensors: nothing allocated, any size, no GPU.")
    ] = False,
    device: Annotated[
        Optional[Device],
        typer.Option(
            "--device",
            help="Where to run: cuda, or cpu for real CPU tensors (default: cuda when available, else --fake).",
            show_default=False,
        ),
    ] = None,
    layers: Annotated[
        Optional[str],
        typer.Option(
            "--layers", help="Probe N blocks and extrapolate to the full depth.", metavar="N", show_default=False
        ),
    ] = None,
    tolerance: Annotated[
        Optional[float],
        typer.Option(
            "--tolerance",
            metavar="FRACTION",
            help="Relative tolerance on peaks (default 0.05; 0.10 for every row under --fsdp); exit 1 when exceeded.",
            show_default=False,
        ),
    ] = None,
    matrix: Annotated[
        bool, typer.Option("--matrix", help="Run the calibration matrix (architectures × recipes × …).")
    ] = False,
    out: Annotated[
        Optional[str],
        typer.Option(
            "--out",
            help="Write the reports as JSON to this file (checked before the run).",
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
    fsdp: Annotated[
        bool, typer.Option("--fsdp", help="Under torchrun: shard with FSDP2 and report per-rank memory.")
    ] = False,
    hf_model: Annotated[
        Optional[str],
        typer.Option(
            "--hf-model",
            help="A config.json: probe transformers' own model built from it (needs transformers).",
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
    json: JsonOpt = False,
    model_name: ModelOpt = None,
    preset: PresetOpt = None,
    hf_config: HfConfigOpt = None,
    d_embed: DEmbedOpt = None,
    n_heads: NHeadsOpt = None,
    n_layers: NLayersOpt = None,
    n_vocab: NVocabOpt = None,
    d_mlp: DMlpOpt = None,
    d_head: DHeadOpt = None,
    n_kv_heads: NKvHeadsOpt = None,
    n_positions: NPositionsOpt = None,
    n_experts: NExpertsOpt = None,
    n_active_experts: NActiveExpertsOpt = None,
    mlp: MlpOpt = None,
    norm: NormOpt = None,
    position: PositionOpt = None,
    qk_norm: QkNormOpt = None,
    tied: TiedOpt = None,
    bias: BiasOpt = None,
) -> None:
    """Build the model from the same spec, run it, measure what PyTorch allocates, compare with the estimate.

    Paths: CUDA (torch.cuda.max_memory_allocated), the CPU (--device cpu: real tensors, a dispatch-mode
    tally), or --fake (the same tally under fake tensors: nothing is allocated; the default without a GPU).
    Exit 1 when a row is off.
    """
    _check_out(out)
    _require_torch()
    from llm_budget.probe.measure import PROBED_OPTIMIZERS

    if optimizer not in PROBED_OPTIMIZERS:
        raise LLMBudgetError(
            f"--optimizer {optimizer.value}: the probe runs {', '.join(o.value for o in PROBED_OPTIMIZERS)} "
            "(use `llm-budget memory` for its estimate)"
        )
    from llm_budget.hardware import parse_precision
    from llm_budget.model.presets import load_preset
    from llm_budget.probe.run import DEFAULT_TOLERANCE, choose_path, probe_model

    model = build_spec(
        model=model_name,
        preset=preset,
        hf_config=hf_config,
        tied=tied,
        bias=bias,
        sizes=dict(
            d_embed=d_embed,
            n_heads=n_heads,
            n_layers=n_layers,
            n_vocab=n_vocab,
            d_mlp=d_mlp,
            d_head=d_head,
            n_kv_heads=n_kv_heads,
            n_positions=n_positions,
            n_experts=n_experts,
            n_active_experts=n_active_experts,
        ),
        kinds=dict(mlp=mlp, norm=norm, position=position, qk_norm=qk_norm),
        required=False,
    )
    if fsdp:
        _probe_fsdp(
            model or load_preset(DEFAULT_MODEL),
            precision=precision or "bf16",
            batch=batch,
            seq=seq,
            tolerance=tolerance,
            as_json=json,
        )
        return
    tol = DEFAULT_TOLERANCE if tolerance is None else tolerance
    if not 0 <= tol < 1:
        raise LLMBudgetError(f"--tolerance must be in [0, 1), got {tol}")
    try:
        path = choose_path(fake, device)
    except RuntimeError as e:
        raise LLMBudgetError(str(e)) from None
    if matrix:
        _matrix(path, tol, out=out, as_json=json)
        return
    transformers_config, spec = _hf_model(hf_model) if hf_model else (None, model or load_preset(DEFAULT_MODEL))
    prec = parse_precision(precision or "bf16")
    train = train_setup(
        precision=prec,
        recipe=recipe,
        optimizer=optimizer,
        optimizer_impl=optimizer_impl,
        batch=batch,
        seq=seq,
        lora_rank=None,
        checkpointing=checkpointing,
        attention=attention,
    )
    infer = infer_setup(precision=prec, kv_precision=None, batch=batch, context=context)
    with _status(f"probe {spec.label} ({PATH_WORDS[path]})") as on_step:
        reports = probe_model(
            spec,
            train=train,
            infer=infer,
            mode=mode,
            path=path,
            tolerance=tol,
            layers=count(layers, "--layers"),
            hf_config=transformers_config,
            on_step=on_step,
        )
    _write(out, {"reports": [r.model_dump(mode="json") for r in reports]})
    _show(reports, as_json=json)
    if not all(r.passed for r in reports):
        raise typer.Exit(code=1)


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise LLMBudgetError(INSTALL_HINT) from None


def _hf_model(path: str) -> tuple[dict[str, Any], Any]:
    """transformers' config.json, and the spec the estimate reads from it."""
    from llm_budget.probe.hf import read_config, spec_of

    config = read_config(path)
    return config, spec_of(config)


def _check_out(out: Optional[str]) -> None:
    """Refuse an --out the run could not write, before the run (a probe can take minutes)."""
    if not out:
        return
    import os

    folder = os.path.dirname(out) or "."
    if os.path.isdir(out):
        raise LLMBudgetError(f"--out {out!r} is a folder: name a file in it, e.g. {os.path.join(out, 'probe.json')!r}")
    if not os.path.isdir(folder):
        raise LLMBudgetError(f"--out {out!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(out) and not os.access(out, os.W_OK)):
        raise LLMBudgetError(f"--out {out!r} is not writable")


def _write(out: Optional[str], data: dict[str, Any]) -> None:
    if out:
        try:
            with open(out, "w", encoding="utf-8") as f:
                _json.dump(data, f, indent=2)
        except OSError as e:
            raise LLMBudgetError(f"--out {out!r}: {e.strerror or e}") from None


@contextmanager
def _status(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner with what the probe is doing, on stderr (shown on a terminal only; stdout stays the report)."""
    from rich.console import Console

    with Console(stderr=True).status(f"{text}…") as status:
        yield lambda step: status.update(f"{text}: {step}…")


def _show(reports: list[ProbeReport], *, as_json: bool) -> None:
    if as_json:
        emit_json(_json.dumps({"reports": [r.model_dump(mode="json") for r in reports]}, indent=2))
        return
    from llm_budget.render import console
    from llm_budget.render.probe import probe_view

    for r in reports:
        console().print(probe_view(r))


def _matrix(path: str, tolerance: float, *, out: Optional[str], as_json: bool) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from llm_budget.probe.matrix import run_matrix

    with Progress(transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task(f"probe matrix ({path})", total=None)
        data = run_matrix(
            path, tolerance, on_case=lambda done, total: progress.update(task, completed=done, total=total)
        )
    _write(out, data)
    if as_json:
        emit_json(_json.dumps({k: v for k, v in data.items() if k != "reports"}, indent=2))
    else:
        from llm_budget.render import console
        from llm_budget.render.probe import matrix_view

        console().print(matrix_view(data))
    if data["passed"] != data["cases"]:
        raise typer.Exit(code=1)


def _probe_fsdp(spec: Any, *, precision: str, batch: str, seq: str, tolerance: Optional[float], as_json: bool) -> None:
    """Under torchrun: every rank measures, the first prints every rank's report."""
    from llm_budget.probe.distributed import end_process_group, is_first_rank, probe_fsdp_all_ranks, start_process_group

    own_group = start_process_group()
    reports = probe_fsdp_all_ranks(
        spec,
        precision=precision,
        batch=parse_count(batch, what="--batch"),
        seq=parse_count(seq, what="--seq"),
        tolerance=tolerance,
    )
    if is_first_rank():
        _show(reports, as_json=as_json)
    passed = all(r.passed for r in reports)
    end_process_group(own_group, passed=passed)
    if not passed:
        raise typer.Exit(code=1)
