"""Results -> JSON (`--json`). Kept apart from render.py so that JSON output never imports rich.

The schemas are documented in the README ("JSON output"); keys are only ever added.
"""

from __future__ import annotations

import json

from llm_budget.model.counter import ParamCount
from llm_budget.model.spec import ClosedModel, ModelSpec


def params_json(spec: ModelSpec, count: ParamCount) -> str:
    data = count.model_dump(mode="json")  # published_params included
    data["spec"] = spec.model_dump(mode="json", exclude_none=True)
    return json.dumps(data, indent=2, ensure_ascii=False)


def presets_json(rows: list[tuple[ModelSpec, ParamCount]], closed: list[ClosedModel]) -> str:
    data = {
        "presets": [
            {
                "name": s.name,
                "display_name": s.display_name,
                "family": s.family,
                "total": c.total,
                "active": c.active,
                "published_params": s.published_params,
                "context_window": s.context_window,
                "source": s.source,
            }
            for s, c in rows
        ],
        "unpublished": [m.model_dump(mode="json") for m in closed],
    }
    return json.dumps(data, indent=2, ensure_ascii=False)
