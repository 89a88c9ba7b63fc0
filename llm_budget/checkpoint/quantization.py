"""A checkpoint's `quantization_config`: which scheme, and the bytes one linear weight takes in it.

Supported methods (transformers/utils/quantization_config.py, QuantizationMethod; one formula each, with the
file whose layout it follows). For a weight of d_out × d_in (n = d_out·d_in values, b bits each, groups of g
along d_in, G = ⌈d_in/g⌉ groups per output row):

    gptq                qweight I32 [d_in·b/32, d_out] + qzeros I32 [G, d_out·b/32] + scales F16 [G, d_out]
                        + g_idx I32 [d_in]      (AutoGPTQ nn_modules/qlinear/qlinear_cuda_old.py, QuantLinear)
    awq                 qweight I32 [d_in, d_out·b/32] + qzeros I32 [G, d_out·b/32] + scales F16 [G, d_out]
                        (AutoAWQ awq/modules/linear/gemm.py, WQLinear_GEMM)
    bitsandbytes 4-bit  n/2 bytes (two values a byte, U8) + absmax F32 per 64 values + quant_map F32 [16]; with
                        double quantization absmax is U8 + nested_absmax F32 per 256 blocks + nested_quant_map
                        F32 [256] (bitsandbytes functional.py quantize_4bit, QuantState.as_dict(packed=True);
                        transformers quantizers/quantizer_bnb_4bit.py names the tensors)
    bitsandbytes 8-bit  n (I8) + SCB F32 [d_out] (LLM.int8 row-wise absmax; quantizers/quantizer_bnb_8bit.py)
    fp8                 n (F8_E4M3) + weight_scale_inv F32 [⌈d_out/b0⌉, ⌈d_in/b1⌉] (block-wise), or one F32
                        (per tensor), + activation_scale F32 when static (integrations/finegrained_fp8.py, FP8Linear)
    fbgemm_fp8          n (F8_E4M3) + weight_scale F32 [d_out, 1] (integrations/fbgemm_fp8.py, FbgemmFp8Linear)
    mxfp4               n/2 (U8 blocks of 32 values in 16 bytes) + one U8 E8M0 scale per 32 values, experts only
                        (integrations/mxfp4.py, Mxfp4GptOssExperts; OCP Microscaling Formats v1.0 §5)
    compressed-tensors  values n·b/8 (pack-quantized: I32 words) + one scale per tensor/channel/group/block
                        (+ zero points when asymmetric) (+ weight_shape I64 [2] when packed)
                        (integrations/compressed_tensors.py; compressed-tensors' QuantizationArgs)

Unquantized tensors (embeddings, norms, biases, lm_head, routers, skipped modules) stay in the compute dtype.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from llm_budget.errors import LLMBudgetError

Method = Literal["gptq", "awq", "bitsandbytes", "fp8", "fbgemm_fp8", "mxfp4", "compressed-tensors"]
SUPPORTED: tuple[str, ...] = ("gptq", "awq", "bitsandbytes", "fp8", "fbgemm_fp8", "mxfp4", "compressed-tensors")
BNB_BLOCK = 64  # bitsandbytes' 4-bit blocksize as transformers uses it (Linear4bit default)
BNB_NESTED_BLOCK = 256  # double quantization: one FP32 absmax per 256 blocks (QLoRA §3, functional.py)
MX_BLOCK = 32  # OCP MX: 32 values share one 8-bit E8M0 exponent


class QuantScheme(BaseModel):
    """What `quantization_config` says, reduced to what the bytes depend on."""

    model_config = ConfigDict(frozen=True)

    method: Method
    label: str  # e.g. "gptq 4-bit, groups of 128"
    bits: int  # bits of one stored value
    precision: str | None  # the accountant's nearest --precision (int4, nf4, int8, fp8-e4m3), None if none
    group_size: int | None = None  # values per scale along d_in (None: one per output row, or per tensor)
    block: tuple[int, int] | None = None  # fp8 weight_block_size / compressed-tensors block_structure
    strategy: str = "group"  # compressed-tensors: tensor | channel | group | block
    symmetric: bool = True
    double_quant: bool = False
    scale_bytes: int = 2  # bytes of one scale value
    static_input_scale: bool = False  # a stored activation scale per linear
    packed_format: bool = False  # compressed-tensors pack-quantized (I32 words, weight_shape stored)
    global_scale: bool = False  # nvfp4: FP4 values in U8 pairs, FP8 group scales and one FP32 global scale
    experts_only: bool = False  # mxfp4 (gpt-oss): only the experts' matrices are quantized
    skipped: tuple[str, ...] = ()  # modules_to_not_convert / ignore / llm_int8_skip_modules
    formula: str
    source: str


def _int(cfg: dict[str, Any], *keys: str, default: int | None = None) -> int | None:
    for k in keys:
        v = cfg.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return default


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(x) for x in value) if isinstance(value, list) else ()


def read_scheme(config: dict[str, Any], origin: str, *, dtype_bytes: int = 2) -> QuantScheme | None:
    """The scheme of a config.json's `quantization_config` (None when it has none); unknown methods are errors.

    `dtype_bytes`: bytes of the model's compute dtype (compressed-tensors stores scales in it)."""
    q = config.get("quantization_config")
    if q is None:
        return None
    if not isinstance(q, dict):
        raise LLMBudgetError(f"{origin}: quantization_config is not an object")
    method = q.get("quant_method")
    if method == "bitsandbytes" or (method is None and ("load_in_4bit" in q or "load_in_8bit" in q)):
        return _bitsandbytes(q)
    if method == "compressed-tensors":
        return _compressed_tensors(q, origin, dtype_bytes)
    readers: dict[str, Callable[[dict[str, Any]], QuantScheme]] = {
        "gptq": _gptq,
        "awq": _awq,
        "fp8": _fp8,
        "fbgemm_fp8": _fbgemm_fp8,
        "mxfp4": _mxfp4,
    }
    if method not in readers:
        raise LLMBudgetError(
            f"{origin}: quantization method {str(method)[:40]!r} is not supported (supported: {', '.join(SUPPORTED)})"
        )
    return readers[str(method)](q)


