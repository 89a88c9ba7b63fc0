"""docs/engine-logs.md: start-up lines published in the engines' issue trackers (an independent source), run
through our arithmetic by scripts/engine_logs.py. The page is current, and the logged blocks/tokens fall inside
what the logged budget allows, case by case."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("engine_logs", ROOT / "scripts" / "engine_logs.py")
assert _spec is not None and _spec.loader is not None
engine_logs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(engine_logs)

UNEXPLAINED = {"Qwen3-235B-A22B-FP8, 4 × H100, TP 4 (vLLM)"}
"""Cases whose logged tokens fall outside our interval, said so on the page (one rank's budget published)."""


def test_page_is_current() -> None:
    assert (ROOT / "docs" / "engine-logs.md").read_text(encoding="utf-8") == engine_logs.page(), (
        "docs/engine-logs.md is stale: run `python scripts/engine_logs.py`"
    )


@pytest.mark.parametrize("case", engine_logs.CASES, ids=lambda c: c["name"])
def test_logged_numbers_inside_ours(case: dict) -> None:  # type: ignore[type-arg]
    row = engine_logs._sglang_row(case) if case["engine"] == "sglang" else engine_logs._vllm_row(case)
    agrees = row[engine_logs.HEADER.index("Agrees")] == "yes"
    assert agrees == (case["name"] not in UNEXPLAINED), row


def test_v0_refusal_message_matches_the_log() -> None:
    # vllm#10517: 2.89 GiB -> 1,478 blocks -> 'maximum number of tokens that can be stored in KV cache (23648)'
    case = engine_logs.CASES[1]
    lo, hi = engine_logs._blocks_by_rank(case, 2.89)
    assert lo <= 1478 <= hi
    assert 1478 * 16 == 23648
