"""The checkpoint's logical parameters against the exact counter, row by row.

A fused tensor ("QKV (fused)", "Gate+Up (fused)": model/hf/names.py FUSED) is compared with the sum of the rows
it fuses; "Other" (tensors no rule names: an extra head, a vision tower) has no counter row. Multi-token-
prediction blocks, which the counter keeps apart (ParamCount.mtp_params), are added to the rows they sit in,
since the checkpoint ships them (model/inventory.py mtp_tensors).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, computed_field

from llm_budget.checkpoint.table import TensorTable
from llm_budget.model.counter import ParamCount
from llm_budget.model.hf.names import FUSED
from llm_budget.model.inventory import mtp_tensors
from llm_budget.model.spec import ModelSpec


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


def cross_check(table: TensorTable, count: ParamCount, spec: ModelSpec | None = None) -> CrossCheck:
    """Row by row; with the spec, its MTP blocks join the counter's rows (the checkpoint ships them)."""
    counter = {c.name: c.count for c in count.components}
    if spec is not None:
        for t in mtp_tensors(spec):
            counter[t.component or "Other"] = counter.get(t.component or "Other", 0) + t.total
    fused: dict[str, tuple[str, ...]] = {str(k): tuple(v) for k, v in FUSED.items()}
    rows: list[RowCheck] = []
    seen: set[str] = set()
    for c in table.components:
        parts = fused.get(c.component, (c.component,))
        seen.update(parts)
        rows.append(RowCheck(component=c.component, checkpoint=c.params, counter=sum(counter.get(p, 0) for p in parts)))
    rows += [RowCheck(component=n, checkpoint=0, counter=v) for n, v in counter.items() if n not in seen and v]
    return CrossCheck(rows=rows, checkpoint=table.total_params, counter=sum(counter.values()))
