"""Chinchilla scaling laws: the fitted loss L(N, D), and the compute-optimal (N, D) of each fit.

Three fits, each named by `--fit`:

- approach1 (default): Hoffmann et al. 2022, Table 3 ("projections from Approach 1"): N_opt and
  D_opt both ∝ C^0.5 with about 20 tokens per parameter, so with C = 6·N·D,
  N_opt = sqrt(C / (6·20)), D_opt = 20·N_opt (5.76e23 FLOPs -> 69.3B parameters, 1.39T tokens;
  the table prints 67B and 1.5T). This is the "20 tokens per parameter" rule.
- approach3: the paper's parametric fit L(N, D) = E + A/N^α + B/D^β (§3.3, Eq. 2) with its
  printed constants E = 1.69, A = 406.4, B = 410.7, α = 0.34, β = 0.28, minimised under
  C = 6·N·D in closed form (Eq. 4): N_opt = G·(C/6)^(β/(α+β)), D_opt = G⁻¹·(C/6)^(α/(α+β)),
  G = (α·A / (β·B))^(1/(α+β)). With these rounded constants the optimum at 5.76e23 is 32B
  parameters on 3.0T tokens (the paper, with unrounded ones, reports 40B).
- epoch: the same law refitted by Besiroglu et al. 2024 (E = 1.8172, A = 482.01, B = 2085.43,
  α = 0.3478, β = 0.3658), which agrees with Approaches 1 and 2 (≈20 tokens per parameter):
  72B parameters on 1.33T tokens at 5.76e23.

Every optimum is shown with the loss both laws predict for it. Training compute is C = 6·N·D
(kaplan2020 §2.1: the 6·N of llm_budget.compute.flops, without the attention term, as the laws were fitted).
"""

from __future__ import annotations

import math
from typing import Literal

from llm_budget.compute.frozen import Frozen
from llm_budget.errors import LLMBudgetError
from llm_budget.refs import cite

FitName = Literal["approach1", "approach3", "epoch"]
FITS: tuple[FitName, ...] = ("approach1", "approach3", "epoch")

TOKENS_PER_PARAM = 20.0
"""Chinchilla's rule of thumb: Table 3's compute-optimal rows have 20.0-21.6 tokens per parameter."""


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
    source=cite(
        "hoffmann2022: §3.3 Approach 3, Eq. (2) and its fitted constants E=1.69, A=406.4, B=410.7, α=0.34, β=0.28"
    ),
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
    try:
        value = float(law.E + law.A / float(params) ** law.alpha + law.B / float(tokens) ** law.beta)
    except (OverflowError, ZeroDivisionError):
        value = math.inf
    if not math.isfinite(value):
        raise LLMBudgetError(f"the {law.name} loss of {params:g} parameters and {tokens:g} tokens is not finite")
    return value


def tokens_for(flops: float, params: float) -> float:
    """Tokens a budget buys a model of `params` parameters.

    Formula: D = C / (6·N)
    Source:  kaplan2020 §2.1 (C ≈ 6·N·D).
    """
    return flops / (6 * params)


def check_flops(flops: float) -> float:
    """A FLOP budget is positive and finite."""
    if not math.isfinite(flops) or flops <= 0:
        raise LLMBudgetError(f"the FLOP budget must be positive and finite, got {flops:g}")
    return flops


def optimum_rule(flops: float, tokens_per_param: float = TOKENS_PER_PARAM) -> tuple[float, float]:
    """Compute-optimal (N, D) with a fixed ratio D = r·N under C = 6·N·D.

    Formula: N_opt = sqrt(C / (6·r)), D_opt = r·N_opt   (r = 20)
    Source:  hoffmann2022 Table 3 (Approach 1: N, D ∝ C^0.5, ≈20 tokens per parameter); kaplan2020 §2.1 (C = 6ND).
    """
    check_flops(flops)
    n = math.sqrt(flops / (6 * tokens_per_param))
    return n, tokens_per_param * n


def _frontier_g(law: LossLaw) -> float:
    """G = (α·A / (β·B))^(1/(α+β)), the constant of the efficient frontier (hoffmann2022 §3.3, Eq. (4))."""
    a, b = law.alpha, law.beta
    return float((a * law.A / (b * law.B)) ** (1 / (a + b)))


def optimum_law(flops: float, law: LossLaw) -> tuple[float, float]:
    """Compute-optimal (N, D) minimising L(N, D) under C = 6·N·D, in closed form.

    Formula: G = (α·A / (β·B))^(1/(α+β)); N_opt = G·(C/6)^(β/(α+β)); D_opt = G⁻¹·(C/6)^(α/(α+β))
    Source:  hoffmann2022 §3.3, Eq. (4).
    """
    check_flops(flops)
    a, b, G = law.alpha, law.beta, _frontier_g(law)
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
    return float(6 * (params / _frontier_g(law)) ** ((a + b) / b))


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
        label = {"approach3": "Hoffmann et al. 2022 fit", "epoch": "Besiroglu et al. 2024 refit"}[fit]
        formula = "N = G·(C/6)^(β/(α+β)), D = (C/6)^(α/(α+β)) / G, G = (αA/(βB))^(1/(α+β))"
        source = LAWS[fit].source
    else:
        raise LLMBudgetError(f"unknown fit '{fit}'; known: {', '.join(FITS)}")
    if not (math.isfinite(n) and math.isfinite(d) and n >= 1 and d >= 1):
        raise LLMBudgetError(
            f"a budget of {flops:g} FLOPs is too small: the {fit} optimum would be {n:g} parameters"
            f" and {d:g} tokens (less than one)"
        )
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
