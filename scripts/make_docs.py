"""Regenerate the generated pages of docs/, or check that they are current.

    python scripts/make_docs.py accuracy   # docs/accuracy.md from the probe's results, probe-results/*.json
    python scripts/make_docs.py cli        # docs/cli.md from the typer app (every command, every option)
    python scripts/make_docs.py check      # exit 1 when either page differs from what its generator writes

Both generators are pure functions of files in the checkout (no clock, no machine details), so
tests/test_docs.py can run them in-process and compare with the pages on disk.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # document this checkout's package, not whatever is installed
    sys.path.insert(0, str(ROOT))

RESULTS_DIR = ROOT / "probe-results"
EXACT = ("weights", "optimizer states", "gradients", "KV cache")
"""Rows the probe holds to the byte (to the allocator's 512-byte blocks on CUDA): llm_budget/probe/run.py."""


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _cell(text: str) -> str:
    """One markdown table cell: one line, rich's escaped brackets plain, pipes escaped."""
    return " ".join(text.split()).replace("\\[", "[").replace("|", "\\|")


def _table(header: list[str], rows: Iterable[list[str]], right_from: int = 0) -> list[str]:
    align = ["---:" if i >= right_from > 0 else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


# -- docs/accuracy.md ---------------------------------------------------------------------------------------------


def _model_kind(report: dict[str, Any]) -> str:
    return "transformers" if report.get("settings", {}).get("implementation") == "hf" else "reference model"


def _family(report: dict[str, Any]) -> str:
    """The architecture a matrix case belongs to: the first word of its name ("llama-gqa bf16-mixed …")."""
    case = report.get("case") or report.get("model") or "?"
    return str(case).split()[0]


def _row_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    errors = [abs(r["error"]) for r in rows if r.get("error") is not None]
    return {
        "n": len(rows),
        "passed": sum(bool(r.get("ok")) for r in rows),
        "equal": sum(r.get("measured_bytes") == r["estimate_bytes"] for r in rows),
        "median": statistics.median(errors) if errors else None,
        "max": max(errors) if errors else None,
    }


def _quantity_table(reports: list[dict[str, Any]]) -> list[str]:
    """One line per (phase, quantity, model): how many cases, how many to the byte, median and max |error|."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for rep in reports:
        for row in rep["rows"]:
            groups.setdefault((row["phase"], row["component"], _model_kind(rep)), []).append(row)
    order = {"train": 0, "infer": 1}
    out = []
    for phase, component, kind in sorted(groups, key=lambda k: (order.get(k[0], 2), k[2] != "reference model")):
        s = _row_stats(groups[(phase, component, kind)])
        med = "–" if s["median"] is None else _pct(s["median"])
        mx = "–" if s["max"] is None else _pct(s["max"])
        out.append(
            [
                phase,
                component + (" (exact)" if component in EXACT else ""),
                kind,
                str(s["n"]),
                str(s["passed"]),
                str(s["equal"]),
                med,
                mx,
            ]
        )
    header = [
        "phase",
        "quantity",
        "model",
        "cases",
        "passed",
        "equal to the byte",
        "median \\|error\\|",
        "max \\|error\\|",
    ]
    return _table(header, out, right_from=3)


def _family_table(reports: list[dict[str, Any]]) -> list[str]:
    """One line per architecture and phase: the exact rows' tally, the forward's and the peak's largest error."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for rep in reports:
        phase = rep["rows"][0]["phase"] if rep["rows"] else "?"
        groups.setdefault((_family(rep), _model_kind(rep), phase), []).append(rep)
    out = []
    for family, kind, phase in sorted(groups, key=lambda k: (k[2] != "train", k[1] != "reference model", k[0])):
        reps = groups[(family, kind, phase)]
        rows = [r for rep in reps for r in rep["rows"]]
        exact = _row_stats([r for r in rows if r["component"] in EXACT])
        forward = _row_stats([r for r in rows if r["component"].startswith("forward")])
        peak = _row_stats([r for r in rows if r["component"].endswith("peak")])

        def mx(s: dict[str, Any]) -> str:
            return "–" if s["max"] is None else _pct(s["max"])

        def med(s: dict[str, Any]) -> str:
            return "–" if s["median"] is None else _pct(s["median"])

        out.append(
            [
                family,
                kind,
                phase,
                str(len(reps)),
                str(sum(bool(r.get("passed")) for r in reps)),
                f"{exact['equal']} of {exact['n']}",
                mx(forward),
                med(peak),
                mx(peak),
            ]
        )
    header = [
        "architecture",
        "model",
        "phase",
        "cases",
        "passed",
        "exact rows equal",
        "forward max \\|error\\|",
        "peak median \\|error\\|",
        "peak max \\|error\\|",
    ]
    return _table(header, out, right_from=3)


def _results_section(path: Path, data: dict[str, Any]) -> list[str]:
    reports = [r for r in data.get("reports", []) if r.get("rows")]
    first = reports[0] if reports else {}
    path_kind = data.get("path", first.get("path", "?"))
    device = data.get("device", first.get("device", "?"))
    torch_version = data.get("torch_version", first.get("torch_version", "?"))
    passed = sum(bool(r.get("passed")) for r in reports)
    lines = [
        f"## `{path.relative_to(ROOT).as_posix()}`",
        "",
        f"{len(reports)} cases, {passed} passed · measured by the `{path_kind}` path on `{device}` · torch {torch_version}",
        "",
        "By quantity:",
        "",
        *_quantity_table(reports),
        "",
        "By architecture (peak: the training step's peak, or the prefill peak for inference):",
        "",
        *_family_table(reports),
        "",
    ]
    return lines


ACCURACY_HEADER = """\
<!-- Generated by `python scripts/make_docs.py accuracy` from probe-results/*.json. Do not edit by hand. -->
# Accuracy: the estimates against PyTorch

[README](../README.md) · [probe](probe.md) · [memory](memory.md)

Every number below comes from the probe's committed results in [`probe-results/`](../probe-results/):
`llm-budget probe` builds the model, runs a real training step (or prefill and decode), measures what
PyTorch allocates and stores, per case, the accountant's estimate and the measurement of each quantity
(see [probe](probe.md) for the paths: `cuda`, `cpu`, `fake`). `error` is (estimate − measured) /
measured. Weights, gradients, optimizer states and the KV cache are held to the byte (to the CUDA
allocator's 512-byte blocks on a GPU); the forward's bytes and the peaks to `--tolerance` (5%).
"reference model" is the probe's own transformer (`llm_budget/probe/`), "transformers" is
Hugging Face's model class built from a config, compared with `memory --implementation hf`.
The `hf-*` architectures after GPT-2, Llama and Mixtral are the families of 2025-26 (issue 10: MoE with
shared experts, MLA, sliding/chunked layers, attention sinks, partial rotary, parallel and post-norm
blocks), probed in bf16 mixed and pure precision, AdamW, with and without full checkpointing, SDPA
(gpt-oss: eager, the only attention transformers gives it).

To refresh: rerun the probe (`llm-budget probe --matrix --fake --out probe-results/fake-matrix.json`,
or `scripts/gpu_probe.sh` on a GPU), then `python scripts/make_docs.py accuracy`.
`python scripts/make_docs.py check` (and `tests/test_docs.py`) fail while this page is stale.
"""


def accuracy_page(results_dir: Path = RESULTS_DIR) -> str:
    lines = [ACCURACY_HEADER]
    files = sorted(results_dir.glob("*.json"))
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("reports"):
            lines += _results_section(path, data)
    if len(lines) == 1:
        lines.append("No probe results with per-case reports are committed yet.\n")
    return "\n".join(lines).rstrip("\n") + "\n"


# -- docs/cli.md --------------------------------------------------------------------------------------------------


def _type_of(param: Any, ctx: Any) -> str:
    """The value an option takes: its choices, "flag", or the type's name. Works with click's parameters
    (`param.type`) and with the click that typer vendors (`param.display_type(ctx)`, e.g. "<gb|gib>")."""
    if getattr(param, "is_flag", False):
        return "flag"
    if hasattr(param, "display_type"):
        label = str(param.display_type(ctx)).strip("<>")
        choices = label.split("|") if "|" in label else None
    else:
        choices = list(getattr(param.type, "choices", None) or []) or None
        label = str(getattr(param.type, "name", param.type))
    if choices:
        return " \\| ".join(f"`{getattr(c, 'value', c)}`" for c in choices)
    return label


def _default_of(param: Any) -> str:
    default = param.default
    if getattr(param, "required", False):
        return "required"
    if callable(default):
        return "(computed)"
    if default is None or (getattr(param, "is_flag", False) and default is False):
        return "–"
    if isinstance(default, (list, tuple)):
        return ", ".join(f"`{getattr(d, 'value', d)}`" for d in default) or "–"
    return f"`{getattr(default, 'value', default)}`"


def _options_table(command: Any, ctx: Any) -> list[str]:
    rows = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if getattr(param, "param_type_name", "") == "argument":
            names = f"`{str(param.name).upper()}` (argument)"
        else:
            names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        rows.append([names, _type_of(param, ctx), _default_of(param), _cell(getattr(param, "help", None) or "")])
    if not rows:
        return ["No options."]
    return _table(["option", "type", "default", "help"], rows)


def _subcommands(group: Any, ctx: Any) -> list[tuple[str, Any, Any]]:
    """(name, command, its context) for each visible subcommand of a group, by name; [] for a plain command."""
    if not hasattr(group, "list_commands"):
        return []
    out = []
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        if command is not None and not getattr(command, "hidden", False):
            out.append((name, command, command.context_class(command, parent=ctx, info_name=name)))
    return out


def _command_sections(command: Any, ctx: Any, path: str) -> list[str]:
    lines = [f"## `{path}`", ""]
    if command.help:
        lines += ["\n\n".join(" ".join(par.split()) for par in command.help.strip().split("\n\n")), ""]
    lines += [f"Usage: `{path} {' '.join(command.collect_usage_pieces(ctx))}`", ""]
    lines += _options_table(command, ctx) + [""]
    for name, sub, sub_ctx in _subcommands(command, ctx):
        lines += _command_sections(sub, sub_ctx, f"{path} {name}")
    return lines


CLI_HEADER = """\
<!-- Generated by `python scripts/make_docs.py cli` from the typer app (llm_budget.cli). Do not edit by hand. -->
# Command-line reference

[README](../README.md) · [JSON output](json.md)

Every command and every option, as `llm-budget COMMAND --help` lists them. The pages per command
(linked from the [README](../README.md)) explain what the numbers mean.
"""


def cli_page() -> str:
    import typer
    import typer.main

    from llm_budget.cli import app  # every command registered

    root = typer.main.get_command(cast(typer.Typer, app))
    ctx = root.context_class(root, info_name="llm-budget")
    lines = [CLI_HEADER]
    if root.help:
        lines += [" ".join(root.help.split()), ""]
    for name, command, command_ctx in _subcommands(root, ctx):
        lines += _command_sections(command, command_ctx, f"llm-budget {name}")
    return "\n".join(lines).rstrip("\n") + "\n"


# -- entry point --------------------------------------------------------------------------------------------------

GENERATED: dict[str, tuple[Path, Callable[[], str]]] = {
    "accuracy": (ROOT / "docs" / "accuracy.md", accuracy_page),
    "cli": (ROOT / "docs" / "cli.md", cli_page),
}


def stale_pages() -> list[str]:
    """The generated pages whose file on disk differs from what their generator writes now."""
    out = []
    for name, (path, generate) in GENERATED.items():
        if not path.exists() or path.read_text(encoding="utf-8") != generate():
            out.append(name)
    return out


def main(argv: list[str]) -> int:
    what = argv[0] if argv else ""
    if what in GENERATED:
        path, generate = GENERATED[what]
        path.write_text(generate(), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if what == "check":
        stale = stale_pages()
        for name in stale:
            print(
                f"{GENERATED[name][0].relative_to(ROOT)} is stale: run `python scripts/make_docs.py {name}`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    print(f"usage: python scripts/make_docs.py {{{'|'.join([*GENERATED, 'check'])}}}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
