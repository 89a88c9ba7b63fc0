"""Presets of the mixture-of-experts models people ask about: each is its official config.json (hf_config:,
read by the same mapper as a user's file), equal to that config's fixture, and its count agrees with the
figures its authors publish, rounded the way they round and counting "active" the way they count it.

The authors differ on what "active parameters" holds (checked below against the exact counts):
  with the embedding and output matrices: Qwen (3.3B is 3.35B cut, not rounded), Microsoft (Phi-3.5-MoE), Meta;
  without the embedding lookup, with the output head: DeepSeek (37B), Moonshot (32B), OpenAI (3.61B, 5.13B);
  without either (non-embedding counts, total too): Z.ai (GLM-4.5-Air: 106B, 12B).
"""

from __future__ import annotations

import json
import math

import pytest
from conftest import HF_CONFIGS

from llm_budget.model.counter import count_params
from llm_budget.model.hf import spec_fields_from_hf
from llm_budget.model.presets import load_preset
from llm_budget.model.spec import ModelSpec

FIXTURE = {
    "qwen3-30b-a3b": "qwen3-30b-a3b.json",
    "qwen3-235b-a22b": "qwen3-235b-a22b.json",
    "deepseek-v3": "deepseek-v3.json",
    "kimi-k2": "wrapped/kimi-k2.json",
    "gpt-oss-20b": "gpt-oss-20b.json",
    "gpt-oss-120b": "gpt-oss-120b.json",
    "phi-3.5-moe": "phi-3.5-moe.json",
    "glm-4.5-air": "glm-4.5-air.json",
    "llama4-scout": "wrapped/llama4-scout.json",
    "llama4-maverick": "wrapped/llama4-maverick.json",
}

# The authors' words (model cards, reports; sources in each preset's `source`).
ROUNDED = {
    "qwen3-30b-a3b": "30.5B total, 3.3B active",
    "qwen3-235b-a22b": "235B total, 22B active",
    "deepseek-v3": "671B total, 37B active",
    "kimi-k2": "1T total, 32B active",
    "gpt-oss-20b": "20.91B total, 3.61B active",
    "gpt-oss-120b": "116.83B total, 5.13B active",
    "phi-3.5-moe": "41.9B total, 6.6B active",
    "glm-4.5-air": "106B total, 12B active",
    "llama4-scout": "109B total, 17B active",
    "llama4-maverick": "400B total, 17B active",
}


def _matrices(name: str) -> tuple[int, int, int, int]:
    """total, active, embedding matrix, output matrix (0 when tied) of a preset."""
    c = count_params(load_preset(name))
    return c.total, c.active, c.get("Embedding"), c.get("Unembedding")


@pytest.mark.parametrize("name", sorted(FIXTURE))
def test_preset_is_its_official_config(name):
    cfg = json.loads((HF_CONFIGS / FIXTURE[name]).read_text())
    from_config = count_params(ModelSpec.model_validate(spec_fields_from_hf(cfg)))
    from_preset = count_params(load_preset(name))
    assert [(c.name, c.count, c.active) for c in from_preset.components] == [
        (c.name, c.count, c.active) for c in from_config.components
    ]
    assert from_preset.mtp_params == from_config.mtp_params


@pytest.mark.parametrize("name", sorted(ROUNDED))
def test_preset_states_the_authors_rounded_count(name):
    spec = load_preset(name)
    assert spec.published_rounded == ROUNDED[name] and spec.published_params is None
    assert spec.source and "config.json" in spec.source and spec.notes


def test_counts_with_embeddings_as_qwen_microsoft_and_meta_count():
    total, active, emb, out = _matrices("qwen3-30b-a3b")
    assert round(total / 1e9, 1) == 30.5
    assert math.floor(active / 1e8) / 10 == 3.3  # 3.353B: the card cuts it (rounding would say 3.4B)
    assert round((total - emb - out) / 1e9, 1) == 29.9  # the card's "Number of Parameters (Non-Embedding): 29.9B"
    total, active, _, _ = _matrices("qwen3-235b-a22b")
    assert (round(total / 1e9), round(active / 1e9)) == (235, 22)
    total, active, _, _ = _matrices("phi-3.5-moe")
    assert (round(total / 1e9, 1), round(active / 1e9, 1)) == (41.9, 6.6)
    for name in ("llama4-scout", "llama4-maverick"):
        assert round(_matrices(name)[1] / 1e9) == 17


def test_active_without_the_embedding_lookup_as_deepseek_moonshot_and_openai_count():
    total, active, emb, _ = _matrices("deepseek-v3")
    assert (round(total / 1e9), round((active - emb) / 1e9)) == (671, 37)
    assert total == 671_026_404_352  # also transformers' meta-device count of the same config (test_hf_moe)
    total, active, emb, _ = _matrices("kimi-k2")
    assert (round(total / 1e12), round((active - emb) / 1e9)) == (1, 32)
    for name, published in (("gpt-oss-20b", (20.91, 3.61)), ("gpt-oss-120b", (116.83, 5.13))):
        total, active, emb, _ = _matrices(name)
        assert (round(total / 1e9, 2), round((active - emb) / 1e9, 2)) == published


def test_non_embedding_counts_as_zai_counts():
    total, active, emb, out = _matrices("glm-4.5-air")
    assert (round((total - emb - out) / 1e9), round((active - emb - out) / 1e9)) == (106, 12)
    assert round(total / 1e9) == 107  # with both matrices the total would round to 107B


def test_deepseek_v3_multi_token_prediction_block_is_counted_apart():
    """DeepSeek-V3's model card: 685B on the Hub = 671B main model + 14B MTP module. The MTP block here is
    13.46B; the Hub's figure also counts the FP8 checkpoint's scale tensors (one per 128 × 128 block)."""
    c = count_params(load_preset("deepseek-v3"))
    assert c.total == 671_026_404_352 and 13e9 < c.mtp_params < 14e9
    assert 684.4e9 < c.total + c.mtp_params < 685e9


def test_llama4_maverick_total_is_meta_s_loose_400b():
    # Meta's "400B" is loose: the language model is 400.71B (401.58B with the vision encoder in transformers).
    total = _matrices("llama4-maverick")[0]
    assert abs(total - 400e9) / 400e9 < 0.005


@pytest.mark.slow
def test_llama4_scout_with_its_vision_encoder_is_meta_s_109b():
    """Meta's 109B counts the whole multimodal model: transformers' Llama4ForConditionalGeneration on the official
    config, whose language-model part is our count (test_hf_moe holds it row by row)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg = json.loads((HF_CONFIGS / "wrapped/llama4-scout.json").read_text())
    cfg.pop("model_type")
    with torch.device("meta"):
        model = transformers.AutoModelForImageTextToText.from_config(transformers.Llama4Config(**cfg))
    whole = sum(p.numel() for p in model.parameters())
    vision = sum(
        p.numel() for n, p in model.named_parameters() if n.startswith(("vision_model", "multi_modal_projector"))
    )
    assert round(whole / 1e9) == 109
    assert whole - vision == _matrices("llama4-scout")[0]  # the preset is the rest: the language model
