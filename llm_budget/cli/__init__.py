"""The `llm-budget` command: a table of its commands, each imported only when it runs (all of them for --help).

Each cli/<module>.py holds one command (presets: a small group) on its own `app`; its function parses the
options, calls one calculator and renders the result. Nothing imported before a command runs may import torch:
estimation commands start about as fast as `python -c "import typer, rich, pydantic, yaml"`
(benchmarks/cli_latency.py). `from llm_budget.cli import app` is the whole command (tests use it with CliRunner).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from llm_budget import __version__

COMMANDS: dict[str, str] = {
    "params": "llm_budget.cli.params",
    "presets": "llm_budget.cli.presets",
    "memory": "llm_budget.cli.memory",
    "fit": "llm_budget.cli.fit",
    "serve": "llm_budget.cli.serve",
    "gpus": "llm_budget.cli.gpus",
    "compute": "llm_budget.cli.compute",
    "scale": "llm_budget.cli.scale",
    "dtype": "llm_budget.cli.dtype",
    "oom": "llm_budget.cli.oom",
    "probe": "llm_budget.cli.probe",
}
"""Command name -> the module whose `app` holds it, in the order `--help` lists them."""


class LazyCommands(Mapping[str, Any]):
    """COMMANDS as click commands: a module is imported, and its options built, the first time its name is looked up."""

    def __init__(self, table: dict[str, str]) -> None:
        self._table = table
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            module = importlib.import_module(self._table[name])
            self._built[name] = typer.main.get_command(module.app)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


class LazyGroup(TyperGroup):
    """A typer group whose commands come from COMMANDS (typer reads `self.commands` to run, list and suggest)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = LazyCommands(COMMANDS)  # type: ignore[assignment]

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run, and report a usage error (a bad choice, a missing value, an extra argument) as ONE line on
        stderr with exit code 2, as every other user error is reported (typer would draw a usage panel)."""
        _sane_columns()
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as e:
            e.show()
            sys.exit(e.exit_code)
        except UsageError as e:
            hint = ""
            if "unexpected extra argument" in e.format_message():
                hint = " (quote a value that has spaces, e.g. an out-of-memory message, or pipe it on stdin)"
            raise SystemExit(
                one_line_error(e.format_message() + hint, e.ctx.command_path if e.ctx else "llm-budget")
            ) from None
        except ClickException as e:
            raise SystemExit(one_line_error(e.format_message(), None, code=e.exit_code)) from None
        except typer.Abort:
            sys.stderr.write("Aborted.\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _sane_columns() -> None:
    """COLUMNS of 0, negative or not a number would make rich (tables, and typer's help) print nothing:
    use render.FALLBACK_WIDTH instead, for this process."""
    import os

    columns = os.environ.get("COLUMNS")
    if columns is not None:
        from llm_budget.render import columns_width

        os.environ["COLUMNS"] = str(columns_width(columns))


app = typer.Typer(
    name="llm-budget",
    help="Parameters, GPU memory and compute of transformer LLMs, exactly and offline.",
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"llm-budget {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    pass


def one_line_error(message: str, command: str | None, *, code: int = 2) -> int:
    """Print `error: <message>` (and where to read the options) on one line of stderr; return the exit code."""
    text = " ".join(message.replace("Value error, ", "").split())
    where = f" (see `{command} --help`)" if command else ""
    sys.stderr.write(f"error: {text}{where}\n")
    return code


def main() -> None:
    """The console script."""
    app()
