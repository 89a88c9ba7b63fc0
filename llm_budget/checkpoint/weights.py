"""What serving takes from a checkpoint: its stored weight bytes, or the scheme to compute them with.

Kept apart from the table (a large object) so that memory/setup.py can carry it: InferSetup.checkpoint.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from llm_budget.checkpoint.quantization import QuantScheme

ComputeDtype = Literal["fp32", "fp16", "bf16"]
_DTYPES: dict[str, ComputeDtype] = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "half": "fp16"}


class CheckpointWeights(BaseModel):
    """The weights a checkpoint loads as: from its tensor table (exact) or its quantization scheme (formula)."""

    model_config = ConfigDict(frozen=True)

    source: str  # folder, or repo@revision
    stored_bytes: int | None  # the table's total (what the files hold); None: no safetensors headers
    loaded_bytes: int | None = None  # the table's tensors as loaded (table.loaded_bytes); None: use `scheme`
    scheme: QuantScheme | None = None
    compute: ComputeDtype = "bf16"  # what activations and the KV cache run in (config.json torch_dtype)

    @property
    def from_table(self) -> bool:
        return self.loaded_bytes is not None

    @property
    def precision(self) -> str:
        """The accountant's --precision this checkpoint is in: its scheme's nearest (int4, nf4, int8, fp8-e4m3),
        else its compute dtype (unquantized checkpoints; schemes without an equivalent such as MXFP4)."""
        if self.scheme is not None and self.scheme.precision is not None:
            return self.scheme.precision
        return self.compute

    @property
    def label(self) -> str:
        return self.scheme.label if self.scheme is not None else f"{self.compute}, unquantized"


def compute_dtype(config: dict[str, Any]) -> ComputeDtype:
    """config.json's torch_dtype (transformers v5 writes `dtype`); bf16 when absent or not a float type."""
    value = config.get("dtype") or config.get("torch_dtype")
    return _DTYPES.get(str(value).removeprefix("torch."), "bf16")