def _group(g: int | None) -> int | None:
    return None if g is None or g <= 0 else g


def _gptq(q: dict[str, Any]) -> QuantScheme:
    b, g = _int(q, "bits", default=4) or 4, _group(_int(q, "group_size", default=128))
    return QuantScheme(
        method="gptq",
        label=f"gptq {b}-bit" + (f", groups of {g}" if g else ", per channel"),
        bits=b,
        precision={4: "int4", 8: "int8"}.get(b),
        group_size=g,
        symmetric=bool(q.get("sym", True)),
        skipped=_names(q.get("modules_to_not_convert")),
        formula="⌈d_in·b/32⌉·d_out·4 (qweight) + G·⌈d_out·b/32⌉·4 (qzeros) + G·d_out·2 (scales) + d_in·4 (g_idx)",
        source="AutoGPTQ auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py (QuantLinear buffers)",
    )


def _awq(q: dict[str, Any]) -> QuantScheme:
    b, g = _int(q, "bits", "w_bit", default=4) or 4, _group(_int(q, "group_size", "q_group_size", default=128))
    return QuantScheme(
        method="awq",
        label=f"awq {b}-bit" + (f", groups of {g}" if g else ", per channel"),
        bits=b,
        precision={4: "int4", 8: "int8"}.get(b),
        group_size=g,
        symmetric=not q.get("zero_point", True),
        skipped=_names(q.get("modules_to_not_convert")),
        formula="d_in·⌈d_out·b/32⌉·4 (qweight) + G·⌈d_out·b/32⌉·4 (qzeros) + G·d_out·2 (scales)",
        source="AutoAWQ awq/modules/linear/gemm.py (WQLinear_GEMM buffers)",
    )


