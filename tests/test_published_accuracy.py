"""docs/accuracy-published.md: peak memory that litgpt and torchtune published (an independent source), run through
`llm-budget memory` by scripts/published_accuracy.py. The page is current, every case names its source and its
figure's kind (or that it ran out of memory on a named card), and the settings recorded for litgpt's LoRA rows reproduce the table's own trainable-parameter
column (r · (d_in + d_out) per adapted matrix, worked here from the model's sizes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from llm_budget.hardware import load_gpu
from llm_budget.model.presets import resolve

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("published_accuracy", ROOT / "scripts" / "published_accuracy.py")
assert _spec is not None and _spec.loader is not None
published_accuracy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(published_accuracy)

DATA = published_accuracy.load()
CASES = DATA["cases"]


def test_page_is_current() -> None:
    assert (ROOT / "docs" / "accuracy-published.md").read_text(encoding="utf-8") == published_accuracy.page(), (
        "docs/accuracy-published.md is stale: run `python scripts/published_accuracy.py`"
    )


@pytest.mark.parametrize("key", sorted(DATA["sources"]))
def test_every_source_says_where_and_what(key: str) -> None:
    src = DATA["sources"][key]
    assert src["url"].startswith("https://github.com/")
    assert src["read_at"] and src["framework"] and src["figure"]
    assert src["kind"] in published_accuracy.KINDS
    assert src["unit"] in published_accuracy.UNITS


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_every_case_names_a_source_and_a_figure(case: dict) -> None:  # type: ignore[type-arg]
    assert case["source"] in DATA["sources"]
    assert case["method"] in published_accuracy.METHODS
    published = case["published"]
    assert published == "OOM" or (isinstance(published, (int, float)) and published > 0)
    load_gpu(case["gpu"])  # the card it ran on, from the catalog
    assert case["settings"], "every setting the framework ran is recorded"
    resolve(case["model"])  # a preset
    for item in case["wanted"]:
        assert item["what"] and item["set"]


def test_case_names_are_unique() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", [c for c in CASES if c["trainable"]], ids=lambda c: c["name"])
def test_litgpt_lora_settings_reproduce_the_tables_trainable_column(case: dict) -> None:  # type: ignore[type-arg]
    # finetune/lora.py: lora_r = 8 on the query and value projections of every block (Hu et al. 2021, §4.1: an
    # adapted d_in × d_out matrix gains r · (d_in + d_out) parameters).
    spec = resolve(case["model"])
    d, r = spec.d_embed, 8
    d_kv = (spec.n_kv_heads or spec.n_heads) * (spec.d_head or d // spec.n_heads)
    assert spec.n_layers * (r * (d + d) + r * (d + d_kv)) == case["trainable"]


def test_wanted_options_are_tried_and_missing_ones_flagged() -> None:
    # An option the CLI lacks is never silently dropped: the case runs without it and the page names it.
    case = next(c for c in CASES if c["name"] == "Llama 2 7B LoRA, micro-batch 1")
    result = published_accuracy.evaluate(case, DATA["sources"])
    expressed = published_accuracy.known_options()
    for item in case["wanted"]:
        alternatives = published_accuracy._alternatives(item)
        used = any(all(result["flags"].get(k) == v for k, v in alt.items()) for alt in alternatives)
        assert used or any(m.startswith(item["what"]) for m in result["missing"])
        if not any(set(alt) <= expressed for alt in alternatives):
            assert not used


def test_a_wanted_option_is_used_as_soon_as_the_cli_has_it() -> None:
    # The re-run is a data change only: an option the CLI has (here --checkpointing) is applied, not flagged.
    case = dict(next(c for c in CASES if c["name"] == "Llama 2 7B LoRA, micro-batch 1"))
    case["wanted"] = [{"what": "activation checkpointing", "set": {"--checkpointing": "full"}}]
    result = published_accuracy.evaluate(case, DATA["sources"])
    assert result["flags"]["--checkpointing"] == "full" and result["missing"] == []
    without = published_accuracy.run(case["model"], case["flags"])[1]
    assert without is not None and result["ours"] < without["total_bytes"]
