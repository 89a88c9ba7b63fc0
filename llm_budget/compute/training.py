"""One training run on one GPU type: wall-clock time, GPU-hours and cost at a utilization, or the
MFU that published GPU-hours imply.

MFU = model FLOPs (no recompute) per second ÷ (GPUs × dense peak) (chowdhery2022, Appendix B);
HFU counts the recomputed FLOPs too. The default MFU (llm_budget.defaults.DEFAULT_MFU) is 0.40
because published large runs cluster at 35-50% (PaLM 46.2%, Megatron-LM 52%, OPT-175B ~47%,
LLaMA 43-51%, Llama 2 38-46% implied by their GPU-hours).
"""

from __future__ import annotations

import math
from typing import Literal, Optional

from llm_budget.compute.flops import TrainingFlops
from llm_budget.compute.frozen import Frozen
from llm_budget.compute.peaks import check_utilization, resolve_peak
from llm_budget.defaults import DEFAULT_MFU
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec
from llm_budget.refs import cite

SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400
SRC_MFU = cite("chowdhery2022: Appendix B (model FLOPs utilization)")

MfuFrom = Literal["default", "mfu", "hfu", "gpu_hours"]


class TrainingRun(Frozen):
    """Time, GPU-hours and cost of training on `n_gpus` GPUs of one type."""

    gpu: str  # catalog name
    gpu_display_name: str
    precision: str
    precision_note: Optional[str]
    peak_tflops: float  # dense peak per GPU at that precision
    n_gpus: int
    mfu: float  # model FLOPs utilization used (0-1)
    mfu_from: MfuFrom  # default (0.40), mfu (--mfu), hfu (--hfu), gpu_hours (implied by --gpu-hours)
    hfu: float  # hardware FLOPs utilization (= mfu without recompute)
    model_tflops_per_gpu: float  # achieved model TFLOP/s per GPU = peak × MFU
    time_s: float
    days: float
    gpu_hours: float
    price_usd_per_gpu_hour: Optional[float]
    price_source: Optional[str]  # "--price" or the catalog's price_source
    cost_usd: Optional[float]
    formula: str
    source: str


def hourly_price(gpu: GpuSpec, price: Optional[float]) -> tuple[Optional[float], Optional[str]]:
    """USD per GPU-hour and where it came from: `price` ("--price"), else the catalog's snapshot, else none."""
    if price is not None:
        return price, "--price"
    if gpu.price_usd_per_hour is not None:
        return gpu.price_usd_per_hour, gpu.price_source or "GPU catalog"
    return None, None


def _positive(value: Optional[float], what: str) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise LLMBudgetError(f"{what} must be positive, got {value:g}")


def _utilization(
    flops: TrainingFlops, peak_flops_s: float, *, mfu: Optional[float], hfu: Optional[float], gpu_hours: Optional[float]
) -> tuple[float, MfuFrom]:
    """The MFU of a run and which input gave it: implied by GPU-hours, from HFU, given, or the default.

    Formula: implied MFU = C_model / (GPU-hours · 3600 · peak);  MFU = HFU · C_model / C_hardware
    Source:  chowdhery2022 Appendix B.
    """
    ratio = flops.hardware_flops / flops.model_flops  # 1, or 4/3 with recompute
    given: MfuFrom
    if gpu_hours is not None:
        mfu_value, given = flops.model_flops / (gpu_hours * SECONDS_PER_HOUR * peak_flops_s), "gpu_hours"
    elif hfu is not None:
        mfu_value, given = check_utilization(hfu, "HFU") / ratio, "hfu"
    elif mfu is not None:
        mfu_value, given = check_utilization(mfu), "mfu"
    else:
        mfu_value, given = DEFAULT_MFU, "default"
    if given in ("mfu", "default") and mfu_value * ratio > 1:
        raise LLMBudgetError(
            f"MFU {mfu_value:g} with recomputation means the GPUs would run at {mfu_value * ratio:.0%} of peak (HFU); give a lower --mfu"
        )
    return mfu_value, given


def training_run(
    flops: TrainingFlops,
    gpu: GpuSpec,
    *,
    n_gpus: int = 1,
    mfu: Optional[float] = None,
    hfu: Optional[float] = None,
    gpu_hours: Optional[float] = None,
    precision: Optional[str] = None,
    price: Optional[float] = None,
    mfu_from: Optional[MfuFrom] = None,
) -> TrainingRun:
    """Wall-clock time, GPU-hours and cost at a utilization, or the MFU implied by published GPU-hours.

    Formula: time = C_model / (n · peak · MFU) = C_hardware / (n · peak · HFU);
             GPU-hours = n · time / 3600; cost = GPU-hours · price;
             implied MFU = C_model / (GPU-hours · 3600 · peak).
    Source:  chowdhery2022 Appendix B (MFU); narayanan2021 (8·T·P / (n·X) with recompute).
    """
    if n_gpus <= 0:
        raise LLMBudgetError(f"number of GPUs must be positive, got {n_gpus}")
    if sum(x is not None for x in (mfu, hfu, gpu_hours)) > 1:
        raise LLMBudgetError("give one of --mfu, --hfu or --gpu-hours")
    _positive(gpu_hours, "GPU-hours")
    _positive(price, "price per GPU-hour")
    choice = resolve_peak(gpu, precision)
    peak = choice.peak_tflops * 1e12
    mfu_value, source_of_mfu = _utilization(flops, peak, mfu=mfu, hfu=hfu, gpu_hours=gpu_hours)
    time_s = flops.model_flops / (n_gpus * peak * mfu_value)
    hours = gpu_hours if gpu_hours is not None else n_gpus * time_s / SECONDS_PER_HOUR
    usd_per_hour, price_source = hourly_price(gpu, price)
    return TrainingRun(
        gpu=gpu.name,
        gpu_display_name=gpu.display_name,
        precision=choice.precision,
        precision_note=choice.note,
        peak_tflops=choice.peak_tflops,
        n_gpus=n_gpus,
        mfu=mfu_value,
        mfu_from=mfu_from or source_of_mfu,  # a caller may say where a given MFU came from
        hfu=mfu_value * (flops.hardware_flops / flops.model_flops),  # HFU = MFU × 4/3 with recompute
        model_tflops_per_gpu=choice.peak_tflops * mfu_value,
        time_s=time_s,
        days=time_s / SECONDS_PER_DAY,
        gpu_hours=hours,
        price_usd_per_gpu_hour=usd_per_hour,
        price_source=price_source,
        cost_usd=None if usd_per_hour is None else hours * usd_per_hour,
        formula="implied MFU = C / (GPU-hours × 3600 × peak)"
        if source_of_mfu == "gpu_hours"
        else "time = C / (n × peak × MFU)",
        source=SRC_MFU,
    )
