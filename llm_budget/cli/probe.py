"""`llm-budget probe`: measure a real PyTorch model and hold every estimate to it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from llm_budget.errors import LLMBudgetError
from llm_budget.model.spec import ModelSpec
from llm_budget.units import parse_count
from llm_budget.cli._app import app
from llm_budget.cli._options import JsonOpt, emit_json, user_errors, with_model

Opt = typer.Option

DEFAULT_MODEL = "gpt2-124m"


def _torch():  # type: ignore[no-untyped-def]
    try:
        import torch
    except ImportError:
        raise LLMBudgetError("the probe needs PyTorch: pip install 'llm-budget[probe]'") from None
    return torch


@app.command()
@user_errors
@with_model(required=False)
def probe(
    model: Optional[ModelSpec],
    mode: Annotated[str, Opt("--mode", help="train | infer | both")] = "both",
    precision: Annotated[str, Opt("--precision", help="fp32 | bf16 | fp16")] = "bf16",
    recipe: Annotated[Optional[str], Opt("--recipe", help="fp32 | mixed | pure (default from --precision)")] = None,
    optimizer: Annotated[str, Opt("--optimizer", help="adamw | adam | sgd | sgd-momentum | adafactor")] = "adamw",
    optimizer_impl: Annotated[Optional[str], Opt("--optimizer-impl", help="foreach | for-loop | fused")] = None,
    batch: Annotated[str, Opt("--batch")] = "2",
    seq: Annotated[str, Opt("--seq", help="Training sequence length.")] = "512",
    context: Annotated[str, Opt("--context", help="Serving: tokens in the KV cache.")] = "1024",
    checkpointing: Annotated[str, Opt("--checkpointing", help="none | selective | full")] = "none",
    attention: Annotated[str, Opt("--attention", help="sdpa | eager")] = "sdpa",
    fake: Annotated[bool, Opt("--fake", help="Run under PyTorch fake tensors: nothing allocated, any size, no GPU.")] = False,
    device: Annotated[Optional[str], Opt("--device", help="cuda | cpu (default: cuda when available)")] = None,
    layers: Annotated[Optional[str], Opt("--layers", help="Probe N blocks and extrapolate to the full depth.")] = None,
    tolerance: Annotated[Optional[float], Opt("--tolerance", help="Relative tolerance on peaks (default 0.05; 0.10 for every row under --fsdp); exit 1 when exceeded.")] = None,
    matrix: Annotated[bool, Opt("--matrix", help="Run the calibration matrix (architectures × recipes × …).")] = False,
    out: Annotated[Optional[str], Opt("--out", help="Write the reports as JSON to this file.")] = None,
    fsdp: Annotated[bool, Opt("--fsdp", help="Under torchrun: shard with FSDP2 and report per-rank memory.")] = False,
    hf_model: Annotated[Optional[str], Opt("--hf-model", help="A config.json: probe transformers' own model built from it (needs transformers).")] = None,
    json: JsonOpt = False,
) -> None:
    """Build the model from the same spec, run it, measure what PyTorch allocates, compare with the estimate.

    Paths: CUDA (torch.cuda.max_memory_allocated), the CPU (real tensors, a dispatch-mode tally), or
    --fake (the same tally under fake tensors: nothing is allocated). Exit 1 when a row is off.
    """
    torch = _torch()
    from llm_budget.memory import InferSetup, TrainSetup
    from llm_budget.model.presets import load_preset
    from llm_budget.probe.run import ProbeReport, choose_path, probe_inference, probe_training

    if fsdp:
        from llm_budget.probe.distributed import probe_fsdp_cli

        probe_fsdp_cli(model or load_preset(DEFAULT_MODEL), precision=precision, batch=parse_count(batch, what="--batch"),
                       seq=parse_count(seq, what="--seq"), as_json=json, tolerance=tolerance)
        return
    tol = 0.05 if tolerance is None else tolerance
    if not 0 <= tol < 1:
        raise LLMBudgetError(f"--tolerance must be in [0, 1), got {tol}")
    try:
        path = choose_path(fake, device)
    except RuntimeError as e:
        raise LLMBudgetError(str(e)) from None
    if matrix:
        _run_matrix(path, out, tol, json)
        return
    hf_config = None
    if hf_model and mode == "infer":
        raise LLMBudgetError("serving is probed on the reference model: drop --hf-model, or use --mode train")
    if hf_model:
        from llm_budget.probe.hf import read_config, spec_of

        hf_config = read_config(hf_model)
        spec = spec_of(hf_config)
    else:
        spec = model or load_preset(DEFAULT_MODEL)
    n_layers = parse_count(layers, what="--layers") if layers else None
    if mode not in ("train", "infer", "both"):
        raise LLMBudgetError(f"--mode must be train, infer or both, not '{mode}'")
    try:
        train = TrainSetup(
            precision=precision, recipe=recipe, optimizer=optimizer, optimizer_impl=optimizer_impl,
            batch=parse_count(batch, what="--batch"), seq=parse_count(seq, what="--seq"),
            checkpointing=checkpointing, attention=attention,
        )
        infer = InferSetup(precision=precision, batch=parse_count(batch, what="--batch"), context=parse_count(context, what="--context"))
    except ValidationError as e:
        from llm_budget.cli.memory import _setup_error

        raise LLMBudgetError(_setup_error(e)) from None
    if path == "cpu":
        from llm_budget.memory import training_memory

        need = training_memory(spec, train.model_copy(update={"device": "cpu", "n_layers": n_layers})).total_bytes
        limit = _ram_limit()
        if need > limit:
            raise LLMBudgetError(
                f"{spec.label} needs about {need / 1e9:,.1f} GB to train for real here, over the {limit / 1e9:,.1f} GB this "
                "machine can spare: use --fake (no memory used) or --layers N"
            )
    reports: list[ProbeReport] = []
    if mode in ("train", "both"):
        reports.append(probe_training(spec, train, path=path, tolerance=tol, layers=n_layers, hf_config=hf_config))
    if mode in ("infer", "both") and hf_config is None:
        reports.append(probe_inference(spec, infer, path=path, tolerance=tol))
    _emit(reports, out, json)
    if not all(r.passed for r in reports):
        raise typer.Exit(code=1)
    _ = torch


def _ram_limit() -> int:
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") * 0.8)
    except (ValueError, OSError, AttributeError):
        return 8 * 10**9


def _emit(reports, out: Optional[str], as_json: bool) -> None:  # type: ignore[no-untyped-def]
    import json as _json

    payload = [r.model_dump(mode="json") for r in reports]
    if out:
        with open(out, "w", encoding="utf-8") as f:
            _json.dump({"reports": payload}, f, indent=2)
    if as_json:
        emit_json(_json.dumps({"reports": payload}, indent=2))
        return
    from llm_budget.render import console
    from llm_budget.render.probe import probe_view

    for r in reports:
        console().print(probe_view(r))


def _run_matrix(path: str, out: Optional[str], tolerance: float, as_json: bool) -> None:
    import json as _json

    from rich.progress import Progress

    from llm_budget.probe.matrix import inference_cases, training_cases
    from llm_budget.probe.run import probe_inference, probe_training, summarize

    dev = "cuda" if path == "cuda" else "cpu"
    train_cases = list(training_cases(dev))
    infer_cases = list(inference_cases(dev))
    reports = []
    names = []
    with Progress(transient=True) as progress:
        task = progress.add_task(f"probe matrix ({path})", total=len(train_cases) + len(infer_cases))
        for name, spec, setup, cfg in train_cases:
            reports.append(probe_training(spec, setup, path=path, tolerance=tolerance, hf_config=cfg))  # type: ignore[arg-type]
            names.append(name)
            progress.advance(task)
        for name, spec, setup in infer_cases:
            reports.append(probe_inference(spec, setup, path=path, tolerance=tolerance))  # type: ignore[arg-type]
            names.append(name)
            progress.advance(task)
    summary = summarize(reports)
    data = {
        "path": path,
        "device": reports[0].device if reports else "",
        "torch_version": reports[0].torch_version if reports else "",
        "cases": len(reports),
        "passed": sum(r.passed for r in reports),
        "summary": summary,
        "reports": [{"case": n, **r.model_dump(mode="json")} for n, r in zip(names, reports)],
    }
    if out:
        with open(out, "w", encoding="utf-8") as f:
            _json.dump(data, f, indent=2)
    if as_json:
        emit_json(_json.dumps({k: v for k, v in data.items() if k != "reports"}, indent=2))
    else:
        from llm_budget.render import console
        from llm_budget.render.probe import matrix_view

        console().print(matrix_view(data))
    if data["passed"] != data["cases"]:
        raise typer.Exit(code=1)
