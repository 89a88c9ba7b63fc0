"""`llm-budget params`: the exact parameter count, by component."""

from __future__ import annotations

import typer

from llm_budget.cli.options import (
    BiasOpt,
    DEmbedOpt,
    DHeadOpt,
    DMlpOpt,
    ExplainOpt,
    HfConfigOpt,
    JsonOpt,
    MlpOpt,
    ModelOpt,
    NActiveExpertsOpt,
    NExpertsOpt,
    NHeadsOpt,
    NKvHeadsOpt,
    NLayersOpt,
    NormOpt,
    NPositionsOpt,
    NVocabOpt,
    PositionOpt,
    PresetOpt,
    QkNormOpt,
    TiedOpt,
    build_model,
    emit_json,
    user_errors,
)

app = typer.Typer(add_completion=False)


@app.command()
@user_errors
def params(
    json: JsonOpt = False,
    explain: ExplainOpt = False,
    model_name: ModelOpt = None,
    preset: PresetOpt = None,
    hf_config: HfConfigOpt = None,
    d_embed: DEmbedOpt = None,
    n_heads: NHeadsOpt = None,
    n_layers: NLayersOpt = None,
    n_vocab: NVocabOpt = None,
    d_mlp: DMlpOpt = None,
    d_head: DHeadOpt = None,
    n_kv_heads: NKvHeadsOpt = None,
    n_positions: NPositionsOpt = None,
    n_experts: NExpertsOpt = None,
    n_active_experts: NActiveExpertsOpt = None,
    mlp: MlpOpt = None,
    norm: NormOpt = None,
    position: PositionOpt = None,
    qk_norm: QkNormOpt = None,
    tied: TiedOpt = None,
    bias: BiasOpt = None,
) -> None:
    """Count a model's parameters, component by component, with the formula behind each row.

    Examples: `llm-budget params --preset gpt3-175b`; `llm-budget params --model Qwen/Qwen3-8B` (a Hub ID or a
    checkpoint folder: adds the checkpoint's tensor table); `llm-budget params --hf-config ./config.json`;
    `llm-budget params --d-embed 4096 --n-heads 32 --n-layers 32 --n-vocab 32000 --d-mlp 11008 --mlp gated`.
    """
    from llm_budget.model.counter import count_params

    model, resolved = build_model(
        model=model_name,
        preset=preset,
        hf_config=hf_config,
        tied=tied,
        bias=bias,
        sizes=dict(
            d_embed=d_embed,
            n_heads=n_heads,
            n_layers=n_layers,
            n_vocab=n_vocab,
            d_mlp=d_mlp,
            d_head=d_head,
            n_kv_heads=n_kv_heads,
            n_positions=n_positions,
            n_experts=n_experts,
            n_active_experts=n_active_experts,
        ),
        kinds=dict(mlp=mlp, norm=norm, position=position, qk_norm=qk_norm),
    )
    assert model is not None
    count = count_params(model)
    table = resolved.table if resolved else None
    check = None
    if table is not None:
        from llm_budget.checkpoint.crosscheck import cross_check

        check = cross_check(table, count, model)
    if json:
        from llm_budget.render.as_json import params_json

        text = params_json(model, count)
        if resolved is not None and resolved.config is not None:  # a checkpoint (with or without headers)
            import json as json_module

            from llm_budget.render.params import checkpoint_json

            data = json_module.loads(text)
            data["checkpoint"] = checkpoint_json(table, check) if table is not None else None
            text = json_module.dumps(data, indent=2, ensure_ascii=False)
        emit_json(text)
    else:
        from llm_budget.render import console
        from llm_budget.render.params import checkpoint_view, no_table_line, params_table

        console().print(params_table(model, count, explain=explain))
        if table is not None:
            console().print(checkpoint_view(table, check))
        elif resolved is not None and resolved.config is not None:
            console().print(no_table_line(resolved.origin))
