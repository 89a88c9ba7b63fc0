"""Read a PyTorch CUDA out-of-memory message and say what it means: find it (forms), read its figures
(parse, sizes), derive the rest (account), diagnose, advise. Each step is its own module."""

from __future__ import annotations

from llm_budget.errors import LLMBudgetError
from llm_budget.oom.account import account, all_figures
from llm_budget.oom.advise import recommendations
from llm_budget.oom.candidates import gpu_candidates
from llm_budget.oom.diagnose import diagnose, observe
from llm_budget.oom.forms import ANSI, find_message
from llm_budget.oom.parse import read_message
from llm_budget.oom.report import OomReport


def explain_oom(text: str) -> OomReport:
    """Parse the last CUDA OOM message in `text` (a message, a traceback or a whole log) and explain it."""
    if not text or not text.strip():
        raise LLMBudgetError("empty input: give the out-of-memory message, or pipe a log that contains it")
    printed = read_message(find_message(ANSI.sub("", text)))  # ANSI: colored tracebacks (IPython, rich)
    a = account(printed)
    diagnosis, verdict = diagnose(a)
    report = OomReport(
        format="legacy" if printed.legacy else "current",
        wording=printed.wording,
        exception=printed.exception,
        backend=printed.backend,
        gpu_index=printed.gpu_index,
        complete=a.allocated is not None,
        tried_to_allocate_bytes=a.request,
        total_capacity_bytes=a.total,
        free_bytes=a.free,
        allocated_bytes=a.allocated,
        reserved_bytes=a.reserved,
        reserved_unallocated_bytes=a.unallocated,
        non_pytorch_bytes=a.non_pytorch,
        process_in_use_bytes=a.process_in_use,
        process_in_use_inferred=a.inferred,
        this_process_non_pytorch_bytes=a.own_overhead,
        other_processes_bytes=a.others,
        other_processes_min_bytes=a.others_min,
        allowed_bytes=a.allowed,
        private_pools_bytes=a.private_pools,
        processes=printed.processes,
        shortfall_bytes=a.shortfall,
        available_to_pytorch_bytes=a.free + a.reserved if a.reserved is not None else None,
        figures=all_figures(a),
        gpu_candidates=gpu_candidates(printed.figures["total_capacity"]),
        diagnosis=diagnosis,
        verdict=verdict,
        observations=printed.findings + a.findings + observe(a, diagnosis),
        pytorch_hint=printed.pytorch_hint,
        message=printed.message,
        messages_found=printed.messages_found,
    )
    return report.model_copy(update={"recommendations": recommendations(report, env=printed.alloc_conf_env)})
