"""--preset with an out-of-memory message: the fit advisor's need and changes, on the card of the message."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from llm_budget.errors import LLMBudgetError
from llm_budget.oom.report import FitSuggestion, OomReport

if TYPE_CHECKING:
    from llm_budget.memory import InferSetup, TrainSetup
    from llm_budget.model.spec import ModelSpec


def with_model_advice(
    report: OomReport,
    spec: ModelSpec,
    *,
    mode: Literal["train", "infer"],
    train: TrainSetup,
    infer: InferSetup,
    gpus: int = 1,
    fragmentation: float = 0.05,
) -> OomReport:
    """Attach the fit advisor's verdict and changes for `spec` on the card of this message.

    The card is the catalog GPU the capacity matches (its speeds and features), sized as PyTorch saw it:
    the printed total capacity, minus what was outside PyTorch (the CUDA context, libraries; printed, or
    the fit advisor's default), minus the fragmentation margin.
    """
    from llm_budget.fit import DEFAULT_CUDA_CONTEXT, advise
    from llm_budget.hardware import gpu_catalog

    if not report.gpu_candidates:
        raise LLMBudgetError(
            "the capacity in this message matches no GPU in the catalog; run llm-budget fit --gpu NAME instead"
        )
    base = gpu_catalog()[report.gpu_candidates[0].name]
    card = base.model_copy(update={"memory_bytes": report.total_capacity_bytes * base.devices})
    own = report.this_process_non_pytorch_bytes
    outside = own if own is not None else DEFAULT_CUDA_CONTEXT
    fit = advise(
        spec,
        card,
        mode=mode,
        gpus=gpus,
        train=train,
        infer=infer,
        cuda_context=max(outside, 0),
        fragmentation=fragmentation,
    )
    suggestions = [
        FitSuggestion.model_validate(change, from_attributes=True) for change in fit.changes
    ]  # fit.Change, by field name
    need, usable = fit.required_bytes_per_gpu, fit.usable_bytes_per_gpu
    return report.model_copy(
        update={
            "suggestions": suggestions,
            "model_need_bytes": need,
            "model_usable_bytes": usable,
            "model_fits": need <= usable,
        }
    )
