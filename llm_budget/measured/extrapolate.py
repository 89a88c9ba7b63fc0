"""From a few probed blocks to the model's depth: the table at a depth, the layer period, the line through two points."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from llm_budget.model.inventory import ParamTensor, parameter_tensors
from llm_budget.model.spec import ModelSpec


def table_at(spec: ModelSpec, depth: int) -> list[ParamTensor]:
    """The parameter table with `depth` blocks (each block's rows scaled: copies per block × depth)."""
    return [t._replace(copies=t.copies // spec.n_layers * depth) if t.layer else t for t in parameter_tensors(spec)]


def layer_period(spec: ModelSpec, cfg: dict[str, Any]) -> int:
    """Blocks that repeat: the shortest period of the config's per-layer lists (GPT-Neo's global/local: 2)."""
    L, period = spec.n_layers, 1
    for value in cfg.values():
        if isinstance(value, list) and len(value) == L and L > 1:
            p = next(p for p in range(1, L + 1) if all(value[i] == value[i % p] for i in range(L)))
            period = max(period, p)
    return period


def probe_depths(spec: ModelSpec, cfg: dict[str, Any], depth: int) -> tuple[int, ...]:
    """The depths to probe: the whole model when it is at most three periods deep, else two and three periods
    (at two blocks or more, the first block differentiated is not also the last: training.py)."""
    p = layer_period(spec, cfg)
    return (depth,) if depth <= 3 * p else (2 * p, 3 * p)


def line(x: int, x1: int, y1: int, x2: int, y2: int) -> Fraction:
    """The line through (x1, y1) and (x2, y2) at x (y1 when the two points are one)."""
    return Fraction(y1) if x1 == x2 else y1 + Fraction(y2 - y1, x2 - x1) * (x - x1)


def probed(depths: tuple[int, ...], depth: int, batches: tuple[int, ...] = (), batch: int = 0) -> str:
    """What was run, for the output: "1 and 2 blocks at batch 1 and 2, extrapolated to 12 blocks, batch 8"."""
    if depths == (depth,) and (not batches or batches == (batch,)):
        return "the whole model"
    runs = f"{' and '.join(map(str, depths))} blocks" + (
        f" at batch {' and '.join(map(str, batches))}" if batches else ""
    )
    return f"{runs}, extrapolated to {depth} blocks" + (f", batch {batch}" if batches else "")
