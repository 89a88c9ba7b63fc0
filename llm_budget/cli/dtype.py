"""`llm-budget dtype`: range and precision of each number format, or how each stores one number."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from llm_budget.cli.options import ExplainOpt, JsonOpt, emit_json, user_errors
from llm_budget.errors import LLMBudgetError

app = typer.Typer(add_completion=False)


# ignore_unknown_options: a negative number (`llm-budget dtype -3.5`) is an argument, not an option.
@app.command(context_settings={"ignore_unknown_options": True})
@user_errors
def dtype(
    number: Annotated[
        Optional[str],
        typer.Argument(
            metavar="NUMBER",
            help="A number, parsed exactly: 3.141592, -1e-8, 65504, 1/3. Without it: the range table.",
            show_default=False,
        ),
    ] = None,
    absmax: Annotated[
        Optional[str],
        typer.Option(
            "--absmax",
            help="Largest magnitude in the tensor (block), for INT8/INT4 absmax and NF4 scaling. Default: |NUMBER|.",
            metavar="NUMBER",
            show_default=False,
        ),
    ] = None,
    saturate: Annotated[
        bool,
        typer.Option(
            "--saturate",
            help="FP8: values past the largest finite become ±max (OCP satfinite) instead of NaN (E4M3) / ±inf (E5M2).",
        ),
    ] = False,
    json: JsonOpt = False,
    explain: ExplainOpt = False,
) -> None:
    """Show each format's bytes, bit layout, range and precision, or how each stores NUMBER.

    Examples: `llm-budget dtype`; `llm-budget dtype 3.141592` (the lecture's FP32/FP16/BF16 bits);
    `llm-budget dtype 3.141592 --absmax 10`; `llm-budget dtype -70000 --saturate`.
    """
    from llm_budget.dtypes import dtype_table, encode_number

    if number is None:
        if absmax is not None or saturate:
            raise LLMBudgetError(
                "--absmax and --saturate apply to a number, e.g. `llm-budget dtype 3.141592 --absmax 10`"
            )
        table = dtype_table()
        if json:
            emit_json(table.model_dump_json(indent=2))
        else:
            from llm_budget.render import console
            from llm_budget.render.dtype import range_table

            console().print(range_table(table, explain=explain))
        return
    result = encode_number(number, absmax=absmax, saturate=saturate)
    if json:
        emit_json(result.model_dump_json(indent=2))
    else:
        from llm_budget.render import console
        from llm_budget.render.dtype import encodings_table

        console().print(encodings_table(result, explain=explain))
