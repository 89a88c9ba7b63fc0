"""A FLOP budget, given as FLOPs, as GPUs × days, or as dollars, and what it means on a GPU.

Formula: C = n_gpus × peak × MFU × seconds;  GPU-hours = USD / price;  C = GPU-hours × 3600 × peak × MFU
Source:  chowdhery2022 Appendix B (MFU = achieved FLOP/s ÷ peak).
"""

from __future__ import annotations

import math
from typing import Literal, Optional

from llm_budget.compute.frozen import Frozen
from llm_budget.compute.peaks import check_utilization, resolve_peak
from llm_budget.compute.training import SECONDS_PER_DAY, SECONDS_PER_HOUR, hourly_price
from llm_budget.defaults import DEFAULT_MFU
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec

GivenAs = Literal["flops", "gpu_time", "usd"]


class Budget(Frozen):
    """The FLOP budget and, when a GPU is named, what it means in time and money."""

    flops: float
    given_as: GivenAs  # --flops | --gpu/--gpus/--days | --budget-usd
    gpu: Optional[str]
    gpu_display_name: Optional[str]
    precision: Optional[str]
    precision_note: Optional[str]
    peak_tflops: Optional[float]
    n_gpus: Optional[int]
    mfu: Optional[float]
    days: Optional[float]  # wall-clock on n_gpus
    gpu_hours: Optional[float]
    price_usd_per_gpu_hour: Optional[float]
    price_source: Optional[str]
    cost_usd: Optional[float]
    formula: str


def _check_inputs(
    *,
    flops: Optional[float],
    days: Optional[float],
    budget_usd: Optional[float],
    price: Optional[float],
    n_gpus: Optional[int],
) -> list[str]:
    """Exactly one budget, every number positive; returns the option that gave the budget."""
    given = [name for name, v in (("--flops", flops), ("--days", days), ("--budget-usd", budget_usd)) if v is not None]
    if len(given) != 1:
        raise LLMBudgetError(
            "give one budget: --flops C, or --gpu G --gpus N --days T, or --budget-usd X --gpu G"
            + (f" (got {' and '.join(given)})" if given else "")
        )
    for value, what in ((flops, "the FLOP budget"), (days, "--days"), (budget_usd, "--budget-usd"), (price, "--price")):
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise LLMBudgetError(f"{what} must be positive, got {value:g}")
    if n_gpus is not None and n_gpus <= 0:
        raise LLMBudgetError(f"number of GPUs must be positive, got {n_gpus}")
    return given


def _gpu_hours(
    gpu: GpuSpec,
    rate: float,
    *,
    flops: Optional[float],
    n_gpus: Optional[int],
    days: Optional[float],
    budget_usd: Optional[float],
    price: Optional[float],
) -> tuple[float, GivenAs, str]:
    """GPU-hours of the budget, which option gave it, and the formula that turned it into FLOPs (or back)."""
    if budget_usd is not None:
        if price is None:
            raise LLMBudgetError(f"no catalog price for {gpu.display_name}: give --price (USD per GPU-hour)")
        return budget_usd / price, "usd", "C = USD / price × 3600 × peak × MFU"
    if days is not None:
        return (n_gpus or 1) * days * 24, "gpu_time", "C = n_gpus × peak × MFU × seconds"
    assert flops is not None
    return flops / rate / SECONDS_PER_HOUR, "flops", "GPU-hours = C / (peak × MFU × 3600)"


def make_budget(
    *,
    flops: Optional[float] = None,
    gpu: Optional[GpuSpec] = None,
    n_gpus: Optional[int] = None,
    days: Optional[float] = None,
    budget_usd: Optional[float] = None,
    mfu: Optional[float] = None,
    precision: Optional[str] = None,
    price: Optional[float] = None,
) -> Budget:
    """One budget from exactly one of: FLOPs; GPUs × days; dollars (with a GPU's price).

    Formula: C = n_gpus × peak × MFU × seconds;  GPU-hours = USD / price, C = GPU-hours × 3600 × peak × MFU
    Source:  chowdhery2022 Appendix B (MFU = achieved FLOP/s ÷ peak).
    """
    given = _check_inputs(flops=flops, days=days, budget_usd=budget_usd, price=price, n_gpus=n_gpus)
    if gpu is None:
        if flops is None:
            raise LLMBudgetError(f"{given[0]} needs --gpu (its peak turns time or money into FLOPs)")
        if any(v is not None for v in (n_gpus, mfu, price, precision)):
            raise LLMBudgetError("--gpus, --mfu, --price and --precision need --gpu")
        return Budget(
            flops=flops,
            given_as="flops",
            gpu=None,
            gpu_display_name=None,
            precision=None,
            precision_note=None,
            peak_tflops=None,
            n_gpus=None,
            mfu=None,
            days=None,
            gpu_hours=None,
            price_usd_per_gpu_hour=None,
            price_source=None,
            cost_usd=None,
            formula="C given",
        )
    u = check_utilization(mfu) if mfu is not None else DEFAULT_MFU
    choice = resolve_peak(gpu, precision)
    rate = choice.peak_tflops * 1e12 * u  # model FLOP/s per GPU
    price, price_source = hourly_price(gpu, price)
    gpu_hours, given_as, formula = _gpu_hours(
        gpu, rate, flops=flops, n_gpus=n_gpus, days=days, budget_usd=budget_usd, price=price
    )
    n = n_gpus if n_gpus is not None else (1 if days is not None else None)
    return Budget(
        flops=flops if flops is not None else gpu_hours * SECONDS_PER_HOUR * rate,
        given_as=given_as,
        gpu=gpu.name,
        gpu_display_name=gpu.display_name,
        precision=choice.precision,
        precision_note=choice.note,
        peak_tflops=choice.peak_tflops,
        n_gpus=n,
        mfu=u,
        days=(gpu_hours * SECONDS_PER_HOUR / n / SECONDS_PER_DAY) if n else None,
        gpu_hours=gpu_hours,
        price_usd_per_gpu_hour=price,
        price_source=price_source,
        cost_usd=None if price is None else gpu_hours * price,
        formula=formula,
    )
