"""Whether it fits: usable memory per GPU, the layout search and the changes that would make it fit.

The package's public names; other packages import them from here, never from its modules."""

from llm_budget.fit.advisor import (
    advise,
    Change,
    DEFAULT_CUDA_CONTEXT,
    DEFAULT_FRAGMENTATION,
    FitReport,
    hardware_warnings,
    Plan,
    search_plans,
    TOKENS_REF,
    Usable,
    usable_memory,
    Verdict,
)

__all__ = [
    "advise",
    "Change",
    "DEFAULT_CUDA_CONTEXT",
    "DEFAULT_FRAGMENTATION",
    "FitReport",
    "hardware_warnings",
    "Plan",
    "search_plans",
    "TOKENS_REF",
    "Usable",
    "usable_memory",
    "Verdict",
]
