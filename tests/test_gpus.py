"""presets/gpus.yaml: every GPU loads, validates and says where its figures come from.

A citation must be one a reader can follow: a URL, or a named public page or repository;
never a path of somebody's machine or a file that is not in this repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from llm_budget.hardware import GpuSpec, gpu_catalog, load_gpu

ROOT = Path(__file__).resolve().parent.parent
RAW = yaml.safe_load((ROOT / "presets" / "gpus.yaml").read_text())
NAMES = [entry["name"] for entry in RAW]
CITING_FIELDS = ("source", "memory_source", "price_source", "notes")

LOCAL_PATH = re.compile(r"(?<![\w.])(/work/|/home/|/Users/|/tmp/|~/|file://|[A-Za-z]:\\)")
# A bare file name (not part of a URL or of a repo path such as owner/repo/docs/x.md).
BARE_FILE = re.compile(r"(?<![\w./-])([\w.-]+\.(?:md|mdx|txt|csv|yaml|yml|json|ipynb))\b")
URL = re.compile(r"https?://\S+")


def _texts(entry: dict) -> dict[str, str]:
    return {k: entry[k] for k in CITING_FIELDS if entry.get(k)}


def test_every_entry_loads_and_validates():
    catalog = gpu_catalog()
    assert list(catalog) == NAMES  # each entry validated, none dropped or merged
    assert len(set(NAMES)) == len(NAMES)
    for entry in RAW:
        assert GpuSpec.model_validate(entry).name == entry["name"]


def test_names_and_aliases_are_unique_and_resolve():
    seen: dict[str, str] = {}
    for gpu in gpu_catalog().values():
        for key in (gpu.name, *gpu.aliases):
            norm = key.lower().replace("_", "-").replace(" ", "-")
            assert norm not in seen, f"{key} names both {seen[norm]} and {gpu.name}"
            seen[norm] = gpu.name
            assert load_gpu(key).name == gpu.name


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_cites_its_figures(name):
    entry = next(e for e in RAW if e["name"] == name)
    assert entry.get("source", "").strip(), "no source for the datasheet figures"
    assert entry.get("memory_source", "").strip(), "no source for memory_bytes"
    source = entry["source"]
    assert URL.search(source), "source names no primary URL (datasheet, product page or whitepaper)"
    assert re.search(r"\[(V|S|O|R)\b", source), "source has no trust tag ([V], [S], [O] or [R])"
    if entry.get("price_usd_per_hour") is not None:
        assert entry.get("price_source", "").strip(), "a price needs its price_source"


@pytest.mark.parametrize("name", NAMES)
def test_no_citation_names_a_local_path_or_a_missing_file(name):
    entry = next(e for e in RAW if e["name"] == name)
    for field, text in _texts(entry).items():
        without_urls = URL.sub("", text)
        assert not LOCAL_PATH.search(without_urls), f"{field} names a local path: {text!r}"
        for file_name in BARE_FILE.findall(without_urls):
            assert list(ROOT.rglob(file_name)), f"{field} cites {file_name}, which is not in the repository"


def test_the_file_header_names_no_local_path():
    header = (ROOT / "presets" / "gpus.yaml").read_text().split("\n- name:")[0]
    assert not LOCAL_PATH.search(URL.sub("", header))
    for file_name in BARE_FILE.findall(URL.sub("", header)):
        assert list(ROOT.rglob(file_name)), f"the header cites {file_name}, which is not in the repository"


def test_the_checks_catch_what_they_are_for():
    """The patterns above find the citations this file used to carry."""
    old = "as compiled in gpu-and-compute-facts.md section 1.1; see /work/shared/reference/x"
    assert LOCAL_PATH.search(old)
    assert BARE_FILE.findall(old) == ["gpu-and-compute-facts.md"]
    assert not list(ROOT.rglob("gpu-and-compute-facts.md"))
    assert BARE_FILE.findall("stas00/ml-engineering compute/accelerator/README.md") == []
