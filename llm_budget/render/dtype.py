"""Rich tables for `llm-budget dtype`: the range table and one number in every format.

The results (llm_budget/dtypes/results.py) hold exact decimal strings; here long ones are shortened
for the table (the JSON keeps every digit) and the bit fields are coloured.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from rich.console import Group
from rich.table import Table
from rich.text import Text

from llm_budget.dtypes import DtypeTable, Encoding, NumberEncodings
from llm_budget.refs import describe

SIGN, EXPONENT, FRACTION = "red", "cyan", "green"
_STATUS_STYLE = {
    "exact": "green",
    "overflow": "bold red",
    "underflow": "yellow",
    "clamped": "yellow",
    "saturated": "yellow",
}


def shorten(exact: str, digits: int = 24) -> str:
    """An exact decimal string cut to `digits` significant digits, '…' marking the cut.

    Only digits after the decimal point are dropped (an integer part is kept whole), so the
    magnitude never changes: '123456.75' -> '123456…' at 3 digits.
    """
    body, _, exp = exact.rstrip("…").partition("e")
    count = sum(c.isdigit() for c in body.lstrip("-0."))
    if count <= digits and not exact.endswith("…"):
        return exact
    point = body.find(".")
    kept, seen, started = [], 0, False
    for i, c in enumerate(body):
        if c.isdigit() and (started or c != "0"):
            started = True
            seen += 1
        if seen > digits and point != -1 and i > point:
            break
        kept.append(c)
    cut = "".join(kept).rstrip(".")
    if cut == body and not exact.endswith("…"):
        return exact
    return cut + "…" + (f"e{exp}" if exp else "")


def _g(x: Optional[float]) -> str:
    if x is None:
        return "–"
    if x == 0:
        return "0"
    return f"{x:.3g}"


def _approx(exact: str) -> str:
    """An exact decimal string to 3 significant digits (shortened, not via float, past the double range)."""
    if exact == "0":
        return "0"
    x = float(exact.rstrip("…"))
    return _g(x) if 1e-300 < abs(x) < 1e300 else shorten(exact, 3)


def _bits(e: Encoding) -> Text:
    if e.sign is None or e.exponent is None or e.fraction is None:
        return Text(e.bits_grouped)
    t = Text()
    t.append(e.sign, style=SIGN)
    t.append(" ")
    t.append(e.exponent, style=EXPONENT)
    t.append(" ")
    t.append(e.fraction, style=FRACTION)
    return t


def short_note(e: Encoding) -> str:
    """A few words for the table's How column (the full sentence is `e.note`, in the JSON)."""
    if e.scheme == "float":
        return {
            "exact": "exact",
            "rounded": "nearest, ties even",
            "subnormal": "subnormal" + ("" if e.abs_error == "0" else ", rounded"),
            "underflow": "underflow to 0",
            "overflow": f"overflow: {e.stored_value.lstrip('-')}",
            "saturated": "saturated to max",
        }.get(e.status, e.status)
    if e.scheme == "integer":
        return {"exact": "exact", "rounded": f"round to {e.code}", "clamped": f"clamped to {e.code}"}.get(
            e.status, e.status
        )
    if e.scheme == "absmax":
        if e.scale is None:
            return "0 (absmax 0)"
        if math.isfinite(e.scale) and e.scale != 0:
            scale = f"{e.scale:.4g}"
        else:  # outside the double range
            scale = shorten(e.scale_exact or "0", 4)
        return f"q {e.code}, scale {scale}" + (" (clamped)" if e.status == "clamped" else "")
    if e.code is None:
        return e.status
    return f"level {e.code} × absmax" + (" (clamped)" if e.status == "clamped" else "")


def encodings_table(result: NumberEncodings, *, explain: bool = False) -> Group:
    """One row per format: bits (sign exponent fraction), exact stored value, errors, how."""
    origin = "given with --absmax" if result.absmax_given else "= |x|; set with --absmax"
    header = Text("x = ")
    header.append(shorten(result.value, 40), style="bold")
    if len(result.value_fraction) <= 40 and result.value_fraction != result.value:
        header.append(f" = {result.value_fraction}")
    header.append(" exactly")
    header.append(f" · absmax {shorten(result.absmax, 12)} ({origin})", style="dim")
    table = Table()
    table.add_column("Format", no_wrap=True)
    table.add_column(
        Text.assemble(("sign", SIGN), " ", ("exponent", EXPONENT), " ", ("fraction", FRACTION)), no_wrap=True
    )
    table.add_column("Stored value (exact)", no_wrap=True)
    table.add_column(Text.assemble("Abs error\n", ("relative", "dim")), justify="right", no_wrap=True)
    table.add_column("How")
    notes: list[Text] = []
    for e in result.encodings:
        stored = Text(shorten(e.stored_value, 20), style=_STATUS_STYLE.get(e.status, ""))
        err = Text("–" if e.abs_error is None else _approx(e.abs_error))
        err.append("\n" + ("–" if e.relative_error is None else _g(e.relative_error)), style="dim")
        table.add_row(e.label, _bits(e), stored, err, short_note(e))
        if explain:
            notes.append(Text(f"{e.label}: {e.note}. Source: {describe(e.source)}", style="dim"))
        elif e.status in ("overflow", "saturated", "clamped", "underflow"):
            notes.append(Text(f"{e.label}: {e.note}", style="dim"))
    lines: list[Any] = [header, table, *notes]
    if not explain:
        lines.append(
            Text(
                "Rounding: to nearest, ties to even (floats and integers). Absmax: q = round(x · qmax/absmax), stored "
                "q · absmax/qmax. NF4: nearest level to x/absmax, stored level · absmax. --json: every digit; --explain: sources.",
                style="dim",
            )
        )
    return Group(*lines)


