"""Compute-optimal model size and tokens for a FLOP budget (Chinchilla), and the loss it predicts.

Three fits, each named by `--fit`:

- approach1 (default): Hoffmann et al. 2022, Table 3 ("projections from Approach 1"): N_opt and
  D_opt both ∝ C^0.5 with about 20 tokens per parameter, so with C = 6·N·D,
  N_opt = sqrt(C / (6·20)), D_opt = 20·N_opt (5.76e23 FLOPs -> 69.3B parameters, 1.39T tokens;
  the table prints 67B and 1.5T). This is the "20 tokens per parameter" rule.
- approach3: the paper's parametric fit L(N, D) = E + A/N^α + B/D^β (§3.3, Eq. 2) with its
  printed constants E = 1.69, A = 406.4, B = 410.7, α = 0.34, β = 0.28, minimised under
  C = 6·N·D in closed form (Eq. 4): N_opt = G·(C/6)^(β/(α+β)), D_opt = G⁻¹·(C/6)^(α/(α+β)),
  G = (α·A / (β·B))^(1/(α+β)). With these rounded constants the optimum at 5.76e23 is 32B
  parameters on 3.0T tokens (the paper, with unrounded constants, reports 40B).
- epoch: the same law refitted by Besiroglu et al. 2024 (E = 1.8172, A = 482.01, B = 2085.43,
  α = 0.3478, β = 0.3658), which agrees with Approaches 1 and 2 (≈20 tokens per parameter):
  72B parameters on 1.33T tokens at 5.76e23.

Every optimum is shown with the loss both laws predict for it. The iso-FLOP curve (loss against
N at fixed C, D = C / 6N) uses the selected fit's law; approach1 has no law of its own, so it
uses the Epoch law (whose minimum agrees with it).
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple, Optional, Sequence

from pydantic import BaseModel, ConfigDict

from llm_budget.defaults import DEFAULT_MFU
from llm_budget.compute.estimate import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    check_utilization,
    resolve_peak,
)
from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import GpuSpec
from llm_budget.refs import cite

FitName = Literal["approach1", "approach3", "epoch"]
FITS: tuple[FitName, ...] = ("approach1", "approach3", "epoch")


TOKENS_PER_PARAM = 20.0
"""Chinchilla's rule of thumb: Table 3's compute-optimal rows have 20.0-21.6 tokens per parameter."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class LossLaw(Frozen):
    """L(N, D) = E + A / N^alpha + B / D^beta, with where each constant comes from."""

    name: Literal["approach3", "epoch"]
    label: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str


HOFFMANN = LossLaw(
    name="approach3",
    label="Hoffmann et al. 2022, Approach 3",
    E=1.69,
    A=406.4,
    B=410.7,
    alpha=0.34,
    beta=0.28,
    source=cite("hoffmann2022: §3.3 Approach 3, Eq. (2) and its fitted constants E=1.69, A=406.4, B=410.7, α=0.34, β=0.28"),
)
EPOCH = LossLaw(
    name="epoch",
    label="Besiroglu et al. 2024 (Epoch AI refit)",
    E=1.8172,
    A=482.01,
    B=2085.43,
    alpha=0.3478,
    beta=0.3658,
    source=cite("besiroglu2024: refit of Approach 3, E=1.8172, A=482.01, B=2085.43, α=0.3478, β=0.3658"),
)
LAWS = {"approach3": HOFFMANN, "epoch": EPOCH}
SRC_TABLE3 = cite("hoffmann2022: Table 3 (Approach 1 projections; N and D ∝ C^0.5, ≈20 tokens per parameter)")
SRC_EQ4 = cite("hoffmann2022: §3.3, Eq. (4) (efficient frontier of the parametric loss under C = 6ND)")
SRC_C6ND = cite("kaplan2020: §2.1 (C ≈ 6·N·D)")


def loss(law: LossLaw, params: float, tokens: float) -> float:
    """Predicted pre-training loss (nats per token on the paper's MassiveText distribution).

    Formula: L(N, D) = E + A / N^α + B / D^β
    Source:  hoffmann2022 §3.3 Eq. (2); besiroglu2024 (refitted constants).
    """
    if params <= 0 or tokens <= 0:
        raise LLMBudgetError("parameters and tokens must be positive")
    return law.E + law.A / params**law.alpha + law.B / tokens**law.beta


def _check_flops(flops: float) -> float:
    if not math.isfinite(flops) or flops <= 0:
        raise LLMBudgetError(f"the FLOP budget must be positive and finite, got {flops:g}")
    return flops


