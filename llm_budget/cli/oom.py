"""`llm-budget oom`: read a PyTorch CUDA out-of-memory message (or a log that contains one) and explain it."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..errors import LLMBudgetError
from . import app
from ._options import ExplainOpt, JsonOpt, emit_json, user_errors


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


@app.command()
@user_errors
def oom(
    message: Annotated[
        Optional[str],
        typer.Argument(help="The out-of-memory message, in quotes. Without it (or with -): read a log from stdin.", show_default=False),
    ] = None,
    json: JsonOpt = False,
    explain: ExplainOpt = False,
) -> None:
    """Explain a PyTorch CUDA out-of-memory message: the figures, the diagnosis, what to change.

    Reads both the legacy message ("Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity; …)")
    and the current one ("GPU 0 has a total capacity of … of which … is free. …"); in a log, the last one.

    Examples: `llm-budget oom "CUDA out of memory. Tried to allocate …"`; `python train.py 2>&1 | llm-budget oom`;
    `llm-budget oom < train.log --json`.
    """
    from ..oom import explain_oom

    text = _read_stdin() if message is None or message == "-" else message
    report = explain_oom(text)
    if json:
        emit_json(report.model_dump_json(indent=2))
        return
    from ..render import console
    from ..render.oom import oom_view

    console().print(oom_view(report, explain=explain))
