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


def _register_commands() -> None:
    """Import every command module in this package (cli/<command>.py registers itself on `app`)."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_register_commands()


def main() -> None:
    app()
