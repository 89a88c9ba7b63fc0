"""The typer app, without its commands (cli/<command>.py modules register themselves on it)."""

from __future__ import annotations

import typer

HELP = "Parameters, GPU memory and compute of transformer LLMs, exactly and offline."

app = typer.Typer(
    name="llm-budget",
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root() -> None:
    # A callback keeps `app` a command group even when only one command module is registered (see main()).
    pass
