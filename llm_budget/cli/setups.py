"""The training and serving setups of the options as typed: numbers parsed, each error naming its option."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Optional

from llm_budget.cli.options import count, setup_error

if TYPE_CHECKING:
    from llm_budget.frameworks import FrameworkApplied
    from llm_budget.hardware import Precision
    from llm_budget.memory import InferSetup, Parallel, TrainSetup
    from llm_budget.model.spec import ModelSpec

ZERO_OF = {"ddp": 0, "zero-1": 1, "zero-2": 2, "zero-3": 3, "fsdp": 3, "hsdp": 3}
"""--sharding -> ZeRO stage: FSDP full shard shards what ZeRO-3 shards (Zhao et al. 2023 §3); HSDP is ZeRO-3 within a group."""


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


TRAIN_DEFAULTS: dict[str, object] = {
    "convention": "autocast",
    "checkpointing": "none",
    "loss": "full",
    "lora_targets": "all",
    "lora_dropout": 0.0,
    "double_quant": False,
    "paged_optimizer": False,
}
"""What an option means when neither the user nor a --framework profile gives it."""


def with_framework(
    framework: Optional[str], given: Mapping[str, object], precision: Precision
) -> tuple[dict[str, object], Optional[FrameworkApplied]]:
    """The training options with a --framework profile's defaults filled in where the user gave nothing
    (None), then TRAIN_DEFAULTS; and what the profile set (None without --framework)."""
    from llm_budget.memory.setup import QUANTIZED_BASES

    applied = None
    options = dict(given)
    if framework:
        from llm_budget.frameworks import apply_profile

        options, applied = apply_profile(framework, options, quantized=precision in QUANTIZED_BASES)
        if options.get("lora_rank") is not None:
            options["lora_rank"] = str(options["lora_rank"])
    for name, value in TRAIN_DEFAULTS.items():
        if options.get(name) is None:
            options[name] = value
    return options, applied


def check_lora_targets(spec: Optional[ModelSpec], targets: Optional[str]) -> None:
    """--lora-targets names matrices of this model (a one-line error for a name that matches none)."""
    if spec is None or targets is None:
        return
    from llm_budget.memory import TrainSetup
    from llm_budget.memory.adapters import target_names

    target_names(spec, TrainSetup(lora_rank=1, lora_targets=targets).lora_targets)


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


def layout_given(**options: object) -> bool:
    """Whether any layout option differs from its default (then fit evaluates exactly that layout)."""
    defaults = {"offload": "none", "sequence_parallel": False, "optimizer_in_backward": False}
    return any(value != defaults.get(name) for name, value in options.items())


def parallel_setup(
    spec: Optional[ModelSpec],
    *,
    gpus: int,
    gpus_per_node: int,
    tp: Optional[str] = None,
    pp: Optional[str] = None,
    dp: Optional[str] = None,
    sharding: Optional[str] = None,
    shard_group: Optional[str] = None,
    sequence_parallel: bool = False,
    micro_batches: Optional[str] = None,
    offload: str = "none",
    optimizer_in_backward: bool = False,
) -> Parallel:
    """The layout of the options on `gpus` GPUs: dp × tp × pp must make --gpus, tp must split the heads,
    every pipeline stage needs a layer (one-line errors naming the options)."""
    from pydantic import ValidationError

    from llm_budget.errors import LLMBudgetError
    from llm_budget.memory import Parallel
    from llm_budget.memory.setup import check_layout

    t, p = count(tp, "--tp") or 1, count(pp, "--pp") or 1
    if gpus % (t * p):
        raise LLMBudgetError(f"--gpus {gpus} is not a multiple of --tp {t} × --pp {p}: dp × tp × pp must equal --gpus")
    d = gpus // (t * p)
    given_dp = count(dp, "--dp")
    if given_dp is not None and given_dp != d:
        raise LLMBudgetError(f"--dp {given_dp} × --tp {t} × --pp {p} = {given_dp * t * p} GPUs, but --gpus is {gpus}")
    if micro_batches is not None and p == 1:
        raise LLMBudgetError("--micro-batches counts pipeline micro-batches: give --pp 2 or more")
    if sequence_parallel and t == 1:
        raise LLMBudgetError("--sequence-parallel splits what tensor parallelism replicates: give --tp 2 or more")
    kind = sharding or "ddp"
    group = count(shard_group, "--shard-group")
    if group is not None and kind != "hsdp":
        raise LLMBudgetError("--shard-group applies to --sharding hsdp (hybrid shard)")
    if kind == "hsdp" and group is None:
        group = min(d, max(gpus_per_node // t, 1))  # FSDP's HYBRID_SHARD: shard within a node, replicate across
    try:
        parallel = Parallel(
            dp=d,
            tp=t,
            pp=p,
            zero=ZERO_OF[kind],
            sp=sequence_parallel,
            micro_batches=count(micro_batches, "--micro-batches"),
            shard_group=group,
            offload=offload,
            optimizer_in_backward=optimizer_in_backward,
        )
    except ValidationError as e:
        raise setup_error(e) from None
    if spec is not None:
        check_layout(parallel, spec)
    return parallel
