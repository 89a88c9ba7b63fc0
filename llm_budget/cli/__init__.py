"""The typer app: each command parses options, calls one pure function, renders the result.

Nothing imported here may import torch: estimation commands must start as fast as
`python -c "import typer, rich, pydantic, yaml"` (benchmarks/cli_latency.py measures it).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="llm-budget",
    help="Parameters, GPU memory and compute of transformer LLMs, exactly and offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

from . import params as _params  # noqa: E402,F401  (registers commands)
from . import presets as _presets  # noqa: E402,F401


def main() -> None:
    app()
