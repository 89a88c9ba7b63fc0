"""Every number the README's examples print stays what it was before the restructuring (issue 9).

Only numbers are compared (strings may be reworded, keys may be added): the JSON of each
example is walked leaf by leaf and every int, float and bool of the golden file must be
present, at the same path, with the same value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden.examples import run_json

VOLATILE = {"search_seconds"}  # wall-clock time of the fit search, not an estimate

GOLDEN = json.loads((Path(__file__).parent / "golden" / "readme_examples.json").read_text())


def _numbers(node: object, path: str = "") -> dict[str, object]:
    if isinstance(node, dict):
        return {
            k: v
            for key, child in node.items()
            if key not in VOLATILE
            for k, v in _numbers(child, f"{path}.{key}").items()
        }
    if isinstance(node, list):
        return {k: v for i, child in enumerate(node) for k, v in _numbers(child, f"{path}[{i}]").items()}
    if isinstance(node, (bool, int, float)):
        return {path: node}
    return {}


@pytest.mark.parametrize("case", GOLDEN, ids=[" ".join(c["argv"])[:60] for c in GOLDEN])
def test_readme_example_prints_the_same_numbers(case):
    want = _numbers(case["json"])
    got = _numbers(run_json(case["argv"]))
    missing = sorted(set(want) - set(got))
    assert not missing, f"keys gone: {missing[:5]}"
    changed = {k: (want[k], got[k]) for k in want if got[k] != want[k]}
    assert not changed, f"numbers changed: {dict(list(changed.items())[:5])}"
