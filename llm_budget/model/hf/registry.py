"""model_type -> mapper: the one table to extend when adding a family, and the dispatch over it."""

from __future__ import annotations

from llm_budget.errors import LLMBudgetError, SpecError
from llm_budget.model.hf import dbrx, dense, gpt, llama, moe
from llm_budget.model.hf.keys import Config, Fields, Mapper

MAPPERS: dict[str, Mapper] = {
    **llama.FAMILIES,
    **gpt.FAMILIES,
    **dense.FAMILIES,
    **dbrx.FAMILIES,
    **moe.FAMILIES,
}
"""Every native model_type: each family module's FAMILIES table (model_type -> family, mapper, modeling file)."""


class UnsupportedModelType(LLMBudgetError):
    """A config.json whose model_type has no native mapper (the transformers fallback may still measure it)."""

    def __init__(self, message: str, model_type: object) -> None:
        super().__init__(message)
        self.model_type = model_type


def spec_fields_from_hf(cfg: Config) -> Fields:
    """ModelSpec fields from a parsed config.json (not yet validated)."""
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or model_type not in MAPPERS:
        shown = repr(model_type) if len(repr(model_type)) <= 60 else repr(model_type)[:57] + "…"
        raise UnsupportedModelType(
            f"unsupported model_type {shown} in config.json; supported: {', '.join(sorted(MAPPERS))}", model_type
        )
    mapper = MAPPERS[model_type]
    try:
        fields = mapper.fields(cfg)
    except (TypeError, ValueError, AttributeError, ArithmeticError) as e:  # a key of the wrong type the helpers missed
        raise SpecError(f"config.json (model_type '{model_type}'): a key has a value of the wrong type ({e})") from None
    fields["family"] = mapper.family
    name = cfg.get("_name_or_path")
    if isinstance(name, str) and name:
        fields.setdefault("display_name", name)
    return {k: v for k, v in fields.items() if v is not None}