def optimum_rule(flops: float, tokens_per_param: float = TOKENS_PER_PARAM) -> tuple[float, float]:
    """Compute-optimal (N, D) with a fixed ratio D = r·N under C = 6·N·D.

    Formula: N_opt = sqrt(C / (6·r)), D_opt = r·N_opt   (r = 20)
    Source:  hoffmann2022 Table 3 (Approach 1: N, D ∝ C^0.5, ≈20 tokens per parameter); kaplan2020 §2.1 (C = 6ND).
    """
    _check_flops(flops)
    n = math.sqrt(flops / (6 * tokens_per_param))
    return n, tokens_per_param * n


def optimum_law(flops: float, law: LossLaw) -> tuple[float, float]:
    """Compute-optimal (N, D) minimising L(N, D) under C = 6·N·D, in closed form.

    Formula: G = (α·A / (β·B))^(1/(α+β)); N_opt = G·(C/6)^(β/(α+β)); D_opt = G⁻¹·(C/6)^(α/(α+β))
    Source:  hoffmann2022 §3.3, Eq. (4).
    """
    _check_flops(flops)
    a, b = law.alpha, law.beta
    G = (a * law.A / (b * law.B)) ** (1 / (a + b))
    return G * (flops / 6) ** (b / (a + b)), (flops / 6) ** (a / (a + b)) / G


def flops_for_params(params: float, fit: FitName) -> float:
    """The budget at which `params` is compute-optimal (inverse of the optimum).

    Formula: approach1: C = 6·r·N²; laws: C = 6·(N/G)^((α+β)/β)
    Source:  hoffmann2022 Table 3 / §3.3 Eq. (4), inverted.
    """
    if fit == "approach1":
        return 6 * TOKENS_PER_PARAM * params**2
    law = LAWS[fit]
    a, b = law.alpha, law.beta
    G = (a * law.A / (b * law.B)) ** (1 / (a + b))
    return 6 * (params / G) ** ((a + b) / b)


def law_for(fit: FitName) -> LossLaw:
    """The loss law a fit's iso-FLOP curve uses (approach1 has none of its own: Epoch's agrees with it)."""
    return HOFFMANN if fit == "approach3" else EPOCH


class Optimum(Frozen):
    fit: FitName
    label: str
    params: float  # N_opt
    tokens: float  # D_opt
    tokens_per_param: float
    loss_approach3: float  # L(N_opt, D_opt) under Hoffmann's constants
    loss_epoch: float  # ... under Besiroglu et al.'s
    formula: str
    source: str


def optimum(flops: float, fit: FitName) -> Optimum:
    """The compute-optimal (N, D) of one fit, with the loss each law predicts for it."""
    if fit == "approach1":
        n, d = optimum_rule(flops)
        label, formula, source = "Chinchilla Table 3 (D = 20·N)", "N = √(C / 120), D = 20·N", SRC_TABLE3
    elif fit in LAWS:
        n, d = optimum_law(flops, LAWS[fit])
        law = LAWS[fit]
        label = {"approach3": "Hoffmann et al. 2022 fit", "epoch": "Besiroglu et al. 2024 refit"}[fit]
        formula = "N = G·(C/6)^(β/(α+β)), D = (C/6)^(α/(α+β)) / G, G = (αA/(βB))^(1/(α+β))"
        source = law.source
    else:
        raise LLMBudgetError(f"unknown fit '{fit}'; known: {', '.join(FITS)}")
    return Optimum(
        fit=fit,
        label=label,
        params=n,
        tokens=d,
        tokens_per_param=d / n,
        loss_approach3=loss(HOFFMANN, n, d),
        loss_epoch=loss(EPOCH, n, d),
        formula=formula,
        source=source,
    )


# -- the budget ----------------------------------------------------------------------------------------------


