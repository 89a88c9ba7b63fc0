"""Whether it fits: usable memory per GPU, the layout search and the changes that would make it fit.

The package's public names; other packages import them from here, never from its modules."""

from llm_budget.fit.advisor import advise
from llm_budget.fit.hardware_warnings import hardware_warnings
from llm_budget.fit.layouts import search_plans
from llm_budget.fit.results import (
    Change,
    FitReport,
    Plan,
    Setting,
    Verdict,
    layout_label,
)
from llm_budget.fit.timing import TOKENS_REF, seconds_per_million_tokens
from llm_budget.fit.usable import (
    DEFAULT_CUDA_CONTEXT,
    DEFAULT_FRAGMENTATION,
    Usable,
    usable_memory,
)

__all__ = [
    "advise",
    "Change",
    "DEFAULT_CUDA_CONTEXT",
    "DEFAULT_FRAGMENTATION",
    "FitReport",
    "hardware_warnings",
    "layout_label",
    "Plan",
    "search_plans",
    "seconds_per_million_tokens",
    "Setting",
    "TOKENS_REF",
    "Usable",
    "usable_memory",
    "Verdict",
]