def _bitsandbytes(q: dict[str, Any]) -> QuantScheme:
    skipped = _names(q.get("llm_int8_skip_modules")) + _names(q.get("modules_to_not_convert"))
    if q.get("load_in_8bit"):
        return QuantScheme(
            method="bitsandbytes",
            label="bitsandbytes 8-bit (LLM.int8)",
            bits=8,
            precision="int8",
            skipped=skipped,
            scale_bytes=4,
            formula="n (I8) + 4·d_out (SCB: one FP32 absmax per row)",
            source="transformers quantizers/quantizer_bnb_8bit.py; Dettmers et al. 2022 (LLM.int8)",
        )
    if not q.get("load_in_4bit"):
        raise LLMBudgetError("quantization_config: bitsandbytes without load_in_4bit or load_in_8bit")
    kind = str(q.get("bnb_4bit_quant_type", "fp4"))
    dq = bool(q.get("bnb_4bit_use_double_quant", False))
    return QuantScheme(
        method="bitsandbytes",
        label=f"bitsandbytes 4-bit {kind}" + (" with double quantization" if dq else ""),
        bits=4,
        precision="nf4",  # fp4 and nf4 store the same bytes (a 16-entry code book)
        group_size=BNB_BLOCK,
        double_quant=dq,
        skipped=skipped,
        scale_bytes=4,
        formula=(
            "⌈n/2⌉ + ⌈n/64⌉ (U8 absmax) + 4·⌈⌈n/64⌉/256⌉ + 4·256 (nested absmax, code) + 4·16 (quant_map)"
            if dq
            else "⌈n/2⌉ + 4·⌈n/64⌉ (FP32 absmax) + 4·16 (quant_map)"
        ),
        source="bitsandbytes functional.py quantize_4bit, QuantState.as_dict(packed=True); Dettmers et al. 2023 §3",
    )


def _fp8(q: dict[str, Any]) -> QuantScheme:
    wbs = q.get("weight_block_size")
    block = (int(wbs[0]), int(wbs[1])) if isinstance(wbs, list) and len(wbs) == 2 else None
    static = str(q.get("activation_scheme", "dynamic")).lower() == "static"
    ue8m0 = q.get("scale_fmt") == "ue8m0"
    return QuantScheme(
        method="fp8",
        label="fp8 e4m3" + (f", {block[0]}×{block[1]} blocks" if block else ", per tensor"),
        bits=8,
        precision="fp8-e4m3",
        block=block,
        strategy="block" if block else "tensor",
        scale_bytes=1 if ue8m0 else 4,
        static_input_scale=static,
        skipped=_names(q.get("modules_to_not_convert")) + _names(q.get("ignored_layers")),
        formula=("n + s·⌈d_out/b0⌉·⌈d_in/b1⌉" if block else "n + 4 (one FP32 scale)")
        + (" + 4 (activation_scale)" if static else ""),
        source="transformers integrations/finegrained_fp8.py (FP8Linear: weight, weight_scale_inv)",
    )


def _fbgemm_fp8(q: dict[str, Any]) -> QuantScheme:
    return QuantScheme(
        method="fbgemm_fp8",
        label="fbgemm fp8 e4m3, per channel",
        bits=8,
        precision="fp8-e4m3",
        strategy="channel",
        scale_bytes=4,
        skipped=_names(q.get("modules_to_not_convert")),
        formula="n + 4·d_out (weight_scale: one FP32 per row)",
        source="transformers integrations/fbgemm_fp8.py (FbgemmFp8Linear)",
    )


def _mxfp4(q: dict[str, Any]) -> QuantScheme:
    return QuantScheme(
        method="mxfp4",
        label="mxfp4 (4-bit e2m1, one 8-bit exponent per 32), experts only",
        bits=4,
        precision=None,
        group_size=MX_BLOCK,
        scale_bytes=1,
        experts_only=True,
        skipped=_names(q.get("modules_to_not_convert")),
        formula="n/2 (blocks) + n/32 (U8 E8M0 scales)",
        source="transformers integrations/mxfp4.py (gate_up_proj_blocks/_scales); OCP MX v1.0 §5",
    )


