"""The compute-optimal fits `llm-budget scale --fit` offers (scaling.py holds their formulas).

Its own module so that the CLI can declare the option without importing the scaling model.
"""

from __future__ import annotations

from enum import Enum


class Fit(str, Enum):
    """`--fit` choices (the CLI passes `.value`)."""

    approach1 = "approach1"  # Hoffmann et al. 2022 Table 3: D = 20·N, N and D ∝ C^0.5
    approach3 = "approach3"  # Hoffmann et al. 2022 §3.3: the parametric loss, rounded constants
    epoch = "epoch"  # Besiroglu et al. 2024: the parametric loss refitted
