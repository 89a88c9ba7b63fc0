"""A config.json without a native mapper -> ModelSpec, measured from transformers' own class on the meta device.

transformers builds the model the config describes (AutoConfig.for_model, then
AutoModelForCausalLM.from_config under torch.device("meta"): no weights are allocated, nothing
is downloaded, no remote code runs). Its parameters are the tensor table (ModelSpec.tensors):
model.parameters() yields each Parameter once, so tied weights count once (nanoGPT's
get_num_params). Tensors repeated per layer or per expert are one row with `copies`; routed
experts are marked so that active parameters follow (fused 3-D expert tensors as stored). The
lecture's five sizes and what else the config says are read through transformers' normalized
attribute names (hidden_size, num_attention_heads, …), so FLOPs, KV cache and the rest have them.
"""

from __future__ import annotations

import re
import time
from typing import Any

from llm_budget.errors import LLMBudgetError, SpecError
from llm_budget.model.hf.keys import activation
from llm_budget.model.spec import ModelSpec, TensorRow

_NOT_CONFIG = (
    "model_type",
    "architectures",
    "_name_or_path",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "auto_map",
)
"""config.json keys that are not arguments of the configuration class (or would ask for remote code)."""

_CONFIGS: dict[ModelSpec, dict[str, Any]] = {}
"""The config.json each measured spec came from, for the memory measurements (the probe builds the model again).
Keyed by the whole (frozen) spec: two configs with the same tensor table but another activation, name or
context are other specs."""

_MLP_WIDTH_KEYS = ("intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size", "d_ff", "ff_dim", "mlp_dim")
_EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
_TOP_K_KEYS = ("num_experts_per_tok", "moe_top_k", "top_k", "moe_k")
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length")


def transformers_config(cfg: dict[str, Any]) -> Any:
    """transformers' configuration object of a parsed config.json (its defaults filled in), one-line errors."""
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    model_type = cfg["model_type"]
    try:
        return transformers.AutoConfig.for_model(model_type, **{k: v for k, v in cfg.items() if k not in _NOT_CONFIG})
    except ValueError as e:
        if "nrecognized" in str(e) or model_type not in transformers.CONFIG_MAPPING:
            raise SpecError(
                f"unsupported model_type '{model_type}' in config.json: neither native nor known to transformers "
                f"{transformers.__version__}; supported natively: {_native()}"
            ) from None
        raise SpecError(f"config.json (model_type '{model_type}'): transformers rejects it: {_first_line(e)}") from None
    except (TypeError, AttributeError, KeyError) as e:
        raise SpecError(f"config.json (model_type '{model_type}'): transformers rejects it: {_first_line(e)}") from None


def causal_lm_class(config: Any) -> str:
    """The name of transformers' causal-LM class for the configuration (AutoModelForCausalLM's mapping)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    name = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(config.model_type)
    if not isinstance(name, str):
        raise SpecError(
            f"unsupported model_type '{config.model_type}' in config.json: transformers has no causal-LM class for "
            f"it (llm-budget counts decoder-only language models); supported natively: {_native()}"
        )
    return name


def _native() -> str:
    from llm_budget.model.hf import MAPPERS

    return ", ".join(sorted(MAPPERS))


def meta_model(config: Any) -> Any:
    """transformers' own model of the configuration on the meta device (no memory, no download, no remote code)."""
    import torch
    from transformers import AutoModelForCausalLM

    name = causal_lm_class(config)
    try:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    except Exception as e:  # transformers raises many kinds on configs it cannot build
        raise SpecError(f"config.json: transformers could not build {name}: {_first_line(e)}") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) <= 160 else text[:157] + "…"


def tensor_table(model: Any) -> tuple[TensorRow, ...]:
    """The model's parameters, once each, grouped: per-layer and per-expert copies are one row (index -> *)."""
    from torch import nn

    from llm_budget.model.hf.names import component_of

    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    rows: dict[tuple[str, tuple[int, ...]], list[Any]] = {}
    for name, p in model.named_parameters():  # remove_duplicate=True: a tied Parameter appears once
        pattern = re.sub(r"(?<=\.)\d+(?=\.)", "*", name)
        key = (pattern, tuple(p.shape))
        if key in rows:
            rows[key][1] += 1
            continue
        kind = "embedding" if id(p) in embeddings else "linear" if p.ndim >= 2 else "vector"
        rows[key] = [name, 1, kind]
    out = []
    for (pattern, shape), (name, copies, kind) in rows.items():
        parts = pattern.split(".")
        out.append(
            TensorRow(
                name=pattern,
                shape=shape,
                copies=copies,
                kind=kind,
                layer="*" in parts,
                expert="experts" in parts,
                component=component_of(name),
            )
        )
    return tuple(out)


