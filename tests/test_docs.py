"""The documentation stays true: generated pages are current, every relative link resolves, and the
README keeps the test command .ci/run executes."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _make_docs():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "scripts" / "make_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_docs = _make_docs()


@pytest.mark.parametrize("name", sorted(make_docs.GENERATED))
def test_generated_page_is_current(name):
    path, generate = make_docs.GENERATED[name]
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: run `python scripts/make_docs.py {name}`"
    assert path.read_text(encoding="utf-8") == generate(), (
        f"{path.relative_to(ROOT)} is stale: run `python scripts/make_docs.py {name}`"
    )


def test_check_command_reports_stale_pages(tmp_path, monkeypatch):
    """`make_docs.py check` exits 1 when a generated page differs from its generator, 0 when all match."""
    stale = tmp_path / "accuracy.md"
    stale.write_text("old\n", encoding="utf-8")
    current = tmp_path / "cli.md"
    current.write_text("current\n", encoding="utf-8")
    monkeypatch.setattr(
        make_docs, "GENERATED", {"accuracy": (stale, lambda: "new\n"), "cli": (current, lambda: "current\n")}
    )
    monkeypatch.setattr(make_docs, "ROOT", tmp_path)
    assert make_docs.stale_pages() == ["accuracy"]
    assert make_docs.main(["check"]) == 1
    assert make_docs.main(["accuracy"]) == 0  # regenerates it
    assert make_docs.main(["check"]) == 0


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)  # links inside code are text
    text = re.sub(r"`[^`\n]*`", "", text)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _broken(doc: Path) -> list[str]:
    out = []
    for target in _relative_links(doc):
        file, _, anchor = target.partition("#")
        path = doc.parent / file
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            out.append(target)
    return out


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_files(doc):
    assert _relative_links(doc), f"{doc.relative_to(ROOT)}: no links found (the pattern broke?)"
    broken = _broken(doc)
    assert not broken, f"{doc.relative_to(ROOT)} links to missing files or headings: {broken}"


def test_link_checker_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# A `b` title\n[ok](page.md#a-b-title) [web](https://example.org) [gone](missing.md#x) "
        "[no heading](page.md#nope) `[code](nope.md)`\n",
        encoding="utf-8",
    )
    assert _broken(page) == ["missing.md#x", "page.md#nope"]


def test_readme_keeps_the_ci_test_command():
    """.ci/run runs the line two lines after the marker (awk getline; getline): it must be the pytest command."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    at = lines.index("<!-- test-command -->")
    assert lines[at + 1] == "```bash"
    assert lines[at + 2] == 'pip install ".[dev,probe]" && python -m pytest'


def test_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 220


def test_accuracy_summary_counts_exact_rows_and_errors(tmp_path, monkeypatch):
    """The accuracy generator's arithmetic on a hand-made result: 2 cases, one peak off by 1 in 100."""

    def row(component, est, meas):
        return {
            "phase": "train",
            "component": component,
            "estimate_bytes": est,
            "measured_bytes": meas,
            "error": (est - meas) / meas,
            "ok": True,
        }

    reports = [
        {
            "case": "tiny a",
            "path": "fake",
            "device": "cpu",
            "torch_version": "x",
            "settings": {"implementation": "reference"},
            "passed": True,
            "rows": [row("weights", 100, 100), row("peak", 101, 100)],
        },
        {
            "case": "tiny b",
            "path": "fake",
            "device": "cpu",
            "torch_version": "x",
            "settings": {"implementation": "hf"},
            "passed": True,
            "rows": [row("weights", 100, 100), row("peak", 100, 100)],
        },
    ]
    (tmp_path / "r.json").write_text(json.dumps({"reports": reports}), encoding="utf-8")
    monkeypatch.setattr(make_docs, "ROOT", tmp_path)
    page = make_docs.accuracy_page(tmp_path)
    assert "2 cases, 2 passed" in page
    assert "| train | peak | reference model | 1 | 1 | 0 | 1.00% | 1.00% |" in page
    assert "| train | weights (exact) | transformers | 1 | 1 | 1 | 0.00% | 0.00% |" in page
