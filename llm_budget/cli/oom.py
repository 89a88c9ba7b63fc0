"""`llm-budget oom`: read a PyTorch CUDA out-of-memory message (or a log that contains one) and explain it."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from llm_budget.errors import LLMBudgetError
from llm_budget.model.spec import ModelSpec
from llm_budget.units import parse_count
from llm_budget.cli._app import app
from llm_budget.cli._options import ExplainOpt, JsonOpt, emit_json, user_errors, with_model


def _read_stdin() -> str:
    stream = sys.stdin
    if stream is None or stream.isatty():
        raise LLMBudgetError(
            "no message: paste it in quotes (llm-budget oom \"CUDA out of memory. Tried to allocate …\") "
            "or pipe a log (llm-budget oom < train.log)"
        )
    text = stream.read()
    if not text.strip():
        raise LLMBudgetError("stdin was empty: pipe a log or traceback that contains the CUDA out-of-memory message, or pass the message in quotes")
    return text


Opt = typer.Option


@app.command()
@user_errors
@with_model(required=False)
def oom(
    model: Optional[ModelSpec],
    message: Annotated[
        Optional[str],
        typer.Argument(help="The out-of-memory message, in quotes. Without it (or with -): read a log from stdin.", show_default=False),
    ] = None,
    mode: Annotated[str, Opt("--mode", help="With a model: what ran out, train or infer.")] = "train",
    precision: Annotated[str, Opt("--precision", help="With a model: fp32 | bf16 | fp16 | int8 | nf4 …")] = "bf16",
    optimizer: Annotated[str, Opt("--optimizer", help="With a model: adamw | sgd | adamw8bit …")] = "adamw",
    batch: Annotated[str, Opt("--batch", help="With a model: micro-batch (or sequences served).")] = "1",
    seq: Annotated[Optional[str], Opt("--seq", help="With a model: training sequence length.")] = None,
    context: Annotated[Optional[str], Opt("--context", help="With a model: serving context.")] = None,
    checkpointing: Annotated[str, Opt("--checkpointing", help="With a model: none | selective | full.")] = "none",
    json: JsonOpt = False,
    explain: ExplainOpt = False,
) -> None:
    """Explain a PyTorch CUDA out-of-memory message: the figures, the diagnosis, what to change.

    Reads both the legacy message ("Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity; …)")
    and the current one ("GPU 0 has a total capacity of … of which … is free. …"); in a log, the last one.

    Examples: `llm-budget oom "CUDA out of memory. Tried to allocate …"`; `python train.py 2>&1 | llm-budget oom`;
    `llm-budget oom < train.log --json`; with a model (`--preset llama2-7b --batch 8 --seq 2048`), the
    accountant's need on that card and the changes that would make it fit.
    """
    from llm_budget.oom import explain_oom

    text = _read_stdin() if message is None or message == "-" else message
    report = explain_oom(text)
    if model is not None:
        from pydantic import ValidationError

        from llm_budget.memory import InferSetup, TrainSetup
        from llm_budget.oom import with_model_advice

        if mode not in ("train", "infer"):
            raise LLMBudgetError(f"--mode must be train or infer, not '{mode}'")
        try:
            train = TrainSetup(precision=precision, optimizer=optimizer, batch=parse_count(batch, what="--batch"),
                               seq=parse_count(seq, what="--seq") if seq else None, checkpointing=checkpointing)
            infer = InferSetup(precision=precision, batch=parse_count(batch, what="--batch"),
                               context=parse_count(context, what="--context") if context else None)
        except ValidationError as e:
            from llm_budget.cli.memory import _setup_error

            raise LLMBudgetError(_setup_error(e)) from None
        report = with_model_advice(report, model, mode=mode, train=train, infer=infer)
    if json:
        emit_json(report.model_dump_json(indent=2))
        return
    from llm_budget.render import console
    from llm_budget.render.oom import oom_view

    console().print(oom_view(report, explain=explain))