def _first_int(config: Any, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = getattr(config, key, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def spec_fields(config: Any, model: Any, tensors: tuple[TensorRow, ...]) -> dict[str, Any]:
    """ModelSpec fields from transformers' normalized attribute names and the built model."""
    d, h = config.hidden_size, config.num_attention_heads
    fields: dict[str, Any] = dict(
        d_embed=d,
        n_heads=h,
        n_layers=config.num_hidden_layers,
        n_vocab=config.vocab_size,
        # A config without a width leaves it to the modeling file, which (GPT-Neo, GPT-J, GPT-2) uses 4·d_embed.
        d_mlp=_first_int(config, _MLP_WIDTH_KEYS) or 4 * d,
        tensors=tensors,
        measured_by=type(model).__name__,
        family=config.model_type,
        context_window=_first_int(config, _CONTEXT_KEYS),
    )
    kv = _first_int(config, ("num_key_value_heads", "num_kv_heads", "multi_query_group_num"))
    if kv is not None and kv <= h and h % kv == 0:
        fields["n_kv_heads"] = kv
    head = _first_int(config, ("head_dim", "kv_channels"))
    if head is not None or d % h:
        fields["d_head"] = head or d // h
    out_emb, in_emb = model.get_output_embeddings(), model.get_input_embeddings()
    fields["tied_embeddings"] = out_emb is not None and in_emb is not None and out_emb.weight is in_emb.weight
    experts = _first_int(config, _EXPERT_KEYS)
    if experts is not None and experts > 1 and any(t.expert for t in tensors):
        fields["n_experts"] = experts
        fields["n_active_experts"] = min(_first_int(config, _TOP_K_KEYS) or 1, experts)
    if any(t.component in ("Gate", "Gate+Up (fused)") or "gate_up_proj" in t.name for t in tensors):
        fields["mlp"] = "gated"  # a gate matrix, alone or fused with the up-projection (transformers' experts)
    act = next((getattr(config, k) for k in ("hidden_act", "activation_function") if hasattr(config, k)), None)
    if isinstance(act, str):
        fields["activation"] = activation(act, "gelu")
    if any(t.component == "Norms" and t.name.endswith(".bias") for t in tensors):
        fields["norm"] = "layernorm"  # a norm with a shift: LayerNorm (RMSNorm has a scale only)
    positions = [t for t in tensors if t.component == "Position embedding" and t.kind == "embedding"]
    if positions:
        fields.update(position="learned", n_positions=positions[0].shape[0])
    return fields


def measured_spec(cfg: dict[str, Any], origin: str) -> ModelSpec:
    """The ModelSpec of a config.json whose model_type has no native mapper: transformers' class on the meta device."""
    from llm_budget.model.presets import spec_from_mapping

    start = time.perf_counter()
    config = transformers_config(cfg)
    model = meta_model(config)
    tensors = tensor_table(model)
    fields = spec_fields(config, model, tensors)
    seconds = time.perf_counter() - start
    name = cfg.get("_name_or_path")
    fields["display_name"] = name if isinstance(name, str) and name else f"{config.model_type} config"
    fields["notes"] = f"measured from transformers' {type(model).__name__} on the meta device: {seconds:.1f} s"
    spec = spec_from_mapping(fields, origin)
    _CONFIGS[spec] = dict(cfg)
    return spec


def config_of(spec: ModelSpec) -> dict[str, Any]:
    """The config.json a measured spec was built from (the memory measurements build the model again)."""
    cfg = _CONFIGS.get(spec)
    if cfg is None:
        raise LLMBudgetError(
            f"{spec.label}: a measured tensor table without its config.json; give the config with --hf-config"
        )
    return cfg
