"""CUDA out-of-memory messages: parse, diagnose, advise.

forms (the message's forms) → parse + sizes (printed figures in exact bytes) → account (derived figures)
→ diagnose (a kind and its numbers; findings) → advise (recommendations) → explain (the orchestration);
with_model adds the fit advisor's changes (--preset). The sentences are written by llm_budget.render.oom.

The package's public names; other packages import them from here, never from its modules."""

from llm_budget.oom.advise import max_split_size_mb, recommendations
from llm_budget.oom.candidates import gpu_candidates
from llm_budget.oom.explain import explain_oom
from llm_budget.oom.forms import EXPECTED_FORMS
from llm_budget.oom.parse import NVML_NOT_AVAILABLE
from llm_budget.oom.report import (
    TEMPLATE_SOURCE,
    Diagnosis,
    Figure,
    Finding,
    FindingKind,
    FitSuggestion,
    GpuCandidate,
    OomReport,
    ProcessUsage,
    Recommendation,
    RecommendationKind,
    Verdict,
    VerdictCase,
)
from llm_budget.oom.sizes import format_size, parse_size
from llm_budget.oom.thresholds import (
    CONTEXT_ALLOWANCE,
    DRIVER_MARGIN,
    FRAGMENTATION_SHARE,
    FREE_MARGIN_MIN,
    FREE_MARGIN_SHARE,
    LARGE_REQUEST_SHARE,
    MIN_MAX_SPLIT_MB,
    OTHER_PROCESSES_SHARE,
)
from llm_budget.oom.with_model import with_model_advice

__all__ = [
    "CONTEXT_ALLOWANCE",
    "Diagnosis",
    "DRIVER_MARGIN",
    "EXPECTED_FORMS",
    "explain_oom",
    "Figure",
    "Finding",
    "FindingKind",
    "FitSuggestion",
    "format_size",
    "FRAGMENTATION_SHARE",
    "FREE_MARGIN_MIN",
    "FREE_MARGIN_SHARE",
    "gpu_candidates",
    "GpuCandidate",
    "LARGE_REQUEST_SHARE",
    "max_split_size_mb",
    "MIN_MAX_SPLIT_MB",
    "NVML_NOT_AVAILABLE",
    "OomReport",
    "OTHER_PROCESSES_SHARE",
    "parse_size",
    "ProcessUsage",
    "Recommendation",
    "RecommendationKind",
    "recommendations",
    "TEMPLATE_SOURCE",
    "Verdict",
    "VerdictCase",
    "with_model_advice",
]
