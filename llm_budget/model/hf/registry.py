"""model_type -> mapper: the one table to extend when adding a family, and the dispatch over it."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from llm_budget.errors import LLMBudgetError, SpecError
from llm_budget.model.hf import dbrx, gpt, llama
from llm_budget.model.hf.keys import Config, Fields


class Mapper(NamedTuple):
    family: str  # ModelSpec.family of the specs it builds
    fields: Callable[[Config], Fields]
    follows: str  # the transformers modeling file it was written from (under src/transformers/models/)


MAPPERS: dict[str, Mapper] = {
    "llama": Mapper("llama", llama.llama, "llama/modeling_llama.py"),
    "mistral": Mapper("mistral", llama.mistral, "mistral/modeling_mistral.py"),
    "mixtral": Mapper("mixtral", llama.mixtral, "mixtral/modeling_mixtral.py"),
    "gemma": Mapper("gemma", llama.gemma, "gemma/modeling_gemma.py"),
    "gemma2": Mapper("gemma2", llama.gemma2, "gemma2/modeling_gemma2.py"),
    "gpt2": Mapper("gpt2", gpt.gpt2, "gpt2/modeling_gpt2.py"),
    "gpt_neox": Mapper("gpt-neox", gpt.gpt_neox, "gpt_neox/modeling_gpt_neox.py"),
    "cohere": Mapper("cohere", llama.cohere, "cohere/modeling_cohere.py"),
    "dbrx": Mapper("dbrx", dbrx.dbrx, "dbrx/modeling_dbrx.py"),
    "qwen2": Mapper("qwen2", llama.qwen2, "qwen2/modeling_qwen2.py"),
    "qwen3": Mapper("qwen3", llama.qwen3, "qwen3/modeling_qwen3.py"),
    "bloom": Mapper("bloom", gpt.bloom, "bloom/modeling_bloom.py"),
    "phi3": Mapper("phi3", llama.phi3, "phi3/modeling_phi3.py"),
}


def spec_fields_from_hf(cfg: Config) -> Fields:
    """ModelSpec fields from a parsed config.json (not yet validated)."""
    model_type = cfg.get("model_type")
    if not isinstance(model_type, str) or model_type not in MAPPERS:
        shown = repr(model_type) if len(repr(model_type)) <= 60 else repr(model_type)[:57] + "…"
        raise LLMBudgetError(f"unsupported model_type {shown} in config.json; supported: {', '.join(sorted(MAPPERS))}")
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
