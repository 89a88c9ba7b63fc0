"""The header of a .safetensors file, read without torch or the safetensors package.

Format (huggingface/safetensors README, "Format"; safetensors/src/tensor.rs):
    8 bytes   N, an unsigned little-endian 64-bit integer: the header's size
    N bytes   a UTF-8 JSON object {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}
    the rest  the tensors' bytes; offsets count from the end of the header
Only the first 8 + N bytes are ever read. A header over MAX_HEADER_BYTES, shorter than announced, not JSON,
or whose offsets disagree with dtype × shape is a one-line error, as safetensors itself refuses it.
"""

from __future__ import annotations

import json
import os
import stat
import struct
from math import prod
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from llm_budget.errors import LLMBudgetError
from llm_budget.model.files import show_path

MAX_HEADER_BYTES = 100_000_000
"""safetensors/src/tensor.rs MAX_HEADER_SIZE: the largest header safetensors accepts (real ones: ~100 KB)."""

DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "F4": 4,  # float4 e2m1 (MXFP4/NVFP4 values), two per byte
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "F8_E8M0": 8,  # the shared exponent of microscaling formats (OCP MX v1.0 §5.4)
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "C64": 64,
}
"""Bits per element of every dtype safetensors writes (safetensors/src/tensor.rs, Dtype::bitsize)."""


class TensorHeader(BaseModel):
    """One tensor as its file's header describes it."""

    model_config = ConfigDict(frozen=True)

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int  # data_offsets end - begin: exactly what the file stores

    @property
    def elements(self) -> int:
        return prod(self.shape)


class SafetensorsHeader(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str  # the file name (a shard), as the index names it
    tensors: list[TensorHeader]
    metadata: dict[str, str] = {}
    header_bytes: int  # N: the JSON's size


def read_header(path: str | Path) -> SafetensorsHeader:
    """Read the header of a local .safetensors file: the first 8 bytes, then N bytes, nothing more."""
    p = Path(path)
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            raise LLMBudgetError(f"{show_path(p)}: not a regular file")
        with open(p, "rb") as f:
            first = f.read(8)
            n = header_length(first, p, file_size=st.st_size)
            raw = f.read(n)
    except FileNotFoundError:
        raise LLMBudgetError(f"{show_path(p)}: no such file") from None
    except OSError as e:
        raise LLMBudgetError(f"{show_path(p)}: cannot read ({e.strerror or e})") from None
    if len(raw) < n:
        raise LLMBudgetError(f"{show_path(p)}: truncated safetensors header ({len(raw):,} of {n:,} bytes)")
    return parse_header(raw, p.name, origin=str(p), data_size=st.st_size - 8 - n)


def header_length(first: bytes, origin: str | Path, *, file_size: int | None) -> int:
    """N from the first 8 bytes, checked against the limit and the file's size (when known)."""
    if len(first) < 8:
        raise LLMBudgetError(
            f"{show_path(origin)}: truncated safetensors file ({len(first)} bytes, the header length needs 8)"
        )
    n: int = struct.unpack("<Q", first)[0]
    if n > MAX_HEADER_BYTES:
        raise LLMBudgetError(
            f"{show_path(origin)}: safetensors header of {n:,} bytes refused (limit {MAX_HEADER_BYTES:,}; real ones are KBs)"
        )
    if file_size is not None and 8 + n > file_size:
        raise LLMBudgetError(
            f"{show_path(origin)}: truncated safetensors file: the header announces {n:,} bytes, the file has {file_size - 8:,} after the length"
        )
    if n < 2:
        raise LLMBudgetError(f"{show_path(origin)}: safetensors header of {n} bytes is too short for a JSON object")
    return n


def parse_header(raw: bytes, file: str, *, origin: str, data_size: int | None) -> SafetensorsHeader:
    """The N header bytes -> tensors; `data_size`, when known, bounds every tensor's offsets."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise LLMBudgetError(f"{show_path(origin)}: corrupt safetensors header (not UTF-8 JSON)") from None
    if not isinstance(obj, dict):
        raise LLMBudgetError(
            f"{show_path(origin)}: corrupt safetensors header (a JSON {type(obj).__name__}, not an object)"
        )
    meta = obj.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise LLMBudgetError(f"{show_path(origin)}: corrupt safetensors header (__metadata__ is not an object)")
    tensors = [_tensor(name, entry, origin, data_size) for name, entry in obj.items()]
    return SafetensorsHeader(
        file=file, tensors=tensors, metadata={str(k): str(v) for k, v in meta.items()}, header_bytes=len(raw)
    )


def _tensor(name: str, entry: Any, origin: str, data_size: int | None) -> TensorHeader:
    def bad(why: str) -> LLMBudgetError:
        shown = name if len(name) <= 80 else name[:77] + "…"
        return LLMBudgetError(f"{show_path(origin)}: corrupt safetensors header: tensor {shown!r}: {why}")

    if not isinstance(entry, dict):
        raise bad("not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BITS:
        raise bad(f"unknown dtype {str(dtype)[:20]!r}")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise bad("shape is not a list of whole numbers")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise bad("data_offsets is not [begin, end]")
    nbytes = offsets[1] - offsets[0]
    expected = -(-prod(shape) * DTYPE_BITS[dtype] // 8)
    if nbytes != expected:
        raise bad(f"{nbytes:,} bytes stored, {dtype} × {shape} needs {expected:,}")
    if data_size is not None and offsets[1] > data_size:
        raise bad(f"data ends at byte {offsets[1]:,}, past the file's {data_size:,} data bytes")
    return TensorHeader(name=name, dtype=dtype, shape=tuple(shape), nbytes=nbytes)
