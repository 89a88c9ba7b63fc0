"""Options shared by every command, declared once, and the one place user errors become exit code 2."""

from __future__ import annotations

import functools
import inspect
import sys
from enum import Enum
from typing import Annotated, Any, Callable, Optional

import typer
from pydantic import ValidationError

from llm_budget.errors import LLMBudgetError, SpecError
from llm_budget.model.spec import MlpKind, ModelSpec, NormKind, PositionKind, QKNorm
from llm_budget.units import parse_count

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON (schema in the README) instead of a table.")]
ExplainOpt = Annotated[bool, typer.Option("--explain", help="Show the formula and source behind every number.")]


def fail(message: str) -> typer.Exit:
    """Print one line on stderr and return the Exit(2) to raise."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code=2)


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


# -- model selection: --preset / --hf-config / sizes, shared by every command that takes a model ------------


_SIZE_FIELDS = ("d_embed", "n_heads", "n_layers", "n_vocab", "d_mlp", "d_head", "n_kv_heads", "n_positions", "n_experts", "n_active_experts")
REQUIRED = ("d_embed", "n_heads", "n_layers", "n_vocab", "d_mlp")

MODEL_PARAMS: list[inspect.Parameter] = [
    inspect.Parameter(
        "preset",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            Optional[str],
            typer.Option("--preset", "-p", help="Preset name (see `llm-budget presets`) or a path to your own YAML/JSON spec.", rich_help_panel="Model", show_default=False),
        ],
    ),
    inspect.Parameter(
        "hf_config",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            Optional[str],
            typer.Option("--hf-config", help="A local Hugging Face config.json (or its folder); read offline.", rich_help_panel="Model", show_default=False),
        ],
    ),
    *[
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                Optional[str],
                typer.Option(f"--{name.replace('_', '-')}", help=help, rich_help_panel="Model", show_default=False),
            ],
        )
        for name, help in [
            ("d_embed", "Width of the residual stream (hidden_size)."),
            ("n_heads", "Attention (query) heads."),
            ("n_layers", "Transformer blocks."),
            ("n_vocab", "Vocabulary size."),
            ("d_mlp", "MLP hidden width (intermediate_size; per expert for MoE)."),
            ("d_head", "Head size, when not d_embed / n_heads."),
            ("n_kv_heads", "Key/value heads (grouped-query attention)."),
            ("n_positions", "Rows of a learned position table (with --position learned)."),
            ("n_experts", "Experts per MoE layer."),
            ("n_active_experts", "Experts per token (top-k)."),
        ]
    ],
    *[
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                Optional[enum],  # type: ignore[valid-type]
                typer.Option(f"--{name.replace('_', '-')}", help=help, rich_help_panel="Model", show_default=False, case_sensitive=False),
            ],
        )
        for name, enum, help in [
            ("mlp", MlpKind, "MLP kind: standard (2 matrices) or gated (3, SwiGLU/GeGLU)."),
            ("norm", NormKind, "Norm kind."),
            ("position", PositionKind, "Position encoding."),
            ("qk_norm", QKNorm, "Query/key normalization."),
        ]
    ],
    inspect.Parameter(
        "tied",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            Optional[bool],
            typer.Option("--tied/--untied", help="Unembedding shares the embedding matrix.", rich_help_panel="Model", show_default=False),
        ],
    ),
    inspect.Parameter(
        "bias",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            Optional[bool],
            typer.Option("--bias/--no-bias", help="Biases on every attention and MLP projection.", rich_help_panel="Model", show_default=False),
        ],
    ),
]
MODEL_PARAM_NAMES = [p.name for p in MODEL_PARAMS]


def build_spec(values: dict[str, Any], *, required: bool = True) -> Optional[ModelSpec]:
    """The ModelSpec the user asked for: a preset, a user file or an HF config, with size options on top.

    Options override preset fields and the result is validated again (never model_copy).
    Returns None when no model was given and `required` is false.
    """
    from llm_budget.model.presets import describe_validation_error, load_hf_config, resolve

    preset, hf_config = values.pop("preset", None), values.pop("hf_config", None)
    if preset and hf_config:
        raise LLMBudgetError("give --preset or --hf-config, not both")
    overrides: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name in _SIZE_FIELDS:
            overrides[name] = parse_count(value, what=f"--{name.replace('_', '-')}")
        elif name == "tied":
            overrides["tied_embeddings"] = value
        elif name == "bias":
            overrides.update(attn_qkv_bias=value, attn_out_bias=value, mlp_bias=value)
        else:
            overrides[name] = value.value if isinstance(value, Enum) else value

    base: Optional[ModelSpec] = None
    if preset:
        base = resolve(preset)
    elif hf_config:
        base = load_hf_config(hf_config)
    if base is None:
        if not overrides and not required:
            return None
        missing = [f"--{n.replace('_', '-')}" for n in REQUIRED if n not in overrides]
        if missing:
            raise LLMBudgetError(
                "no model given: use --preset NAME, --hf-config PATH, or all of "
                f"--d-embed --n-heads --n-layers --n-vocab --d-mlp (missing {' '.join(missing)})"
            )
        data: dict[str, Any] = dict(overrides)
        origin = "options"
    else:
        if not overrides:
            return base
        data = base.model_dump(exclude_none=True)
        data.update(overrides)
        # The published count no longer describes a modified model.
        data.pop("published_params", None)
        data.pop("name", None)
        changed = ", ".join(f"{k}={v}" for k, v in overrides.items())
        data["display_name"] = f"{base.label} (with {changed})"
        origin = f"{base.label} with options"
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(describe_validation_error(e, origin)) from None


def with_model(*, required: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the shared model options to a command; it receives the built spec as `model`."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != "model"]

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            values = {n: kwargs.pop(n) for n in MODEL_PARAM_NAMES}
            return fn(model=build_spec(values, required=required), **kwargs)

        wrapper.__signature__ = sig.replace(parameters=own + MODEL_PARAMS)  # type: ignore[attr-defined]
        return wrapper

    return decorate
