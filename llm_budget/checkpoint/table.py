"""The checkpoint's tensor table: every stored tensor by name, dtype, shape and bytes, grouped by the
counter's rows, with the stored element count next to the logical parameter count.

Rows come from the one Hugging Face name mapping (model/hf/names.py: q_proj -> Query, c_attn -> QKV (fused),
experts -> Experts, lm_head -> Unembedding …); quantized modules add their own tensors (quantization.py),
which count in their module's row. Each tensor gets a role:

    weight   a parameter as stored (logical parameters = elements)
    packed   quantized values packed into a wider integer: logical = elements × container bits / value bits
             (GPTQ/AWQ/compressed-tensors I32: 8 4-bit values a word; bitsandbytes and MXFP4 U8: 2 a byte)
    scale    scales, absmax, code books, global scales (not parameters: 0 logical)
    zero     zero points (qzeros, weight_zero_point)
    index    GPTQ's g_idx (the group of each input column)
    meta     weight_shape, weight_format, bitsandbytes' packed quant_state
A weight in FP8 or INT8 next to its scale is a quantized module too. Names matching no rule are "Other":
listed, never dropped.
"""

from __future__ import annotations

import functools
import re
import typing
from collections import Counter
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, SkipValidation

from llm_budget.checkpoint.quantization import QuantScheme
from llm_budget.checkpoint.safetensors import DTYPE_BITS, SafetensorsHeader, TensorHeader
from llm_budget.model.hf.names import component_of as hf_component_of
from llm_budget.model.inventory import ComponentName

Role = Literal["weight", "packed", "scale", "zero", "index", "meta"]
COUNTER_ROWS: tuple[str, ...] = typing.get_args(ComponentName)

_SCALE_LEAVES = re.compile(
    r"(scales|weight_scale|weight_scale_inv|weight_scale_2|input_scale|activation_scale|weight_global_scale|"
    r"input_global_scale|SCB|absmax|nested_absmax|quant_map|nested_quant_map|.+_scales|k_scale|v_scale)$"
)
_BNB_SUFFIX = re.compile(r"\.weight\.(absmax|quant_map|nested_absmax|nested_quant_map|quant_state\..+)$")


class TensorRow(NamedTuple):
    """One stored tensor (a NamedTuple: a 90,000-tensor checkpoint builds its table in well under a second)."""

    name: str
    file: str
    dtype: str
    shape: tuple[int, ...]
    bytes: int
    elements: int
    params: int  # logical parameters (0 for scales, zero points, indexes, metadata)
    component: str  # a counter row (model/hf/names.py: fused rows such as "QKV (fused)", or "Other")
    role: Role
    module: str  # the module path the tensor belongs to
    quantized: bool  # part of a module stored quantized (its values, scales, zero points, index)


class ComponentBytes(BaseModel):
    """One row of the summary: stored bytes, stored elements and logical parameters of a component."""

    model_config = ConfigDict(frozen=True)

    component: str
    tensors: int
    bytes: int
    elements: int
    params: int
    quantized_modules: int  # modules whose weight is stored quantized (packed, FP8, INT8 with a scale)
    modules: int  # modules with a weight
    dtypes: dict[str, int]  # bytes per stored dtype


class TensorTable(BaseModel):
    """Every tensor of the checkpoint and its summary by component."""

    model_config = ConfigDict(frozen=True)

    source: str  # the folder, or repo@revision
    files: list[str]
    rows: SkipValidation[list[TensorRow]]  # built here from validated headers
    components: list[ComponentBytes]
    total_bytes: int
    total_elements: int
    total_params: int
    dtypes: dict[str, int]  # bytes per dtype, whole checkpoint
    quantized_modules: int
    unquantized_modules: int
    scheme: QuantScheme | None = None
    notes: list[str] = []


def split_name(name: str) -> tuple[str, str]:
    """(module path, leaf) of a tensor name; bitsandbytes' `<m>.weight.absmax` belongs to module <m>."""
    m = _BNB_SUFFIX.search(name)
    if m:
        return name[: m.start()], "weight." + m.group(1)
    module, _, leaf = name.rpartition(".")
    for suffix in ("_blocks", "_scales", "_bias"):  # gpt-oss fused experts: experts.gate_up_proj_blocks
        if leaf.endswith(suffix) and leaf != suffix[1:]:
            return f"{module}.{leaf[: -len(suffix)]}" if module else leaf[: -len(suffix)], suffix[1:]
    return module, leaf


_LAYER_INDEX = re.compile(r"\.\d+(?=\.|$)")


def row_of(name: str, module: str, role: Role) -> str:
    """The counter row of a stored tensor, by the one name mapping (model/hf/names.py). A quantized module's
    own tensors (qweight, scales, absmax, _blocks …) are named as the module's weight: `<module>.weight`."""
    canonical = name if role == "weight" else f"{module}.weight"
    return _row(_LAYER_INDEX.sub(".0", canonical))  # layer and expert numbers change no row: cache by the rest


@functools.lru_cache(maxsize=8192)
def _row(name: str) -> str:
    return hf_component_of(name)


