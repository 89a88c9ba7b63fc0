"""The range table of `llm-budget dtype`: range and precision of every format.

Float limits come from `llm_budget.hardware.float_limits` (ieee754, bfloat16, micikevicius2022),
integer ranges from jacob2018, the NF4 levels from dettmers2023.
"""

from __future__ import annotations

import math
from typing import Any

from llm_budget.dtypes.decimals import exact_decimal
from llm_budget.dtypes.floats import FLOAT_SOURCES, layout, max_finite
from llm_budget.dtypes.integers import INT_SOURCE, int_range
from llm_budget.dtypes.nf4 import NF4_BLOCK, NF4_CODES, NF4_SOURCE
from llm_budget.dtypes.results import DtypeTable, FormatInfo
from llm_budget.hardware import FORMATS, Precision, float_limits


def format_info(p: Precision) -> FormatInfo:
    """Range and precision of one format."""
    f = FORMATS[p]
    common: dict[str, Any] = {
        "precision": p.value,
        "label": p.label,
        "description": f.description,
        "bits": f.bits,
        "bytes": f.bits / 8,
    }
    if p.is_float:
        return _float_info(p, common)
    if p.is_integer:
        return _int_info(p, common)
    return _nf4_info(common)


def _float_info(p: Precision, common: dict[str, Any]) -> FormatInfo:
    lay = layout(p)
    lim = float_limits(p)
    assert lim is not None
    e_top, _ = lay.max_field
    frac_drop = lay.fraction_bits - (0 if lay.has_inf else 1)  # E4M3's top binade stops one code short
    top = f"{int(max_finite(p)):,}"
    if lay.has_inf:
        specials = "±inf: exponent all ones, fraction 0; NaN: exponent all ones, fraction ≠ 0"
        overflow = "±inf from max + ½ulp on (round to nearest, ties to even)"
    else:
        specials = "no inf; NaN: S.1111.111 only"
        overflow = f"NaN (OCP non-saturating; ±{top} with satfinite: --saturate)"
    if p == Precision.fp8_e5m2:
        overflow = f"±inf (OCP non-saturating; ±{top} with satfinite: --saturate)"
    return FormatInfo(
        **common,
        sign_bits=1,
        exponent_bits=lay.exponent_bits,
        fraction_bits=lay.fraction_bits,
        exponent_bias=lay.bias,
        max=lim["max"],
        max_exact=exact_decimal(max_finite(p)),
        max_formula=f"(2 - 2^-{frac_drop}) × 2^{e_top - lay.bias}",
        min_normal=lim["min_normal"],
        min_subnormal=lim["min_subnormal"],
        epsilon=lim["epsilon"],
        decimal_digits=round((lay.fraction_bits + 1) * math.log10(2), 2),
        specials=specials,
        overflow=overflow,
        source=FLOAT_SOURCES[p],
    )


def _int_info(p: Precision, common: dict[str, Any]) -> FormatInfo:
    lo, hi = int_range(p)
    return FormatInfo(
        **common,
        sign_bits=1,
        exponent_bits=0,
        fraction_bits=0,
        int_min=lo,
        int_max=hi,
        absmax_qmax=hi,
        specials="none",
        overflow=f"clamped to {lo}..{hi} (absmax-scaled: ±{hi})",
        source=INT_SOURCE,
    )


def _nf4_info(common: dict[str, Any]) -> FormatInfo:
    return FormatInfo(
        **common,
        sign_bits=0,
        exponent_bits=0,
        fraction_bits=0,
        codes=list(NF4_CODES),
        block_size=NF4_BLOCK,
        specials="none",
        overflow="clipped to ±absmax (x / absmax beyond ±1 takes level ±1)",
        source=NF4_SOURCE,
    )


def dtype_table() -> DtypeTable:
    """Every format of `Precision`, in declaration order."""
    return DtypeTable(formats=[format_info(p) for p in Precision])