def range_table(result: DtypeTable, *, explain: bool = False) -> Group:
    """Bytes, bit layout, range and precision of every format; the NF4 levels below."""
    table = Table(title="Number formats: range and precision", title_justify="left")
    table.add_column("Format", no_wrap=True)
    table.add_column("Bytes", justify="right", no_wrap=True)
    table.add_column(
        Text.assemble(("S", SIGN), "/", ("E", EXPONENT), "/", ("M", FRACTION)), justify="center", no_wrap=True
    )
    table.add_column("Bias", justify="right", no_wrap=True)
    table.add_column("Max finite", justify="right", no_wrap=True)
    table.add_column("Min normal", justify="right", no_wrap=True)
    table.add_column("Min subnormal", justify="right", no_wrap=True)
    table.add_column("Epsilon", justify="right", no_wrap=True)
    table.add_column("Digits", justify="right", no_wrap=True)
    nf4 = None
    for f in result.formats:
        size = f"{f.bytes:g}"
        if f.exponent_bits:
            layout = Text.assemble(
                (str(f.sign_bits), SIGN), "/", (str(f.exponent_bits), EXPONENT), "/", (str(f.fraction_bits), FRACTION)
            )
            largest = Text(f"{f.max:,.0f}" if f.max is not None and f.max < 1e6 else _g(f.max))
            largest.append(f"\n{f.max_formula}", style="dim")
            cells = []
            for log2, v in (
                (f.min_normal_log2, f.min_normal),
                (f.min_subnormal_log2, f.min_subnormal),
                (f.epsilon_log2, f.epsilon),
            ):
                c = Text(f"2^{log2}")
                c.append(f"\n{_g(v)}", style="dim")
                cells.append(c)
            row: list[Any] = [f.label, size, layout, str(f.exponent_bias), largest, *cells, f"{f.decimal_digits:.2f}"]
        elif f.int_min is not None:
            layout = Text.assemble((str(f.sign_bits), SIGN), f"+{f.bits - 1}")
            largest = Text(f"{f.int_max:,}")
            largest.append(f"\nmin {f.int_min:,}", style="dim")
            row = [f.label, size, layout, "–", largest, "–", "–", "1", "–"]
        else:
            nf4 = f
            row = [f.label, size, "index", "–", "absmax", "–", "–", "–", "–"]
        table.add_row(*row)
    lines: list[Any] = [table]
    dim = "dim"
    lines.append(
        Text(
            "S/E/M: sign, exponent and fraction bits (integers: 1 + 7 or 1 + 3 bits, two's complement). Epsilon: the gap "
            "between 1 and the next value, 2^-M. Digits: significant decimal digits, log10(2^(M+1)).",
            style=dim,
        )
    )
    top = {f.precision: f.max for f in result.formats}
    lines.append(
        Text(
            "Overflow: FP32, FP16, BF16 and FP8-E5M2 round to ±inf; FP8-E4M3 has no inf and gives NaN (OCP non-saturating "
            f"conversion; --saturate: ±{top['fp8-e4m3']:,.0f}, E5M2 ±{top['fp8-e5m2']:,.0f}). INT8/INT4 clamp to their range; "
            "absmax-scaled they store q · absmax/qmax with q in ±127 / ±7.",
            style=dim,
        )
    )
    if nf4 is not None and nf4.codes:
        codes = Text(
            f"NF4 levels (index 0..15), each × the absmax of its block of {nf4.block_size} values "
            f"(one more fp32 per block: +0.5 bit per value): "
        )
        codes.append(", ".join(repr(c) for c in nf4.codes), style=dim)
        lines.append(codes)
    if explain:
        lines += [
            Text(f"{f.label}: {f.description}. Source: {describe(f.source)}", style="dim") for f in result.formats
        ]
    return Group(*lines)
