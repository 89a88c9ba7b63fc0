"""model_type -> mapper: the one table to extend when adding a family, and the dispatch over it."""

from __future__ import annotations

from llm_budget.errors import LLMBudgetError, SpecError
from llm_budget.model.hf import dbrx, deepseek, dense, gpt, llama, llama4, moe
from llm_budget.model.hf.keys import Config, Fields, Mapper
from llm_budget.model.hf.multimodal import ALIASES, TEXT_MODELS, language_model

MAPPERS: dict[str, Mapper] = {
    **llama.FAMILIES,
    **gpt.FAMILIES,
    **dense.FAMILIES,
    **dbrx.FAMILIES,
    **moe.FAMILIES,
    **deepseek.FAMILIES,
    **llama4.FAMILIES,
}
"""Every native model_type: each family module's FAMILIES table (model_type -> family, mapper, modeling file).
Also read natively: multimodal.ALIASES (another family's architecture under its own name) and
multimodal.TEXT_MODELS (the language model in a multimodal config's text_config)."""


class UnsupportedModelType(LLMBudgetError):
    """A config.json whose model_type has no native mapper (the transformers fallback may still measure it)."""

    def __init__(self, message: str, model_type: object) -> None:
        super().__init__(message)
        self.model_type = model_type


def supported_model_types() -> list[str]:
    """Every model_type a config.json may name: native families, aliases, multimodal wrappers."""
    return sorted({*MAPPERS, *ALIASES, *TEXT_MODELS})


def _refuse(model_type: object, inner: str = "") -> UnsupportedModelType:
    shown = repr(model_type) if len(repr(model_type)) <= 60 else repr(model_type)[:57] + "…"
    return UnsupportedModelType(
        f"unsupported model_type {shown}{inner} in config.json; supported: {', '.join(supported_model_types())}",
        model_type,
    )


def spec_fields_from_hf(cfg: Config) -> Fields:
    """ModelSpec fields from a parsed config.json (not yet validated)."""
    wrapped = language_model(cfg)
    note = None
    if wrapped is not None:
        outer = cfg.get("model_type")
        cfg, note = wrapped
        if ALIASES.get(cfg["model_type"], cfg["model_type"]) not in MAPPERS:
            raise _refuse(outer, f" (its text_config is '{cfg['model_type']}')")
    model_type = cfg.get("model_type")
    if isinstance(model_type, str):
        model_type = ALIASES.get(model_type, model_type)
    if not isinstance(model_type, str) or model_type not in MAPPERS:
        raise _refuse(model_type)
    mapper = MAPPERS[model_type]
    try:
        fields = mapper.fields(cfg)
    except (TypeError, ValueError, AttributeError, ArithmeticError) as e:  # a key of the wrong type the helpers missed
        raise SpecError(f"config.json (model_type '{model_type}'): a key has a value of the wrong type ({e})") from None
    fields["family"] = mapper.family
    if note is not None:
        fields["notes"] = note
    name = cfg.get("_name_or_path")
    if isinstance(name, str) and name:
        fields.setdefault("display_name", name)
    return {k: v for k, v in fields.items() if v is not None}
