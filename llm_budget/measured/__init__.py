"""Every causal LM without a native mapper, measured from transformers' own class (torch and transformers needed).

    requirements.py  the one-line error (and install hint) when torch or transformers is missing
    inventory.py     config.json -> ModelSpec whose `tensors` is the model's parameter table on the meta device
                     (each tensor's counter row from model/hf/names.py)
    probe.py         one training step of a few blocks under fake tensors (the probe's own tools, llm_budget/probe)
    extrapolate.py   from the probed depths to the model's: the table at a depth, the layer period, the line
    training.py      the training step: model states from the table, forward/backward from probe.py, extrapolated
    inference.py     serving: weights from the table, the KV cache and the prefill workspace from transformers' prefill

This package imports without torch: torch and transformers are imported inside the functions that use them.
"""

from __future__ import annotations

from typing import Any

from llm_budget.model.spec import ModelSpec


def spec_from_transformers(cfg: dict[str, Any], origin: str) -> ModelSpec:
    """A config.json whose model_type has no native mapper -> its ModelSpec, measured on the meta device;
    without torch or transformers, the one-line error that names the install and the native families."""
    from llm_budget.measured.requirements import refuse_unknown_types, require_torch_and_transformers
    from llm_budget.model.hf import MAPPERS

    refuse_unknown_types(cfg.get("model_type"), list(MAPPERS))
    require_torch_and_transformers(cfg.get("model_type"), list(MAPPERS))
    from llm_budget.measured.inventory import measured_spec

    return measured_spec(cfg, origin)


__all__ = ["spec_from_transformers"]
