"""Every causal LM without a native mapper, measured from transformers' own class (torch and transformers needed).

    requirements.py  the one-line error (and install hint) when torch or transformers is missing
    names.py         a transformers parameter name -> the counter row it is counted in
    inventory.py     config.json -> ModelSpec whose `tensors` is the model's parameter table on the meta device
    training.py      the training step's peak from the fake-tensor probe of a few layers, extrapolated to the depth

This package imports without torch: torch and transformers are imported inside the functions that use them.
"""

from __future__ import annotations

from typing import Any

from llm_budget.model.spec import ModelSpec


def spec_from_transformers(cfg: dict[str, Any], origin: str) -> ModelSpec:
    """A config.json whose model_type has no native mapper -> its ModelSpec, measured on the meta device;
    without torch or transformers, the one-line error that names the install and the native families."""
    from llm_budget.measured.requirements import require_torch_and_transformers
    from llm_budget.model.hf import MAPPERS

    require_torch_and_transformers(cfg.get("model_type"), list(MAPPERS))
    from llm_budget.measured.inventory import measured_spec

    return measured_spec(cfg, origin)


__all__ = ["spec_from_transformers"]
