"""Presets that name a family's official config.json keys (hf_config:) go through the same mapper as a
user's config.json: the two give the same model, and a malformed preset is a one-line error."""

from __future__ import annotations

import json

import pytest
from conftest import HF_CONFIGS

from llm_budget.errors import SpecError
from llm_budget.model.counter import count_params
from llm_budget.model.presets import load_hf_config, load_spec_file


def _write(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_hf_config_preset_equals_the_config_json(tmp_path):
    cfg = json.loads((HF_CONFIGS / "llama3-8b.json").read_text())
    lines = ["name: my-llama", "display_name: My Llama", "published_params: 8_030_261_248", "hf_config:"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in cfg.items()]
    spec = load_spec_file(_write(tmp_path, "\n".join(lines) + "\n"))
    assert spec.display_name == "My Llama" and spec.family == "llama"
    ours = count_params(spec)
    assert ours.total == count_params(load_hf_config(HF_CONFIGS / "llama3-8b.json")).total
    assert ours.total == 8_030_261_248  # Meta's Llama 3 8B: 8,030,261,248 (safetensors total on the Hub)


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: x\nhf_config: [1, 2]\n", "hf_config must be a mapping"),
        ("name: x\nd_embed: 64\nhf_config: {model_type: llama}\n", "unknown key 'd_embed' next to hf_config"),
        ("name: x\nhf_config: {model_type: llama}\n", "has no 'num_attention_heads'"),
    ],
)
def test_malformed_hf_config_preset(tmp_path, text, message):
    with pytest.raises(SpecError, match=message):
        load_spec_file(_write(tmp_path, text))
