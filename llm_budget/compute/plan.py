"""`llm-budget scale`: the compute-optimal plan for a budget. Every fit's optimum, the iso-FLOP curve
(loss against N at fixed C, D = C / 6N) under the selected fit's law (approach1 has no law of its
own, so it uses the Epoch law, whose minimum agrees with it), the presets near the optimum, and
what the budget buys a model of a size chosen up front."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple, Optional

from llm_budget.compute.budget import Budget
from llm_budget.compute.frozen import Frozen
from llm_budget.compute.laws import (
    FITS,
    FitName,
    LossLaw,
    Optimum,
    check_flops,
    flops_for_params,
    law_for,
    loss,
    optimum,
    optimum_law,
    tokens_for,
)
from llm_budget.errors import LLMBudgetError


class IsoFlopPoint(Frozen):
    params: float
    tokens: float  # C / (6·N)
    loss: float


class NearbyModel(Frozen):
    name: str
    display_name: str
    params: int  # exact total
    tokens: float  # C / (6·N): what this budget buys it
    tokens_per_param: float
    loss: float  # under the curve's law
    ratio_to_optimum: float  # N / N_opt


class FixedSize(Frozen):
    """A model size chosen up front: what the budget buys it and how far from optimal it is."""

    params: float
    tokens: float  # C / (6·N)
    tokens_per_param: float
    loss: float  # under the curve's law
    loss_at_optimum: float  # the law's own optimum at the same C
    loss_gap: float  # loss - loss_at_optimum (≥ 0)
    optimal_flops: float  # the budget at which this N is compute-optimal (selected fit)
    optimal_tokens: float  # ... and the tokens it would then see


class ScalePlan(Frozen):
    """`llm-budget scale`: the compute-optimal plan for a budget."""

    budget: Budget
    fit: FitName
    optimum: Optimum  # the selected fit
    fits: list[Optimum]  # all three, approach1 (the 20-tokens rule) first
    loss_law: LossLaw  # the law of the iso-FLOP curve
    optimum_loss: float  # L(N_opt, C / 6·N_opt) under the curve's law: where the optimum sits on the curve
    iso_flop: list[IsoFlopPoint]  # loss against N at this budget, log-spaced around the optimum
    nearby: list[NearbyModel]  # dense presets within 3× of N_opt, nearest first
    fixed: Optional[FixedSize]
    notes: list[str]


class Candidate(NamedTuple):
    name: str
    display_name: str
    params: int


def iso_flop_curve(
    flops: float, law: LossLaw, *, center: float, span: float = 30.0, points: int = 61
) -> list[IsoFlopPoint]:
    """Loss against model size at a fixed budget: N log-spaced over [center/span, center·span], D = C / 6N.

    Formula: L(N, C/(6N)) = E + A/N^α + B/(C/6N)^β
    Source:  hoffmann2022 §3.2 (IsoFLOP profiles) and §3.3 Eq. (2).
    """
    lo, hi = math.log(center / span), math.log(center * span)
    out = []
    for i in range(points):
        n = math.exp(lo + (hi - lo) * i / (points - 1))
        d = tokens_for(flops, n)
        out.append(IsoFlopPoint(params=n, tokens=d, loss=loss(law, n, d)))
    return out


def nearby_models(
    flops: float, law: LossLaw, n_opt: float, candidates: Sequence[Candidate], *, within: float = 3.0, limit: int = 6
) -> list[NearbyModel]:
    """Candidates whose size is within a factor `within` of N_opt, nearest (in log N) first."""
    near = [c for c in candidates if 1 / within <= c.params / n_opt <= within]
    near.sort(key=lambda c: abs(math.log(c.params / n_opt)))
    out = []
    for c in near[:limit]:
        d = tokens_for(flops, c.params)
        out.append(
            NearbyModel(
                name=c.name,
                display_name=c.display_name,
                params=c.params,
                tokens=d,
                tokens_per_param=d / c.params,
                loss=loss(law, c.params, d),
                ratio_to_optimum=c.params / n_opt,
            )
        )
    return out


def preset_candidates() -> list[Candidate]:
    """Dense presets with their exact totals (the Chinchilla laws are fits to dense models)."""
    from llm_budget.model.counter import count_params
    from llm_budget.model.presets import all_presets

    out = []
    for spec in all_presets():
        if spec.is_moe:
            continue
        out.append(Candidate(spec.name or spec.label, spec.label, count_params(spec).total))
    return out


def fixed_size(flops: float, params: float, fit: FitName) -> FixedSize:
    """Tokens a budget buys a model of `params` parameters, its predicted loss and its gap to the optimum.

    Formula: D = C / (6·N); gap = L(N, D) − L(N_opt, D_opt) under the fit's law
    Source:  kaplan2020 §2.1 (C = 6ND); hoffmann2022 §3.3 Eq. (2), (4).
    """
    if params <= 0:
        raise LLMBudgetError(f"parameters must be positive, got {params:g}")
    law = law_for(fit)
    d = tokens_for(flops, params)
    if not d >= 1:
        raise LLMBudgetError(
            f"a budget of {flops:g} FLOPs buys {d:g} tokens for {params:g} parameters (less than one); give a smaller"
            " --params or a larger budget"
        )
    best = loss(law, *optimum_law(flops, law))
    here = loss(law, params, d)
    c_opt = flops_for_params(params, fit)
    return FixedSize(
        params=params,
        tokens=d,
        tokens_per_param=d / params,
        loss=here,
        loss_at_optimum=best,
        loss_gap=max(0.0, here - best),
        optimal_flops=c_opt,
        optimal_tokens=tokens_for(c_opt, params),
    )


def _plot_range(chosen: Optimum, fixed: Optional[FixedSize]) -> tuple[float, float]:
    """Centre and span (a factor each way) of the curve: the optimum ±30×, widened to keep a fixed size on it."""
    center, span = chosen.params, 30.0
    if fixed is not None:  # keep the optimum and the fixed size on the plot, with margin
        lo, hi = sorted((chosen.params, fixed.params))
        center, span = math.sqrt(lo * hi), max(span, 3 * math.sqrt(hi / lo))
    return center, span


def _notes(fit: FitName, budget: Budget) -> list[str]:
    notes = []
    if fit == "approach1":
        notes.append(
            "approach1 has no loss law of its own: the curve uses the Epoch refit, whose optimum agrees with it"
        )
    if fit == "approach3":
        notes.append(
            "with the paper's rounded constants the Approach 3 optimum is far from 20 tokens per parameter; the paper reports 40B at 5.76e23 with unrounded ones"
        )
    if budget.precision_note:
        notes.append(budget.precision_note)
    return notes


def plan_scale(
    budget: Budget,
    *,
    fit: FitName = "approach1",
    params: Optional[float] = None,
    candidates: Optional[Sequence[Candidate]] = None,
) -> ScalePlan:
    """The compute-optimal plan for a budget: every fit's optimum, the iso-FLOP curve, presets near it,
    and, with `params`, what the budget buys a model of that size. `candidates` default to the presets."""
    if fit not in FITS:
        raise LLMBudgetError(f"unknown fit '{fit}'; known: {', '.join(FITS)}")
    C = check_flops(budget.flops)
    fits = [optimum(C, f) for f in FITS]
    chosen = next(o for o in fits if o.fit == fit)
    law = law_for(fit)
    fixed = fixed_size(C, params, fit) if params is not None else None
    center, span = _plot_range(chosen, fixed)
    return ScalePlan(
        budget=budget,
        fit=fit,
        optimum=chosen,
        fits=fits,
        loss_law=law,
        optimum_loss=loss(law, chosen.params, tokens_for(C, chosen.params)),
        iso_flop=iso_flop_curve(C, law, center=center, span=span),
        nearby=nearby_models(C, law, chosen.params, preset_candidates() if candidates is None else candidates),
        fixed=fixed,
        notes=_notes(fit, budget),
    )
