"""The checkpoint package against transformers' own code: every parameter name of a real implementation
(built on the meta device, no memory) lands in the counter row that counts it, so the cross-check is exact; and
the FP8 and MXFP4 byte formulas equal the state of transformers' own quantized modules."""

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
    spec = load_hf_config(path)
    check = cross_check(table, count_params(spec), spec)
    assert check.differing == [] and check.difference == 0
    assert table.total_params == sum(r.elements for r in table.rows)


def _state_bytes(module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


@pytest.mark.parametrize(
    "qcfg, build",
    [
        (
            {"quant_method": "fp8", "weight_block_size": [128, 128]},
            lambda fp8, fb: fp8(4096, 1000, block_size=(128, 128)),
        ),
        (
            {"quant_method": "fp8", "weight_block_size": None, "activation_scheme": "static"},
            lambda fp8, fb: fp8(4096, 1000, block_size=None, activation_scheme="static"),
        ),
        ({"quant_method": "fbgemm_fp8"}, lambda fp8, fb: fb(4096, 1000, bias=False)),
    ],
)
def test_fp8_formulas_equal_transformers_modules(qcfg, build):
    # transformers' own quantized linears (integrations/finegrained_fp8.py, fbgemm_fp8.py), on the meta device
    torch = pytest.importorskip("torch")
    from transformers.integrations.fbgemm_fp8 import FbgemmFp8Linear
    from transformers.integrations.finegrained_fp8 import FP8Linear

    from llm_budget.checkpoint.quantization import read_scheme, stored_linear_bytes

    with torch.device("meta"):
        module = build(FP8Linear, FbgemmFp8Linear)
    scheme = read_scheme({"quantization_config": qcfg}, "test")
    assert scheme is not None
    assert stored_linear_bytes(scheme, 1000, 4096) == _state_bytes(module)


def test_mxfp4_blocks_equal_transformers_experts():
    # Mxfp4GptOssExperts holds each expert matrix as U8 [E, d_out, d_in/2]: the blocks; scales add one byte per 32
    torch = pytest.importorskip("torch")
    from transformers import GptOssConfig
    from transformers.integrations.mxfp4 import Mxfp4GptOssExperts

    from llm_budget.checkpoint.quantization import read_scheme, stored_linear_bytes

    E, d, f = 4, 2880, 2880
    with torch.device("meta"):
        experts = Mxfp4GptOssExperts(GptOssConfig(num_local_experts=E, hidden_size=d, intermediate_size=f))
    blocks = experts.gate_up_proj.numel() + experts.down_proj.numel()
    scheme = read_scheme({"quantization_config": {"quant_method": "mxfp4"}}, "test")
    assert scheme is not None
    formula = E * (stored_linear_bytes(scheme, 2 * f, d) + stored_linear_bytes(scheme, d, f))
    assert formula == blocks + blocks // 16  # n/2 bytes of blocks, n/32 scale bytes = blocks/16
