"""Mappers of the dense decoders added for issue 10 (Falcon, phi, StableLM, StarCoder, OLMo 2, Granite, ...)."""

from __future__ import annotations

from llm_budget.model.hf.keys import Mapper

FAMILIES: dict[str, Mapper] = {}
