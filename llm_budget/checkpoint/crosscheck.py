"""The checkpoint's logical parameters against the exact counter, row by row.

A fused tensor ("Query+Key+Value", "Gate+Up-projection") is compared with the sum of the rows it fuses;
"Other" (tensors no rule names: an extra head, a vision tower, MTP layers) has no counter row.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, computed_field

from llm_budget.checkpoint.table import TensorTable
from llm_budget.model.counter import ParamCount


class RowCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    component: str
    checkpoint: int  # logical parameters in the checkpoint
    counter: int  # the counter's count for the same row(s)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def difference(self) -> int:
        return self.checkpoint - self.counter


class CrossCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows: list[RowCheck]
    checkpoint: int
    counter: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def difference(self) -> int:
        return self.checkpoint - self.counter

    @property
    def differing(self) -> list[RowCheck]:
        return [r for r in self.rows if r.difference]


def cross_check(table: TensorTable, count: ParamCount) -> CrossCheck:
    rows, seen = [], set()
    for c in table.components:
        parts = c.component.split("+")
        seen.update(parts)
        rows.append(RowCheck(component=c.component, checkpoint=c.params, counter=sum(count.get(p) for p in parts)))
    for comp in count.components:
        if comp.name not in seen and comp.count:
            rows.append(RowCheck(component=comp.name, checkpoint=0, counter=comp.count))
    return CrossCheck(rows=rows, checkpoint=table.total_params, counter=count.total)
