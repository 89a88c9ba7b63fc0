"""The training and serving setups of the options as typed: numbers parsed, each error naming its option."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from llm_budget.cli.options import count, setup_error

if TYPE_CHECKING:
    from llm_budget.memory import InferSetup, TrainSetup


def train_setup(*, batch: str, seq: Optional[str], lora_rank: Optional[str], **options: object) -> TrainSetup:
    """The TrainSetup of the options (numbers parsed, each error naming its option)."""
    from pydantic import ValidationError

    from llm_budget.memory import TrainSetup

    try:
        return TrainSetup(
            batch=count(batch, "--batch"), seq=count(seq, "--seq"), lora_rank=count(lora_rank, "--lora-rank"), **options
        )
    except ValidationError as e:
        raise setup_error(e) from None


def infer_setup(
    *, kv_precision: Optional[str], batch: str, context: Optional[str], prompt: Optional[str] = None, **options: object
) -> InferSetup:
    """The InferSetup of the options (numbers and the KV precision parsed, each error naming its option)."""
    from pydantic import ValidationError

    from llm_budget.hardware import parse_precision
    from llm_budget.memory import InferSetup

    try:
        return InferSetup(
            kv_precision=parse_precision(kv_precision, what="--kv-precision") if kv_precision else None,
            batch=count(batch, "--batch"),
            context=count(context, "--context"),
            prompt=count(prompt, "--prompt"),
            **options,
        )
    except ValidationError as e:
        raise setup_error(e) from None
