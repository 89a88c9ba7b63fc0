"""The table's name rules against transformers' own models: every parameter name of a real implementation
(built on the meta device, no memory) lands in the counter row that counts it, so the cross-check is exact."""

from __future__ import annotations

import json
import warnings

import pytest
from conftest import HF_CONFIGS

from llm_budget.checkpoint.crosscheck import cross_check
from llm_budget.checkpoint.safetensors import SafetensorsHeader, TensorHeader
from llm_budget.checkpoint.table import build_table
from llm_budget.model.counter import count_params
from llm_budget.model.presets import load_hf_config

pytestmark = pytest.mark.slow  # imports torch and transformers (seconds)

# One config per naming family: Llama (q_proj, gate_proj), Qwen2 (qkv biases), GPT-2 (Conv1D c_attn, c_fc, wte,
# wpe), GPT-NeoX (query_key_value, dense_h_to_4h, embed_out), Phi-3 (qkv_proj, gate_up_proj), Mixtral (experts,
# router), Gemma (tied, norms), Bloom (word_embeddings, layernorm biases).
FIXTURES = ["llama2-7b", "qwen2-7b", "gpt2", "pythia-70m", "phi-3-mini-4k", "mixtral-8x7b", "gemma-7b", "bloom-560m"]


def _meta_parameters(config_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    cfg = json.loads(config_path.read_text())
    model_type = cfg.pop("model_type")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = transformers.AutoConfig.for_model(model_type, **cfg)
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(config)
    # what save_pretrained writes: each parameter once (tied weights once), in BF16
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_transformers_names_land_in_the_counter_rows(fixture):
    path = HF_CONFIGS / f"{fixture}.json"
    params = _meta_parameters(path)
    tensors = []
    for name, shape in params:
        n = 1
        for s in shape:
            n *= s
        tensors.append(TensorHeader(name=name, dtype="BF16", shape=shape, nbytes=2 * n))
    table = build_table([SafetensorsHeader(file="model.safetensors", tensors=tensors, header_bytes=0)], None, fixture)
    assert not [r.name for r in table.rows if r.component == "Other"]
    check = cross_check(table, count_params(load_hf_config(path)))
    assert check.differing == [] and check.difference == 0
    assert table.total_params == sum(r.elements for r in table.rows)