def role_of(t: TensorHeader, leaf: str, scheme: QuantScheme | None) -> Role:
    if leaf in ("qweight", "weight_packed", "blocks"):
        return "packed"
    if leaf == "weight" and t.dtype == "U8" and scheme is not None and scheme.method == "bitsandbytes":
        return "packed"  # bitsandbytes 4-bit: two values a byte, shape [⌈n/2⌉, 1]
    if leaf in ("qzeros", "weight_zero_point", "zeros"):
        return "zero"
    if leaf in ("g_idx", "weight_g_idx"):
        return "index"
    if leaf in ("weight_shape", "weight_format") or leaf.startswith("weight.quant_state"):
        return "meta"
    if _SCALE_LEAVES.fullmatch(leaf.removeprefix("weight.")):
        return "scale"
    return "weight"


def logical_params(t: TensorHeader, role: Role, scheme: QuantScheme | None) -> int:
    """Parameters a stored tensor holds: packed values count value_bits to the container's bits."""
    if role == "weight":
        return t.elements
    if role != "packed":
        return 0
    value_bits = scheme.bits if scheme is not None else 4
    return t.elements * DTYPE_BITS[t.dtype] // value_bits


def _is_quantized(tensors: list[tuple[str, str]]) -> bool:
    """A module stored quantized: packed values, or an 8-bit weight next to a scale. `tensors`: (role, dtype)."""
    roles = {role for role, _ in tensors}
    if "packed" in roles:
        return True
    return "scale" in roles and any(role == "weight" and DTYPE_BITS[dtype] <= 8 for role, dtype in tensors)


def build_table(headers: list[SafetensorsHeader], scheme: QuantScheme | None, source: str) -> TensorTable:
    """The table of every tensor in `headers`, summed by component (pure: no file is read here)."""
    parsed = []
    for h in headers:
        for t in h.tensors:
            module, leaf = split_name(t.name)
            role = role_of(t, leaf, scheme)
            parsed.append((h.file, t, module, role, row_of(t.name, module, role)))
    by_module: dict[str, list[tuple[str, str]]] = {}  # module -> (role, dtype) of its tensors, biases left out
    for _, t, module, role, comp in parsed:
        if comp != "Biases":
            by_module.setdefault(module, []).append((role, t.dtype))
    quantized = {m for m, rs in by_module.items() if _is_quantized(rs)}
    rows = [
        TensorRow(
            name=t.name,
            file=file,
            dtype=t.dtype,
            shape=t.shape,
            bytes=t.nbytes,
            elements=t.elements,
            params=logical_params(t, role, scheme),
            component=comp,
            role=role,
            module=module,
            quantized=module in quantized and comp != "Biases",
        )
        for file, t, module, role, comp in parsed
    ]
    weighted = {m for m, rs in by_module.items() if any(role in ("weight", "packed") for role, _ in rs)}
    components = _by_component(rows, weighted, quantized)
    notes = []
    if scheme is None and any(r.role == "packed" for r in rows):
        notes.append("packed tensors without a quantization_config: logical parameters assume 4-bit values")
    return TensorTable(
        source=source,
        files=[h.file for h in headers],
        rows=rows,
        components=components,
        total_bytes=sum(r.bytes for r in rows),
        total_elements=sum(r.elements for r in rows),
        total_params=sum(r.params for r in rows),
        dtypes=_dtype_bytes(rows),
        quantized_modules=len(quantized),
        unquantized_modules=len(weighted - quantized),
        scheme=scheme,
        notes=notes,
    )


FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")
"""Dtypes transformers casts to the model's dtype when it loads an unquantized tensor (dtype="auto": config.json's)."""


def loaded_bytes(table: TensorTable, compute_bytes: int) -> int:
    """Bytes of the weights once loaded: quantized modules as stored, every other floating-point tensor in the
    compute dtype (transformers modeling_utils.py, from_pretrained with dtype="auto" casts to config.json's
    dtype), integer tensors as stored. Equal to the stored total when the files hold the compute dtype."""
    return sum(
        r.elements * compute_bytes if not r.quantized and r.dtype in FLOAT_DTYPES else r.bytes for r in table.rows
    )


def _by_component(rows: list[TensorRow], weighted: set[str], quantized: set[str]) -> list[ComponentBytes]:
    """The rows summed by component, in the counter's order."""
    order = {name: i for i, name in enumerate(COUNTER_ROWS)}
    out = []
    for comp in sorted({r.component for r in rows}, key=lambda c: (order.get(c, len(order)), c)):
        rs = [r for r in rows if r.component == comp]
        mods = {r.module for r in rs} & weighted
        out.append(
            ComponentBytes(
                component=comp,
                tensors=len(rs),
                bytes=sum(r.bytes for r in rs),
                elements=sum(r.elements for r in rs),
                params=sum(r.params for r in rs),
                quantized_modules=len(mods & quantized),
                modules=len(mods),
                dtypes=_dtype_bytes(rs),
            )
        )
    return out


def _dtype_bytes(rows: list[TensorRow]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for r in rows:
        out[r.dtype] += r.bytes
    return dict(out.most_common())
