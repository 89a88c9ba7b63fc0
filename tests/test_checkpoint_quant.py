"""Quantized checkpoints: each scheme's tensors as its library lays them out, summed by hand here.

Every tiny checkpoint below is the 2-layer Llama of checkpoint_fixtures with its 14 block linears replaced by
the scheme's tensors (shapes from the file each scheme cites: AutoGPTQ QuantLinear, AutoAWQ WQLinear_GEMM,
bitsandbytes QuantState.as_dict, transformers' FP8Linear, gpt-oss' MXFP4 experts, compressed-tensors). The
expected bytes are written out per linear from those shapes, independently of the code's formulas.
"""

from __future__ import annotations

import json

import pytest
from checkpoint_fixtures import LINEARS, TINY_LLAMA, TINY_LLAMA_PARAMS, D, L, V, llama_tensors, write_checkpoint

from llm_budget.checkpoint.quantization import read_scheme, stored_linear_bytes
from llm_budget.checkpoint.resolve import resolve_model
from llm_budget.checkpoint.safetensors import SafetensorsHeader, TensorHeader
from llm_budget.checkpoint.table import build_table
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import Precision, parse_precision
from llm_budget.memory import InferSetup, inference_memory

UNQUANTIZED_BF16 = 2 * (V * D * 2 + L * 2 * D + D)  # embed, lm_head, 2 norms a layer, final norm: BF16
QUANT_STATE = 48  # bytes of bitsandbytes' packed quant_state JSON in our fixture (any length works)


