"""`llm-budget oom`: read a PyTorch CUDA out-of-memory message (or a log that contains one) and explain it."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from llm_budget.choices import Checkpointing, Optimizer
from llm_budget.cli.options import (
    BatchOpt,
    BiasOpt,
    CheckpointingOpt,
    ContextOpt,
    DEmbedOpt,
    DHeadOpt,
    DMlpOpt,
    ExplainOpt,
    HfConfigOpt,
    JsonOpt,
    MlpOpt,
    Mode,
    ModelOpt,
    NActiveExpertsOpt,
    NExpertsOpt,
    NHeadsOpt,
    NKvHeadsOpt,
    NLayersOpt,
    NormOpt,
    NPositionsOpt,
    NVocabOpt,
    OptimizerOpt,
    PositionOpt,
    PrecisionOpt,
    PresetOpt,
    QkNormOpt,
    SeqOpt,
    TiedOpt,
    build_spec,
    emit_json,
    refuse_unused,
    user_errors,
)
from llm_budget.cli.setups import infer_setup, train_setup
from llm_budget.errors import LLMBudgetError

app = typer.Typer(add_completion=False)


@app.command()
@user_errors
def oom(
    message: Annotated[
        Optional[str],
        typer.Argument(
            metavar="MESSAGE",
            help="The out-of-memory message, in quotes. Without it (or with -): read a log from stdin.",
            show_default=False,
        ),
    ] = None,
    mode: Annotated[Mode, typer.Option("--mode", help="With a model: what ran out.")] = "train",
    precision: PrecisionOpt = "bf16",
    optimizer: OptimizerOpt = Optimizer.adamw,
    batch: BatchOpt = "1",
    seq: SeqOpt = None,
    context: ContextOpt = None,
    checkpointing: CheckpointingOpt = Checkpointing.none,
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
    """Explain a PyTorch CUDA out-of-memory message: the figures, the diagnosis, what to change.

    Reads both the legacy message ("Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity; …)")
    and the current one ("GPU 0 has a total capacity of … of which … is free. …"); in a log, the last one.

    Examples: `llm-budget oom "CUDA out of memory. Tried to allocate …"`; `python train.py 2>&1 | llm-budget oom`;
    `llm-budget oom < train.log --json`; with a model (`--preset llama2-7b --batch 8 --seq 2048`), the
    accountant's need on that card and the changes that would make it fit.
    """
    from llm_budget.hardware import parse_precision
    from llm_budget.oom import explain_oom, with_model_advice

    model = build_spec(
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
        required=False,
    )
    if model is None:
        refuse_unused(
            {"--mode": (mode, "train"), "--precision": (precision, "bf16"), "--optimizer": (optimizer, Optimizer.adamw),
             "--batch": (batch, "1"), "--seq": (seq, None), "--context": (context, None),
             "--checkpointing": (checkpointing, Checkpointing.none)},
            why="apply with a model (--preset, --hf-config or sizes): they describe what ran out of memory",
        )  # fmt: skip
    report = explain_oom(_read_stdin() if message is None or message == "-" else message)
    if model is not None:
        prec = parse_precision(precision or "bf16")
        train = train_setup(
            precision=prec, optimizer=optimizer, batch=batch, seq=seq, lora_rank=None, checkpointing=checkpointing
        )
        infer = infer_setup(precision=prec, kv_precision=None, batch=batch, context=context)
        report = with_model_advice(report, model, mode=mode, train=train, infer=infer)
    if json:
        from llm_budget.render.oom import oom_json

        emit_json(oom_json(report))
        return
    from llm_budget.render import console
    from llm_budget.render.oom import oom_view

    console().print(oom_view(report, explain=explain))


def _read_stdin() -> str:
    stream = sys.stdin
    if stream is None or stream.isatty():
        raise LLMBudgetError(
            'no message: paste it in quotes (llm-budget oom "CUDA out of memory. Tried to allocate …") '
            "or pipe a log (llm-budget oom < train.log)"
        )
    # a log can hold bytes that are not UTF-8 (progress bars, another encoding): the message itself is ASCII
    raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise LLMBudgetError(
            "stdin was empty: pipe a log or traceback that contains the CUDA out-of-memory message, or pass the message in quotes"
        )
    return text
