"""The typer app: each command parses options, calls one pure function, renders the result.

Nothing imported here may import torch: estimation commands must start as fast as
`python -c "import typer, rich, pydantic, yaml"` (benchmarks/cli_latency.py measures it).
The console script registers only the command it runs; `from llm_budget.cli import app`
registers them all.
"""

from __future__ import annotations

from typing import Optional

_MODULE_OF = {"gpus": "fit"}
"""Commands that live in another command's module; every other command is cli/<command>.py."""


def _register_commands(only: Optional[str] = None) -> None:
    """Import the command modules (each registers its commands on the app). With `only`, that command's module
    alone, when there is one: building the other commands' options costs start-up time."""
    import importlib
    import pkgutil

    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    if only is not None and _MODULE_OF.get(only, only) in names:
        names = [_MODULE_OF.get(only, only)]
    for name in names:
        importlib.import_module(f"{__name__}.{name}")


def main() -> None:
    """The console script: register the command named on the command line (all of them for --help or a typo), run it."""
    import sys

    from llm_budget.cli._app import app

    first = sys.argv[1] if len(sys.argv) > 1 else None
    _register_commands(first if first and not first.startswith("-") else None)
    app()


def __getattr__(name: str) -> object:
    """`llm_budget.cli.app`: the app with every command registered."""
    if name == "app":
        from llm_budget.cli._app import app

        _register_commands()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
