"""Every source a formula cites is registered, so --explain can always name it."""

from llm_budget.model.counter import count_params
from llm_budget.model.presets import all_presets
from llm_budget.refs import REFERENCES, cite, describe


def test_every_component_source_resolves():
    for spec in all_presets():
        for c in count_params(spec).components:
            assert describe(c.source)  # raises KeyError for an unregistered key


def test_unregistered_keys_are_caught():
    import pytest

    with pytest.raises(KeyError):
        cite("nobody2099: Table 9")


def test_references_have_titles_and_links():
    for key, ref in REFERENCES.items():
        assert ref.title
        assert key == "lecture" or ref.url.startswith("https://"), key