def gptq(g):
    def linear(m, o, n):
        return {
            m + ".qweight": ("I32", (n * 4 // 32, o)),
            m + ".qzeros": ("I32", (n // g, o * 4 // 32)),
            m + ".scales": ("F16", (n // g, o)),
            m + ".g_idx": ("I32", (n,)),
        }

    return linear, lambda o, n: (n // 8) * o * 4 + (n // g) * (o // 8) * 4 + (n // g) * o * 2 + n * 4


def awq(g):
    def linear(m, o, n):
        return {
            m + ".qweight": ("I32", (n, o // 8)),
            m + ".qzeros": ("I32", (n // g, o // 8)),
            m + ".scales": ("F16", (n // g, o)),
        }

    return linear, lambda o, n: n * (o // 8) * 4 + (n // g) * (o // 8) * 4 + (n // g) * o * 2


def bnb4(double_quant):
    def linear(m, o, n):
        blocks = o * n // 64
        t = {m + ".weight": ("U8", (o * n // 2, 1)), m + ".weight.quant_map": ("F32", (16,))}
        t[m + ".weight.quant_state.bitsandbytes__nf4"] = ("U8", (QUANT_STATE,))
        if double_quant:
            t[m + ".weight.absmax"] = ("U8", (blocks,))
            t[m + ".weight.nested_absmax"] = ("F32", (-(-blocks // 256),))
            t[m + ".weight.nested_quant_map"] = ("F32", (256,))
        else:
            t[m + ".weight.absmax"] = ("F32", (blocks,))
        return t

    def hand(o, n):
        blocks = o * n // 64
        absmax = blocks + 4 * -(-blocks // 256) + 4 * 256 if double_quant else 4 * blocks
        return o * n // 2 + absmax + 64

    return linear, hand


def bnb8():
    def linear(m, o, n):
        return {m + ".weight": ("I8", (o, n)), m + ".SCB": ("F32", (o,)), m + ".weight_format": ("U8", ())}

    return linear, lambda o, n: o * n + 4 * o


def fp8(block):
    def linear(m, o, n):
        scale = (-(-o // block), -(-n // block)) if block else ()
        return {m + ".weight": ("F8_E4M3", (o, n)), m + ".weight_scale_inv": ("F32", scale)}

    return linear, lambda o, n: o * n + 4 * ((-(-o // block)) * (-(-n // block)) if block else 1)


def ct_int4(g):
    def linear(m, o, n):
        return {
            m + ".weight_packed": ("I32", (o, n // 8)),
            m + ".weight_scale": ("BF16", (o, n // g)),
            m + ".weight_shape": ("I64", (2,)),
        }

    return linear, lambda o, n: o * n // 2 + 2 * o * (n // g) + 16


def ct_fp8_channel():
    def linear(m, o, n):
        return {m + ".weight": ("F8_E4M3", (o, n)), m + ".weight_scale": ("BF16", (o, 1))}

    return linear, lambda o, n: o * n + 2 * o


CT_GROUP = {"targets": ["Linear"], "input_activations": None}
SCHEMES = {
    "gptq": (gptq(32), {"quant_method": "gptq", "bits": 4, "group_size": 32, "desc_act": False, "sym": True}, "int4"),
    "awq": (
        awq(32),
        {"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": True, "version": "gemm"},
        "int4",
    ),
    "bnb-nf4": (
        bnb4(False),
        {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
        "nf4",
    ),
    "bnb-nf4-dq": (
        bnb4(True),
        {
            "quant_method": "bitsandbytes",
            "load_in_4bit": True,
            "bnb_4bit_quant_type": "nf4",
            "bnb_4bit_use_double_quant": True,
        },
        "nf4",
    ),
    "bnb-int8": (bnb8(), {"quant_method": "bitsandbytes", "load_in_8bit": True}, "int8"),
    "fp8-block": (
        fp8(32),
        {"quant_method": "fp8", "weight_block_size": [32, 32], "activation_scheme": "dynamic"},
        "fp8-e4m3",
    ),
    "fp8-tensor": (
        fp8(None),
        {"quant_method": "fp8", "weight_block_size": None, "activation_scheme": "dynamic"},
        "fp8-e4m3",
    ),
    "ct-int4": (
        ct_int4(32),
        {
            "quant_method": "compressed-tensors",
            "format": "pack-quantized",
            "ignore": ["lm_head"],
            "config_groups": {
                "group_0": {
                    **CT_GROUP,
                    "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 32, "symmetric": True},
                }
            },
        },
        "int4",
    ),
    "ct-fp8": (
        ct_fp8_channel(),
        {
            "quant_method": "compressed-tensors",
            "format": "float-quantized",
            "ignore": ["lm_head"],
            "config_groups": {
                "group_0": {
                    **CT_GROUP,
                    "weights": {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True},
                }
            },
        },
        "fp8-e4m3",
    ),
}
EXTRA_BYTES = {"bnb-nf4": QUANT_STATE, "bnb-nf4-dq": QUANT_STATE, "bnb-int8": 1}  # quant_state JSON, weight_format


def _checkpoint(tmp_path, key, shards=2):
    (linear, hand), qcfg, _ = SCHEMES[key]
    folder = write_checkpoint(
        tmp_path / key, llama_tensors(linear=linear), {**TINY_LLAMA, "quantization_config": qcfg}, shards=shards
    )
    expected = UNQUANTIZED_BF16 + L * sum(hand(o, n) + EXTRA_BYTES.get(key, 0) for o, n in LINEARS.values())
    return folder, expected, hand


@pytest.mark.parametrize("key", list(SCHEMES))
def test_table_bytes_equal_the_scheme_summed_by_hand(tmp_path, key):
    folder, expected, hand = _checkpoint(tmp_path, key)
    table = resolve_model(str(folder)).table
    assert table is not None
    assert table.total_bytes == expected
    assert table.total_params == TINY_LLAMA_PARAMS  # packed values unpacked: the model's logical parameters
    assert (table.quantized_modules, table.unquantized_modules) == (L * len(LINEARS), 2 + 2 * L + 1)
    scheme = table.scheme
    assert scheme is not None
    for o, n in LINEARS.values():  # the formula for a config.json alone, linear by linear
        assert stored_linear_bytes(scheme, o, n) == hand(o, n)


@pytest.mark.parametrize("key", list(SCHEMES))
def test_config_alone_gives_the_table_bytes(tmp_path, key):
    folder, expected, _ = _checkpoint(tmp_path, key)
    resolved = resolve_model(str(folder))
    weights = resolved.weights
    assert weights is not None and weights.stored_bytes == expected
    assert weights.loaded_bytes == expected  # the files hold the compute dtype: loaded as stored
    from_config = weights.model_copy(update={"stored_bytes": None, "loaded_bytes": None})
    setup = InferSetup(precision=parse_precision(weights.precision), device="cpu", context=16, checkpoint=from_config)
    line = inference_memory(resolved.spec, setup).components[0]
    assert "by its scheme" in line.name
    per_file_extras = L * len(LINEARS) * EXTRA_BYTES.get(key, 0)  # bytes the formula does not model
    assert line.bytes == expected - per_file_extras


@pytest.mark.parametrize("key", list(SCHEMES))
def test_precision_estimate_agrees_with_the_table_within_the_scales(tmp_path, key):
    folder, expected, _ = _checkpoint(tmp_path, key)
    resolved = resolve_model(str(folder))
    assert resolved.table is not None
    precision = SCHEMES[key][2]
    setup = InferSetup(precision=parse_precision(precision), device="cpu", context=16, double_quant=key.endswith("-dq"))
    estimate = inference_memory(resolved.spec, setup)
    metadata = sum(r.bytes for r in resolved.table.rows if r.role in ("scale", "zero", "index", "meta"))
    assert abs(estimate.components[0].bytes - expected) <= metadata


def test_table_is_used_for_serving_and_precision_overrides_it(tmp_path):
    folder, expected, _ = _checkpoint(tmp_path, "gptq")
    resolved = resolve_model(str(folder))
    weights = resolved.weights
    assert weights is not None and weights.precision == "int4"
    served = inference_memory(resolved.spec, InferSetup(precision=Precision.int4, context=16, checkpoint=weights))
    assert served.components[0].bytes == expected and "tensor table" in served.components[0].name
    override = inference_memory(resolved.spec, InferSetup(precision=Precision.bf16, context=16, checkpoint=weights))
    assert override.components[0].bytes != expected
    assert any("overrides the checkpoint" in a for a in override.assumptions)


def test_mxfp4_experts_follow_gpt_oss_layout():
    # gpt-oss: experts.gate_up_proj_blocks U8 [E, 2f, d/32, 16] + _scales U8 [E, 2f, d/32]; down likewise
    E, d, f = 4, 64, 96
    tensors = {
        "model.layers.0.mlp.experts.gate_up_proj_blocks": ("U8", (E, 2 * f, d // 32, 16)),
        "model.layers.0.mlp.experts.gate_up_proj_scales": ("U8", (E, 2 * f, d // 32)),
        "model.layers.0.mlp.experts.gate_up_proj_bias": ("BF16", (E, 2 * f)),
        "model.layers.0.mlp.experts.down_proj_blocks": ("U8", (E, d, f // 32, 16)),
        "model.layers.0.mlp.experts.down_proj_scales": ("U8", (E, d, f // 32)),
        "model.layers.0.mlp.router.weight": ("BF16", (E, d)),
    }
    header = SafetensorsHeader(
        file="model.safetensors",
        header_bytes=0,
        tensors=[TensorHeader(name=k, dtype=t, shape=s, nbytes=_nbytes(t, s)) for k, (t, s) in tensors.items()],
    )
    scheme = read_scheme(
        {
            "quantization_config": {
                "quant_method": "mxfp4",
                "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"],
            }
        },
        "x",
    )
    table = build_table([header], scheme, "gpt-oss-like")
    experts = next(c for c in table.components if c.component == "Experts")
    n = E * 2 * f * d + E * d * f
    assert experts.params == n  # 32 values per 16 bytes
    assert experts.bytes == n // 2 + n // 32  # 4 bits a value + one E8M0 byte per 32
    assert stored_linear_bytes(scheme, 2 * f, d) * E + stored_linear_bytes(scheme, d, f) * E == experts.bytes
    assert {c.component for c in table.components} == {"Experts", "Router", "Biases"}


def _nbytes(dtype, shape):
    from math import prod

    return prod(shape) * {"U8": 1, "BF16": 2}[dtype]


def test_unknown_quantization_method_is_one_line(tmp_path):
    folder = write_checkpoint(
        tmp_path / "m", llama_tensors(), {**TINY_LLAMA, "quantization_config": {"quant_method": "magic"}}
    )
    with pytest.raises(LLMBudgetError, match="quantization method 'magic' is not supported"):
        resolve_model(str(folder))


def test_autogptq_quantize_config_json_is_read(tmp_path):
    (linear, _), _, _ = SCHEMES["gptq"]
    folder = write_checkpoint(tmp_path / "m", llama_tensors(linear=linear))
    (folder / "quantize_config.json").write_text(json.dumps({"bits": 4, "group_size": 32, "desc_act": False}))
    table = resolve_model(str(folder)).table
    assert table is not None and table.scheme is not None and table.scheme.method == "gptq"
    assert table.total_params == TINY_LLAMA_PARAMS


def test_unquantized_tensors_load_in_the_config_dtype(tmp_path):
    # FP32 files, config.json dtype bfloat16: transformers (dtype="auto") loads 2 bytes a parameter
    folder = write_checkpoint(tmp_path / "m", llama_tensors("F32"))
    resolved = resolve_model(str(folder))
    weights = resolved.weights
    assert weights is not None and weights.stored_bytes == 4 * TINY_LLAMA_PARAMS
    assert weights.loaded_bytes == 2 * TINY_LLAMA_PARAMS and weights.precision == "bf16"
    report = inference_memory(resolved.spec, InferSetup(context=16, checkpoint=weights))
    assert report.components[0].bytes == 2 * TINY_LLAMA_PARAMS
    assert any(f"The files hold {4 * TINY_LLAMA_PARAMS:,} bytes" in a for a in report.assumptions)


def test_compressed_tensors_nvfp4(tmp_path):
    # nvfp4-pack-quantized: FP4 values two a byte (U8 [o, n/2]), one FP8 E4M3 scale per 16 values, one FP32 global
    # scale per weight (compressed-tensors' NVFP4 preset: num_bits 4, type float, strategy tensor_group, group 16)
    def linear(m, o, n):
        return {
            m + ".weight_packed": ("U8", (o, n // 2)),
            m + ".weight_scale": ("F8_E4M3", (o, n // 16)),
            m + ".weight_global_scale": ("F32", (1,)),
        }

    def hand(o, n):
        return o * n // 2 + o * n // 16 + 4

    weights = {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16, "symmetric": True}
    qcfg = {
        "quant_method": "compressed-tensors",
        "format": "nvfp4-pack-quantized",
        "ignore": ["lm_head"],
        "config_groups": {"group_0": {**CT_GROUP, "weights": weights}},
    }
    folder = write_checkpoint(
        tmp_path / "nvfp4", llama_tensors(linear=linear), {**TINY_LLAMA, "quantization_config": qcfg}
    )
    resolved = resolve_model(str(folder))
    table, weights_ = resolved.table, resolved.weights
    assert table is not None and weights_ is not None and table.scheme is not None
    expected = UNQUANTIZED_BF16 + L * sum(hand(o, n) for o, n in LINEARS.values())
    assert table.total_bytes == expected and table.total_params == TINY_LLAMA_PARAMS
    assert all(stored_linear_bytes(table.scheme, o, n) == hand(o, n) for o, n in LINEARS.values())
    assert weights_.precision == "bf16"  # no --precision of the accountant stores FP4: served as the checkpoint says
    served = inference_memory(resolved.spec, InferSetup(context=16, checkpoint=weights_))
    assert served.components[0].bytes == expected
