"""The lecture's rule of thumb: bytes per parameter only, independent of batch, sequence and architecture."""

from __future__ import annotations

from llm_budget.errors import LLMBudgetError
from llm_budget.hardware import Precision
from llm_budget.memory.report import MemoryLine, MemoryReport, Phase
from llm_budget.refs import cite

LECTURE_BYTES = {"weights": 4, "adam": 8, "gradients": 4, "activations": 8}  # per parameter at FP32


def rule_of_thumb(n_params: int, precision: Precision = Precision.fp32) -> MemoryReport:
    """The lecture's table: 4 bytes/param to store, 4 + 8 + 4 + 8 = 24 to train at FP32.

    Formula: weights = N·b, Adam = N·8 (two FP32 states), gradients = N·b, activations and
             temporaries = N·2b (the lecture's high-end estimate), where b = bytes of the precision
             (4 at FP32); store = N·b, train = N·(4b + 8), i.e. 24·N at FP32.
    Source:  lecture: "Computational Challenges" (bytes per parameter; 1B → 4 GB / 24 GB;
             175B → 4,200 GB; 500B → 12,000 GB), after the DeepLearning.AI course it cites.
    """
    if not precision.is_float and precision not in (Precision.int8,):
        raise LLMBudgetError(
            f"the rule of thumb scales by whole bytes per value; use fp32, fp16, bf16, fp8 or int8, not {precision.value}"
        )
    scale = (precision.bits // 8) / 4
    rows = [
        ("Model parameters (weights)", LECTURE_BYTES["weights"] * scale, "N × bytes per value"),
        ("Adam optimizer (2 states)", LECTURE_BYTES["adam"], "N × 2 × 4 (FP32 moments at any precision)"),
        ("Gradients", LECTURE_BYTES["gradients"] * scale, "N × bytes per value"),
        (
            "Activations and temp memory",
            LECTURE_BYTES["activations"] * scale,
            "N × 2 × bytes per value (high-end estimate)",
        ),
    ]
    lines = [
        MemoryLine(
            name=name,
            bytes=int(n_params * per_param),
            bytes_per_param=per_param,
            formula=formula,
            source=cite("lecture: Computational Challenges"),
        )
        for name, per_param, formula in rows
    ]
    total = sum(line.bytes for line in lines)
    return MemoryReport(
        mode="rule-of-thumb",
        model=f"{n_params:,} parameters",
        params=n_params,
        trainable_params=n_params,
        precision=precision.value,
        recipe="lecture rule of thumb",
        total_bytes=total,
        components=lines,
        peak_phase="training",
        phases=[Phase(name="store (weights only)", bytes=lines[0].bytes), Phase(name="train", bytes=total)],
        assumptions=[
            "The lecture's rule of thumb: bytes per parameter only, independent of batch, sequence and architecture.",
            "Adam's two states stay FP32 (8 bytes/param) at every precision; weights, gradients and activations scale with the precision's bytes.",
            (
                "Activations and temporaries as 2× the weight bytes is the lecture's high-end estimate; give a model "
                "(--preset …) for the real activations of a batch and sequence."
            ),
            "GB = 10^9 bytes, as in the lecture.",
        ],
    )
