"""Options that more than one command takes, each declared once as an `Annotated` alias and used plainly in
the commands' signatures; the model a command is about (`build_spec`); the one place user errors become exit 2.

Choices are enums (llm_budget/choices.py, model/spec.py) or Literals typed straight into typer, so `--help`
lists them and typer rejects a bad value. Numbers stay `str`: they accept what people type (7b, 1e9, 15t) and
are parsed exactly by units.parse_count, which names the option in its error. Nothing here may import a
calculator package: every command imports this module before it runs (tests/test_startup.py).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

import typer
from pydantic import ValidationError

from llm_budget.choices import Checkpointing, Convention, LossKind, Optimizer, OptimizerImpl, Recipe
from llm_budget.errors import LLMBudgetError, SpecError
from llm_budget.model.spec import MlpKind, ModelSpec, NormKind, PositionKind, QKNorm
from llm_budget.units import MemoryUnit, parse_count

if TYPE_CHECKING:
    from llm_budget.checkpoint.resolve import ResolvedModel

# -- output ---------------------------------------------------------------------------------------------------

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON (schema in docs/json.md) instead of a table.")
]
ExplainOpt = Annotated[bool, typer.Option("--explain", help="Show the formula and source behind every number.")]
UnitsOpt = Annotated[
    MemoryUnit,
    typer.Option(
        "--units", help="gb: 10^9 bytes (the lecture's); gib: 2^30 (what PyTorch prints).", case_sensitive=False
    ),
]


def fail(message: str) -> typer.Exit:
    """Print one line on stderr and return the Exit(2) to raise (plain text: it reaches stderr at any COLUMNS)."""
    from llm_budget.cli import one_line_error

    return typer.Exit(code=one_line_error(message, None))


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn LLMBudgetError (and stray pydantic errors) into one stderr line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LLMBudgetError as e:
            raise fail(str(e)) from None
        except ValidationError as e:
            from llm_budget.model.presets import describe_validation_error

            raise fail(describe_validation_error(e, "input")) from None

    return wrapper


def emit_json(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def setup_error(e: ValidationError) -> LLMBudgetError:
    """A setup the calculators refuse, as one line naming the option."""
    err = e.errors()[0]
    field = ".".join(str(x) for x in err["loc"])
    option = f"--{field.replace('_', '-')}" if field else ""
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "enum":
        return LLMBudgetError(
            f"{option}: unknown value {err.get('input')!r}; expected {err.get('ctx', {}).get('expected', '')}"
        )
    return LLMBudgetError(f"{option}: {msg}" if option else msg)


def count(text: Optional[str], option: str) -> Optional[int]:
    """A whole number as typed (7b, 1e9, 4096), or None when the option was not given."""
    return None if text is None else parse_count(text, what=option)


def refuse_unused(options: dict[str, tuple[object, object]], *, why: str) -> None:
    """Options that do not apply here: each given one (value differs from its default) is an error naming them,
    so that nothing a user typed is silently ignored. `options`: flag -> (value, default)."""
    given = [flag for flag, (value, default) in options.items() if value != default]
    if given:
        raise LLMBudgetError(f"{', '.join(given)}: {why}")


# -- the model: a preset, a Hugging Face config, or sizes (on their own or over either) ----------------------

_M = "Model"


def _size(name: str, help: str) -> Any:
    return typer.Option(name, help=help, metavar="N", rich_help_panel=_M, show_default=False)


ModelOpt = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        help="A model as you name it: a preset (llama3-8b), a Hub ID (Qwen/Qwen3-8B, org/name@rev: read from the "
        "local Hugging Face cache, else its config and safetensors headers from the Hub, never the weights), "
        "or a checkpoint folder (config.json + *.safetensors). See docs/models.md.",
        metavar="NAME",
        rich_help_panel=_M,
        show_default=False,
    ),
]
PresetOpt = Annotated[
    Optional[str],
    typer.Option(
        "--preset",
        "-p",
        help="Preset name (see `llm-budget presets`) or a path to your own YAML/JSON spec.",
        metavar="NAME",
        rich_help_panel=_M,
        show_default=False,
    ),
]
HfConfigOpt = Annotated[
    Optional[str],
    typer.Option(
        "--hf-config",
        help="A local Hugging Face config.json (or its folder); read offline.",
        metavar="PATH",
        rich_help_panel=_M,
        show_default=False,
    ),
]
DEmbedOpt = Annotated[Optional[str], _size("--d-embed", "Width of the residual stream (hidden_size).")]
NHeadsOpt = Annotated[Optional[str], _size("--n-heads", "Attention (query) heads.")]
NLayersOpt = Annotated[Optional[str], _size("--n-layers", "Transformer blocks.")]
NVocabOpt = Annotated[Optional[str], _size("--n-vocab", "Vocabulary size.")]
DMlpOpt = Annotated[Optional[str], _size("--d-mlp", "MLP hidden width (intermediate_size; per expert for MoE).")]
DHeadOpt = Annotated[Optional[str], _size("--d-head", "Head size, when not d_embed / n_heads.")]
NKvHeadsOpt = Annotated[Optional[str], _size("--n-kv-heads", "Key/value heads (grouped-query attention).")]
NPositionsOpt = Annotated[
    Optional[str], _size("--n-positions", "Rows of a learned position table (with --position learned).")
]
NExpertsOpt = Annotated[Optional[str], _size("--n-experts", "Experts per MoE layer.")]
NActiveExpertsOpt = Annotated[Optional[str], _size("--n-active-experts", "Experts per token (top-k).")]
MlpOpt = Annotated[
    Optional[MlpKind],
    typer.Option(
        "--mlp",
        help="standard: 2 matrices; gated: 3 (SwiGLU/GeGLU).",
        rich_help_panel=_M,
        show_default=False,
        case_sensitive=False,
    ),
]
NormOpt = Annotated[
    Optional[NormKind],
    typer.Option("--norm", help="Norm kind.", rich_help_panel=_M, show_default=False, case_sensitive=False),
]
PositionOpt = Annotated[
    Optional[PositionKind],
    typer.Option("--position", help="Position encoding.", rich_help_panel=_M, show_default=False, case_sensitive=False),
]
QkNormOpt = Annotated[
    Optional[QKNorm],
    typer.Option(
        "--qk-norm", help="Query/key normalization.", rich_help_panel=_M, show_default=False, case_sensitive=False
    ),
]
TiedOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--tied/--untied", help="Unembedding shares the embedding matrix.", rich_help_panel=_M, show_default=False
    ),
]
BiasOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--bias/--no-bias", help="Biases on every attention and MLP projection.", rich_help_panel=_M, show_default=False
    ),
]

REQUIRED = ("d_embed", "n_heads", "n_layers", "n_vocab", "d_mlp")


def build_spec(
    *,
    preset: Optional[str],
    hf_config: Optional[str],
    sizes: dict[str, Optional[str]],
    kinds: dict[str, Any],
    tied: Optional[bool],
    bias: Optional[bool],
    required: bool = True,
    model: Optional[str] = None,
) -> Optional[ModelSpec]:
    """The ModelSpec the user asked for: a --model name, a preset, a user file or an HF config, with the options
    on top (build_model, without the checkpoint)."""
    spec, _ = build_model(
        model=model,
        preset=preset,
        hf_config=hf_config,
        sizes=sizes,
        kinds=kinds,
        tied=tied,
        bias=bias,
        required=required,
    )
    return spec


def _overrides(
    sizes: dict[str, Optional[str]], kinds: dict[str, Any], tied: Optional[bool], bias: Optional[bool]
) -> dict[str, Any]:
    """The spec fields the size and kind options set (numbers parsed, each error naming its option)."""
    out: dict[str, Any] = {
        name: count(value, f"--{name.replace('_', '-')}") for name, value in sizes.items() if value is not None
    }
    out.update({name: kind.value for name, kind in kinds.items() if kind is not None})
    if tied is not None:
        out["tied_embeddings"] = tied
    if bias is not None:
        out.update(attn_qkv_bias=bias, attn_out_bias=bias, mlp_bias=bias)
    return out


def build_model(
    *,
    model: Optional[str],
    preset: Optional[str],
    hf_config: Optional[str],
    sizes: dict[str, Optional[str]],
    kinds: dict[str, Any],
    tied: Optional[bool],
    bias: Optional[bool],
    required: bool = True,
) -> tuple[Optional[ModelSpec], Optional[ResolvedModel]]:
    """The ModelSpec the user asked for, and the checkpoint --model resolved to (checkpoint.resolve_model).

    `sizes` are the size options as typed (by field name), `kinds` the enum options (mlp, norm, position, qk_norm).
    Options override preset fields and the result is validated again (never model_copy); a checkpoint's tensor
    table no longer describes a model changed by options, so it is then dropped.
    Returns (None, None) when no model was given and `required` is false.
    """
    from llm_budget.model.presets import describe_validation_error, load_hf_config, resolve

    given = [flag for flag, value in (("--model", model), ("--preset", preset), ("--hf-config", hf_config)) if value]
    if len(given) > 1:
        raise LLMBudgetError(f"give {' or '.join(given)}, not both: each names the whole model")
    overrides = _overrides(sizes, kinds, tied, bias)
    resolved = None
    if model:
        from llm_budget.checkpoint.resolve import resolve_model

        resolved = resolve_model(model)
    base = (
        resolved.spec if resolved else resolve(preset) if preset else load_hf_config(hf_config) if hf_config else None
    )
    if base is not None and base.tensors is not None and overrides:
        raise LLMBudgetError(
            f"{base.label} is measured from transformers' {base.measured_by}: options do not change its tensor "
            "table; edit its config.json instead"
        )
    if base is None:
        if not overrides and not required:
            return None, None
        missing = [f"--{n.replace('_', '-')}" for n in REQUIRED if n not in overrides]
        if missing:
            raise LLMBudgetError(
                "no model given: use --model NAME, --preset NAME, --hf-config PATH, or all of "
                f"--d-embed --n-heads --n-layers --n-vocab --d-mlp (missing {' '.join(missing)})"
            )
        data: dict[str, Any] = dict(overrides)
        origin = "options"
    else:
        if not overrides:
            return base, resolved
        data = base.model_dump(exclude_none=True)
        data.update(overrides)
        # The published count no longer describes a modified model.
        data.pop("published_params", None)
        data.pop("name", None)
        changed = ", ".join(f"{k}={v}" for k, v in overrides.items())
        data["display_name"] = f"{base.label} (with {changed})"
        origin = f"{base.label} with options"
    try:
        return ModelSpec.model_validate(data), None
    except ValidationError as e:
        raise SpecError(describe_validation_error(e, origin)) from None


# -- how the model runs: memory, fit, oom and probe ------------------------------------------------------------

PRECISIONS = ("fp32", "fp16", "bf16", "fp8-e4m3", "fp8-e5m2", "int8", "int4", "nf4")
"""hardware.Precision's values. Importing that table here would load the hardware package (~40 ms) into every
command, `params` included; tests/test_cli.py holds this list to it. (An import-free home: llm_budget/choices.py.)"""

Mode = Literal["train", "infer"]
ModeOrBoth = Literal["train", "infer", "both"]
Attention = Literal["sdpa", "eager"]
Device = Literal["cuda", "cpu"]
AdapterPrecision = Literal["fp32", "bf16", "fp16"]

ParamsOpt = Annotated[
    Optional[str],
    typer.Option(
        "--params",
        help="A parameter count alone (7b, 1e9) instead of a model.",
        metavar="COUNT",
        rich_help_panel=_M,
        show_default=False,
    ),
]
PrecisionOpt = Annotated[
    Optional[str],
    typer.Option(
        "--precision",
        help=f"Weights: {' | '.join(PRECISIONS)} (or bfloat16, float16, half, fp8 …).",
        metavar="FORMAT",
        show_default=False,
    ),
]
KvPrecisionOpt = Annotated[
    Optional[str],
    typer.Option(
        "--kv-precision",
        help=f"Serving: KV-cache format, {' | '.join(PRECISIONS)} (default: the compute precision).",
        metavar="FORMAT",
        show_default=False,
    ),
]
RecipeOpt = Annotated[
    Optional[Recipe], typer.Option("--recipe", help="Training recipe (default from --precision).", show_default=False)
]
ConventionOpt = Annotated[
    Optional[Convention],
    typer.Option(
        "--convention",
        help="Mixed-precision bytes/param: autocast (PyTorch/HF, 4+4+8 +2 copies), zero (16), megatron (18), grad-copy (20), fsdp (default autocast).",
        show_default=False,
    ),
]
OptimizerOpt = Annotated[Optimizer, typer.Option("--optimizer", help="Optimizer (its states per parameter).")]
OptimizerImplOpt = Annotated[
    Optional[OptimizerImpl],
    typer.Option(
        "--optimizer-impl",
        help="PyTorch implementation (default: foreach on CUDA, for-loop on the CPU).",
        show_default=False,
    ),
]
BatchOpt = Annotated[
    str, typer.Option("--batch", help="Micro-batch (training) or concurrent sequences (serving).", metavar="N")
]
SeqOpt = Annotated[
    Optional[str],
    typer.Option(
        "--seq",
        help="Training sequence length (default: the model's context window).",
        metavar="TOKENS",
        show_default=False,
    ),
]
ContextOpt = Annotated[
    Optional[str],
    typer.Option(
        "--context",
        help="Serving: tokens per sequence in the KV cache (default: the context window).",
        metavar="TOKENS",
        show_default=False,
    ),
]
CheckpointingOpt = Annotated[Checkpointing, typer.Option("--checkpointing", help="Activation checkpointing.")]
TrainCheckpointingOpt = Annotated[
    Optional[Checkpointing],
    typer.Option("--checkpointing", help="Activation checkpointing (default none).", show_default=False),
]
AttentionOpt = Annotated[
    Attention, typer.Option("--attention", help="sdpa (flash/memory-efficient) or eager (keeps s² probabilities).")
]
LoraRankOpt = Annotated[
    Optional[str],
    typer.Option(
        "--lora-rank", help="Train LoRA adapters of this rank on a frozen base.", metavar="RANK", show_default=False
    ),
]
_LORA = "LoRA / QLoRA"
LoraTargetsOpt = Annotated[
    Optional[str],
    typer.Option(
        "--lora-targets",
        help="Adapted modules: all (QLoRA's; the default), all-linear (PEFT's), attention, mlp, or names (q,v or q_proj,v_proj).",
        show_default=False,
        metavar="<all|all-linear|attention|mlp>|NAMES",
        rich_help_panel=_LORA,
    ),
]
LoraDropoutOpt = Annotated[
    Optional[float],
    typer.Option(
        "--lora-dropout",
        help="LoRA dropout: each adapter saves a dropped copy of its input and a mask (PEFT's default 0: none).",
        metavar="P",
        show_default=False,
        rich_help_panel=_LORA,
    ),
]
AdapterPrecisionOpt = Annotated[
    Optional[AdapterPrecision],
    typer.Option(
        "--adapter-precision",
        help="Adapters, their gradients and optimizer states (default fp32; the base dtype under --recipe pure).",
        show_default=False,
        rich_help_panel=_LORA,
    ),
]
DoubleQuantOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--double-quant/--no-double-quant",
        show_default=False,
        help="QLoRA: quantize the nf4 absmax to 8 bits (bnb_4bit_use_double_quant).",
        rich_help_panel=_LORA,
    ),
]
PagedOptimizerOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--paged-optimizer/--no-paged-optimizer",
        show_default=False,
        help="bitsandbytes' paged AdamW: optimizer states in CUDA unified memory, off torch's allocator.",
        rich_help_panel=_LORA,
    ),
]
LossOpt = Annotated[
    Optional[LossKind],
    typer.Option(
        "--loss",
        help="Cross-entropy: full (FP32 logits; the default), chunked (litgpt), chunked-fp32 (torchtune), fused (Liger).",
        show_default=False,
    ),
]
FrameworkOpt = Annotated[
    Optional[str],
    typer.Option(
        "--framework",
        help="Defaults of hf-trainer | peft | litgpt | torchtune | torchtitan | axolotl | deepspeed (flags override).",
        metavar="NAME",
        show_default=False,
    ),
]
GpuOpt = Annotated[
    str,
    typer.Option(
        "--gpu", help="GPU from the catalog (`llm-budget gpus`): a100-80gb, v100-32gb, h100-sxm …", metavar="NAME"
    ),
]

# -- a layout the user chooses (memory and fit) ---------------------------------------------------------------

_L = "Parallel layout"
Sharding = Literal["ddp", "zero-1", "zero-2", "zero-3", "fsdp", "hsdp"]
Offload = Literal["none", "optimizer", "params", "all"]


def _layout(name: str, help: str, metavar: str = "N") -> Any:
    return typer.Option(name, help=help, metavar=metavar, rich_help_panel=_L, show_default=False)


TpOpt = Annotated[Optional[str], _layout("--tp", "Tensor-parallel GPUs (split heads and MLP; Megatron-LM).")]
PpOpt = Annotated[Optional[str], _layout("--pp", "Pipeline stages (1F1B).")]
DpOpt = Annotated[Optional[str], _layout("--dp", "Data-parallel GPUs (default: --gpus / (tp × pp)).")]
MicroBatchesOpt = Annotated[Optional[str], _layout("--micro-batches", "Pipeline micro-batches per step (default: pp).")]
ShardGroupOpt = Annotated[
    Optional[str], _layout("--shard-group", "Hybrid sharding: GPUs per shard group (default: --gpus-per-node).")
]
ShardingOpt = Annotated[
    Optional[Sharding],
    typer.Option(
        "--sharding",
        help="Data parallelism: ddp (replicated), zero-1/2/3 (DeepSpeed), fsdp (full shard = ZeRO-3), hsdp (hybrid "
        "shard: ZeRO-3 within --shard-group, replicated across). Default: ddp.",
        rich_help_panel=_L,
        show_default=False,
    ),
]
SequenceParallelOpt = Annotated[
    bool,
    typer.Option(
        "--sequence-parallel", help="Split norms and dropouts along the sequence (with --tp).", rich_help_panel=_L
    ),
]
OffloadOpt = Annotated[
    Offload,
    typer.Option(
        "--offload",
        help="To host RAM: optimizer (states, master weights, gradients: ZeRO-Offload), params (the weight shard, "
        "ZeRO-3/FSDP), all (both: FSDP CPUOffload).",
        rich_help_panel=_L,
    ),
]
OptimizerInBackwardOpt = Annotated[
    bool,
    typer.Option(
        "--optimizer-in-backward",
        help="Step each parameter as backward makes its gradient, then free it (torchtune's optimizer_in_bwd).",
        rich_help_panel=_L,
    ),
]
HostRamOpt = Annotated[
    Optional[str],
    _layout(
        "--host-ram", "Host RAM per node, with its unit (512GB, 1TiB): checked against what offload needs.", "SIZE"
    ),
]

_SIZE = re.compile(r"^\s*([0-9][0-9_.,eE+-]*)\s*([kKmMgGtT])(i?)[bB]\s*$")


def memory_size(text: Optional[str], option: str) -> Optional[int]:
    """Bytes of a size typed with its unit: 512GB (10^9), 512GiB (2^30), 1.5TB, 64 MiB; None when not given."""
    if text is None:
        return None
    m = _SIZE.match(text)
    if not m:
        raise LLMBudgetError(f"{option}: give a size with its unit, e.g. 512GB or 480GiB (got {text!r})")
    number, prefix, binary = m.groups()
    power = "kmgt".index(prefix.lower()) + 1
    unit = (1024 if binary else 1000) ** power
    from llm_budget.units import parse_decimal

    return int(parse_decimal(number, what=option) * unit)