class Budget(Frozen):
    """The FLOP budget and, when a GPU is named, what it means in time and money."""

    flops: float
    given_as: Literal["flops", "gpu_time", "usd"]  # --flops | --gpu/--gpus/--days | --budget-usd
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
    if gpu is None:
        if flops is None:
            raise LLMBudgetError(f"{given[0]} needs --gpu (its peak turns time or money into FLOPs)")
        if any(v is not None for v in (n_gpus, mfu, price, precision)):
            raise LLMBudgetError("--gpus, --mfu, --price and --precision need --gpu")
        return Budget(
            flops=flops, given_as="flops", gpu=None, gpu_display_name=None, precision=None, precision_note=None,
            peak_tflops=None, n_gpus=None, mfu=None, days=None, gpu_hours=None, price_usd_per_gpu_hour=None,
            price_source=None, cost_usd=None, formula="C given",
        )
    u = check_utilization(mfu) if mfu is not None else DEFAULT_MFU
    choice = resolve_peak(gpu, precision)
    rate = choice.peak_tflops * 1e12 * u  # model FLOP/s per GPU
    price_source: Optional[str] = "--price" if price is not None else None
    if price is None and gpu.price_usd_per_hour is not None:
        price, price_source = gpu.price_usd_per_hour, gpu.price_source or "GPU catalog"
    if budget_usd is not None:
        if price is None:
            raise LLMBudgetError(f"no catalog price for {gpu.display_name}: give --price (USD per GPU-hour)")
        gpu_hours = budget_usd / price
        flops = gpu_hours * SECONDS_PER_HOUR * rate
        given_as: Literal["flops", "gpu_time", "usd"] = "usd"
        formula = "C = USD / price × 3600 × peak × MFU"
    elif days is not None:
        n = n_gpus or 1
        gpu_hours = n * days * 24
        flops = gpu_hours * SECONDS_PER_HOUR * rate
        given_as = "gpu_time"
        formula = "C = n_gpus × peak × MFU × seconds"
    else:
        assert flops is not None
        gpu_hours = flops / rate / SECONDS_PER_HOUR
        given_as = "flops"
        formula = "GPU-hours = C / (peak × MFU × 3600)"
    n = n_gpus if n_gpus is not None else (1 if days is not None else None)
    return Budget(
        flops=flops,
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


# -- iso-FLOP curve, presets near the optimum, a fixed model size ----------------------------------------------


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
    iso_flop: list[IsoFlopPoint]  # loss against N at this budget, log-spaced around the optimum
    nearby: list[NearbyModel]  # dense presets within 3× of N_opt, nearest first
    fixed: Optional[FixedSize]
    notes: list[str]


class Candidate(NamedTuple):
    name: str
    display_name: str
    params: int


def iso_flop_curve(flops: float, law: LossLaw, *, center: float, span: float = 30.0, points: int = 61) -> list[IsoFlopPoint]:
    """Loss against model size at a fixed budget: N log-spaced over [center/span, center·span], D = C / 6N.

    Formula: L(N, C/(6N)) = E + A/N^α + B/(C/6N)^β
    Source:  hoffmann2022 §3.2 (IsoFLOP profiles) and §3.3 Eq. (2).
    """
    lo, hi = math.log(center / span), math.log(center * span)
    out = []
    for i in range(points):
        n = math.exp(lo + (hi - lo) * i / (points - 1))
        d = flops / (6 * n)
        out.append(IsoFlopPoint(params=n, tokens=d, loss=loss(law, n, d)))
    return out


def nearby_models(flops: float, law: LossLaw, n_opt: float, candidates: Sequence[Candidate], *, within: float = 3.0, limit: int = 6) -> list[NearbyModel]:
    """Candidates whose size is within a factor `within` of N_opt, nearest (in log N) first."""
    near = [c for c in candidates if 1 / within <= c.params / n_opt <= within]
    near.sort(key=lambda c: abs(math.log(c.params / n_opt)))
    out = []
    for c in near[:limit]:
        d = flops / (6 * c.params)
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
    d = flops / (6 * params)
    n_law, d_law = optimum_law(flops, law)
    best = loss(law, n_law, d_law)
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
        optimal_tokens=c_opt / (6 * params),
    )


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
    C = _check_flops(budget.flops)
    fits = [optimum(C, f) for f in FITS]
    chosen = next(o for o in fits if o.fit == fit)
    law = law_for(fit)
    fixed = fixed_size(C, params, fit) if params is not None else None
    center, span = chosen.params, 30.0
    if fixed is not None:  # keep the optimum and the fixed size on the plot, with margin
        lo, hi = sorted((chosen.params, fixed.params))
        center, span = math.sqrt(lo * hi), max(span, 3 * math.sqrt(hi / lo))
    curve = iso_flop_curve(C, law, center=center, span=span)
    cands = preset_candidates() if candidates is None else candidates
    notes = []
    if fit == "approach1":
        notes.append("approach1 has no loss law of its own: the curve uses the Epoch refit, whose optimum agrees with it")
    if fit == "approach3":
        notes.append("with the paper's rounded constants the Approach 3 optimum is far from 20 tokens per parameter; the paper reports 40B at 5.76e23 with unrounded ones")
    if budget.precision_note:
        notes.append(budget.precision_note)
    return ScalePlan(
        budget=budget,
        fit=fit,
        optimum=chosen,
        fits=fits,
        loss_law=law,
        iso_flop=curve,
        nearby=nearby_models(C, law, chosen.params, cands),
        fixed=fixed,
        notes=notes,
    )
