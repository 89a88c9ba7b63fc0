"""What a GPU is: the catalog of cards and the precisions they store and compute in.

The package's public names; other packages import them from here, never from its modules."""

from llm_budget.hardware.gpus import (
    ARCH_ORDER,
    GpuSpec,
    PeakTflops,
    gpu_catalog,
    load_gpu,
)
from llm_budget.hardware.precision import (
    ALIASES,
    FORMATS,
    FloatLayout,
    Format,
    Precision,
    bytes_for,
    float_layout,
    float_limits,
    parse_precision,
)

__all__ = [
    "ALIASES",
    "ARCH_ORDER",
    "bytes_for",
    "float_layout",
    "float_limits",
    "FloatLayout",
    "Format",
    "FORMATS",
    "gpu_catalog",
    "GpuSpec",
    "load_gpu",
    "parse_precision",
    "PeakTflops",
    "Precision",
]
