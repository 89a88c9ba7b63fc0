"""Compatibility: the config.json reader moved to llm_budget.model.hf (llm_budget/probe/hf.py still imports it here)."""

from llm_budget.model.hf import read_hf_config, spec_fields_from_hf

__all__ = ["read_hf_config", "spec_fields_from_hf"]