def _compressed_tensors(q: dict[str, Any], origin: str, dtype_bytes: int) -> QuantScheme:
    groups = q.get("config_groups")
    weights = None
    if isinstance(groups, dict):
        weights = next((g.get("weights") for g in groups.values() if isinstance(g, dict) and g.get("weights")), None)
    if not isinstance(weights, dict):
        raise LLMBudgetError(f"{origin}: compressed-tensors quantization_config without config_groups.*.weights")
    fmt = str(q.get("format", "dense"))
    b = _int(weights, "num_bits", default=8) or 8
    kind = str(weights.get("type", "int"))
    strategy = str(weights.get("strategy", "tensor"))
    bs = weights.get("block_structure")
    block = (int(bs[0]), int(bs[1])) if isinstance(bs, list) and len(bs) == 2 else None
    nvfp4 = fmt.startswith("nvfp4")
    inputs = next((g.get("input_activations") for g in groups.values() if isinstance(g, dict)), None)  # type: ignore[union-attr]
    static = isinstance(inputs, dict) and inputs.get("dynamic") is False
    precision = {("int", 4): "int4", ("int", 8): "int8", ("float", 8): "fp8-e4m3"}.get((kind, b))
    return QuantScheme(
        method="compressed-tensors",
        label=f"compressed-tensors {fmt}: {kind}{b}, {strategy}"
        + (f" of {weights.get('group_size')}" if weights.get("group_size") else ""),
        bits=b,
        precision=precision,
        group_size=_group(_int(weights, "group_size")),
        block=block,
        strategy=strategy,
        symmetric=bool(weights.get("symmetric", True)),
        scale_bytes=1 if nvfp4 else dtype_bytes,
        static_input_scale=static,
        packed_format=fmt == "pack-quantized",
        global_scale=nvfp4,
        skipped=_names(q.get("ignore")),
        formula="values n·b/8 + scales (per tensor / row / group / block) × scale bytes"
        + (" + zero points" if not weights.get("symmetric", True) else "")
        + (" + weight_shape 16" if fmt == "pack-quantized" else "")
        + (" + global scale 4" if nvfp4 else ""),
        source="transformers integrations/compressed_tensors.py; compressed-tensors QuantizationArgs (strategy, group_size)",
    )


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _scale_count(s: QuantScheme, d_out: int, d_in: int) -> int:
    if s.strategy == "tensor":
        return 1
    if s.strategy == "channel" or (s.strategy == "group" and s.group_size is None):
        return d_out
    if s.strategy == "block" and s.block:
        return _cdiv(d_out, s.block[0]) * _cdiv(d_in, s.block[1])
    return d_out * _cdiv(d_in, s.group_size or d_in)


def stored_linear_bytes(s: QuantScheme, d_out: int, d_in: int) -> int:
    """Bytes one d_out × d_in weight takes in scheme `s`, scales and zero points included (module docstring)."""
    n, b = d_out * d_in, s.bits
    G = _cdiv(d_in, s.group_size) if s.group_size else 1
    words = _cdiv(d_out * b, 32) * 4  # one row of d_out values packed in I32 words
    if s.method == "gptq":
        return _cdiv(d_in * b, 32) * d_out * 4 + G * words + G * d_out * 2 + d_in * 4
    if s.method == "awq":
        return d_in * words + G * words + G * d_out * 2
    if s.method == "bitsandbytes" and b == 8:
        return n + 4 * d_out
    if s.method == "bitsandbytes":
        blocks = _cdiv(n, BNB_BLOCK)
        absmax = blocks + 4 * _cdiv(blocks, BNB_NESTED_BLOCK) + 4 * 256 if s.double_quant else 4 * blocks
        return _cdiv(n, 2) + absmax + 4 * 16
    if s.method in ("fp8", "fbgemm_fp8"):
        return n + s.scale_bytes * _scale_count(s, d_out, d_in) + (4 if s.static_input_scale else 0)
    if s.method == "mxfp4":
        per_row = _cdiv(d_in, MX_BLOCK)
        return d_out * per_row * 16 + d_out * per_row
    # compressed-tensors
    values = d_out * _cdiv(d_in * b, 32) * 4 if s.packed_format else _cdiv(n * b, 8)
    scales = _scale_count(s, d_out, d_in)
    zeros = 0 if s.symmetric else (words * max(1, scales // d_out) if s.packed_format else scales)
    extra = (16 if s.packed_format else 0) + (4 if s.global_scale else 0)
    return values + scales * s.scale_bytes + zeros + extra + (4 if s.static_input_scale else 0)


def skips(s: QuantScheme, module: str) -> bool:
    """A module the scheme leaves unquantized by name (transformers quantizers_utils.py should_convert_module:
    a pattern matches from the start up to a module boundary, as a regex, or as a suffix; compressed-tensors'
    `re:` prefix marks a regex)."""
    for key in s.skipped:
        pattern = key[3:] if key.startswith("re:") else key
        try:
            if re.match(rf"(?:{pattern})(?:(?<=\.)|(?=\.|$))", module) or module.endswith(pattern):
                return True
        except re.error:
            if key in module:
                return True
    return False
