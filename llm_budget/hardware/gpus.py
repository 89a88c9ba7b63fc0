"""The GPU catalog: presets/gpus.yaml -> GpuSpec, and the hardware truths that follow from it.

Memory is the total the driver reports (what `torch.cuda.mem_get_info` calls total), in
exact bytes; peak throughput is the dense (no 2:4 sparsity) tensor-core figure per
precision, in TFLOPS, absent where the hardware has no such path.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError

from llm_budget.errors import SpecError, did_you_mean

ARCH_ORDER = ["volta", "turing", "ampere", "ada", "hopper", "blackwell", "cdna2", "cdna3"]


class PeakTflops(BaseModel):
    """Dense peak per precision (TFLOPS; TOPS for int8). None = no such tensor-core path."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fp32: Optional[PositiveFloat] = None
    tf32: Optional[PositiveFloat] = None
    fp16: Optional[PositiveFloat] = None
    bf16: Optional[PositiveFloat] = None
    fp8: Optional[PositiveFloat] = None
    int8: Optional[PositiveFloat] = None


class GpuSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    aliases: list[str] = Field(default_factory=list)
    display_name: str
    vendor: str
    architecture: str
    compute_capability: Optional[str] = None
    memory_gb_marketed: PositiveFloat
    memory_bytes: PositiveInt = Field(description="Total as the driver reports it (exact bytes)")
    memory_type: Optional[str] = None
    bandwidth_gb_s: PositiveFloat = Field(description="Memory bandwidth, decimal GB/s")
    peak_tflops_dense: PeakTflops
    interconnect: Optional[str] = None
    interconnect_gb_s: Optional[PositiveFloat] = None
    tdp_w: Optional[PositiveFloat] = None
    price_usd_per_hour: Optional[PositiveFloat] = None
    price_source: Optional[str] = None
    source: str
    memory_source: Optional[str] = None
    notes: Optional[str] = None
    devices: PositiveInt = Field(1, description="Devices PyTorch sees per package (MI250X: 2 GCDs)")

    @property
    def device_memory_bytes(self) -> int:
        """Memory of one device as PyTorch sees it (the package's total / devices)."""
        return self.memory_bytes // self.devices

    @property
    def arch_rank(self) -> int:
        return ARCH_ORDER.index(self.architecture) if self.architecture in ARCH_ORDER else -1

    @property
    def has_flash_attention(self) -> bool:
        """FlashAttention (and PyTorch's flash SDPA kernel) needs sm80+ on NVIDIA (Dao-AILab/flash-attention#148)."""
        if self.vendor != "nvidia" or not self.compute_capability:
            return self.vendor == "amd"  # ROCm builds ship CK flash attention for CDNA2/3
        return float(self.compute_capability) >= 8.0

    def peak_tflops(self, precision: str) -> Optional[float]:
        """Dense peak for a compute precision name (fp32, tf32, fp16, bf16, fp8, int8)."""
        key = {"fp8-e4m3": "fp8", "fp8-e5m2": "fp8"}.get(precision, precision)
        return getattr(self.peak_tflops_dense, key, None)


def _gpus_path() -> Path:
    from llm_budget.model.presets import presets_dir

    return presets_dir() / "gpus.yaml"


@cache
def gpu_catalog() -> dict[str, GpuSpec]:
    from llm_budget.model.files import load_yaml

    data = load_yaml(_gpus_path()) or []
    out: dict[str, GpuSpec] = {}
    for i, entry in enumerate(data):
        try:
            gpu = GpuSpec.model_validate(entry)
        except ValidationError as e:
            from llm_budget.model.presets import describe_validation_error

            raise SpecError(describe_validation_error(e, f"gpus.yaml entry {i + 1}")) from None
        out[gpu.name] = gpu
    return out


@cache
def _lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for gpu in gpu_catalog().values():
        for key in (gpu.name, *gpu.aliases):
            table[_norm(key)] = gpu.name
    return table


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(" ", "-")


def load_gpu(name: str) -> GpuSpec:
    """A GPU by name or alias ('a100-80gb', 'h100-sxm', 'V100_32GB'); close names suggested on a miss."""
    canonical = _lookup().get(_norm(name))
    if canonical is None:
        known = sorted({k for g in gpu_catalog().values() for k in (g.name, *g.aliases)})
        raise did_you_mean(name, known, what="GPU", listing="llm-budget gpus")
    return gpu_catalog()[canonical]
