"""`llm-budget params`: the exact parameter count, by component."""

from __future__ import annotations


from llm_budget.model.counter import count_params
from llm_budget.model.spec import ModelSpec
from llm_budget.cli._app import app
from llm_budget.cli._options import ExplainOpt, JsonOpt, emit_json, user_errors, with_model


@app.command()
@user_errors
@with_model()
def params(model: ModelSpec, json: JsonOpt = False, explain: ExplainOpt = False) -> None:
    """Count a model's parameters, component by component, with the formula behind each row.

    Examples: `llm-budget params --preset gpt3-175b`; `llm-budget params --hf-config ./config.json`;
    `llm-budget params --d-embed 4096 --n-heads 32 --n-layers 32 --n-vocab 32000 --d-mlp 11008 --mlp gated`.
    """
    count = count_params(model)
    if json:
        from llm_budget.render.as_json import params_json

        emit_json(params_json(model, count))
    else:
        from llm_budget.render import console
        from llm_budget.render.params import params_table

        console().print(params_table(model, count, explain=explain))
