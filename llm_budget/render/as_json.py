"""Results -> JSON (`--json`). Kept apart from render.py so that JSON output never imports rich.

The schemas are documented in the README ("JSON output"); keys are only ever added.
"""

from __future__ import annotations

import json

from llm_budget.model.counter import ParamCount
from llm_budget.model.spec import ModelSpec


def params_json(spec: ModelSpec, count: ParamCount) -> str:
    data = count.model_dump(mode="json")  # published_params included
    data["spec"] = spec.model_dump(mode="json", exclude_none=True)
    return json.dumps(data, indent=2, ensure_ascii=False)
