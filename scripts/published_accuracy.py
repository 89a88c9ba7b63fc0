"""Regenerate docs/accuracy-published.md: peak memory that training frameworks published, beside `llm-budget memory`.

    python scripts/published_accuracy.py           # write docs/accuracy-published.md
    python scripts/published_accuracy.py --check   # exit 1 when the page differs from what this script writes

The cases are data (benchmarks/published/cases.yaml): each names its source (URL and the commit read), the
framework, the model (a preset), every setting, and the published figure with its kind (allocated, reserved,
nvidia-smi, not stated) and unit. Each case runs through the CLI as a user would (`llm-budget memory ... --json`,
in-process); the figure compared is the JSON's `total_bytes` (our peak of torch.cuda.max_memory_allocated).
A case's `wanted` items are the options that would express what the CLI cannot yet: each is tried, and kept when
the CLI accepts it (and, for LoRA, still trains adapters only); the rest are flagged "not expressible yet".
Nothing is fitted to the cases. Pure function of the checkout: no clock, no network, no cache.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import typer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from llm_budget.cli import app  # noqa: E402
from llm_budget.cli import memory as memory_cli  # noqa: E402
from llm_budget.hardware import load_gpu  # noqa: E402
from llm_budget.memory.usable import usable_memory  # noqa: E402

CASES_FILE = ROOT / "benchmarks" / "published" / "cases.yaml"
PAGE = ROOT / "docs" / "accuracy-published.md"
UNITS = {"GB": 10**9, "GiB": 2**30}
KINDS = {
    "allocated": "torch.cuda.max_memory_allocated",
    "reserved": "torch.cuda.max_memory_reserved",
    "nvidia-smi": "nvidia-smi (process memory, with the CUDA context)",
    "not-stated": "not stated by the source",
}
METHODS = ("full", "lora", "qlora", "inference")
METHOD_NAMES = {"full": "full fine-tune", "lora": "LoRA", "qlora": "QLoRA", "inference": "inference"}
LORA_METHODS = ("lora", "qlora")
LOGITS = "Logits and loss"  # the JSON component that chunked cross-entropy would shrink


def _alternatives(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A wanted item's option sets, tried in order (`set` is one mapping or a list of them)."""
    return item["set"] if isinstance(item["set"], list) else [item["set"]]


def _options(item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted({name for alt in _alternatives(item) for name in alt}))


def load(path: Path = CASES_FILE) -> dict[str, Any]:
    """The case file, with each group's settings, flags and wanted options merged into its cases."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = []
    for group in data["groups"]:
        for row in group["cases"]:
            wanted = {_options(w): w for w in group.get("wanted", [])}
            wanted.update({_options(w): w for w in row.get("wanted", [])})  # a case's own item replaces
            cases.append(
                dict(
                    name=row["name"],
                    model=row["model"],
                    source=group["source"],
                    table=group["table"],
                    method=group["method"],
                    gpu=group["gpu"],
                    config=row.get("config"),
                    settings={**group.get("settings", {}), **row.get("settings", {})},
                    flags={**group.get("flags", {}), **row.get("flags", {})},
                    wanted=list(wanted.values()),
                    published=row["published"],
                    trainable=row.get("trainable"),
                )
            )
    return dict(sources=data["sources"], cases=cases, excluded=data.get("excluded", []))


def argv(flags: dict[str, Any]) -> list[str]:
    """Options as the user types them: `--name value`, or a bare `--switch` for true."""
    out: list[str] = []
    for name, value in flags.items():
        if value is True:
            out.append(name)
        elif value is not False and value is not None:
            out += [name, str(value)]
    return out


def command_line(case: dict[str, Any], flags: dict[str, Any]) -> str:
    return " ".join(["llm-budget memory --preset", case["model"], *argv(flags)])


_OPTIONS: set[str] = set()


def known_options() -> set[str]:
    """The option names `llm-budget memory` has today (read from the command, so new options count at once)."""
    if not _OPTIONS:
        command = typer.main.get_command(memory_cli.app)
        for param in command.params:
            _OPTIONS.update(getattr(param, "opts", []) + getattr(param, "secondary_opts", []))
    return _OPTIONS


def run(model: str, flags: dict[str, Any]) -> tuple[int, Optional[dict[str, Any]], str]:
    """`llm-budget memory --preset MODEL ... --json` in-process: (exit code, parsed JSON or None, stderr)."""
    result = CliRunner().invoke(app, ["memory", "--preset", model, *argv(flags), "--json"])
    if result.exit_code != 0:
        return result.exit_code, None, result.stderr.strip()
    return 0, json.loads(result.stdout), ""


def _honoured(case: dict[str, Any], out: dict[str, Any]) -> bool:
    """A LoRA case must still train adapters only (issue 12: `--recipe pure --lora-rank` trains the whole model)."""
    return case["method"] not in LORA_METHODS or out["trainable_params"] < out["params"]


def evaluate(case: dict[str, Any], sources: dict[str, Any]) -> dict[str, Any]:
    """Our peak for one case: the expressible options, each wanted option the CLI accepts, and what is missing."""
    flags = dict(case["flags"])
    code, out, err = run(case["model"], flags)
    if code != 0 or out is None:
        raise SystemExit(f"{case['name']}: the case's own options fail: {err}")
    missing: list[str] = []
    lacking: list[dict[str, Any]] = []  # the wanted items not expressed, for the page's count by option
    for item in case["wanted"]:
        note = ""
        for options in _alternatives(item):
            if not set(options) <= known_options():
                continue
            trial = {k: v for k, v in flags.items() if k not in item.get("unset", [])} | options
            code, got, _ = run(case["model"], trial)
            if code == 0 and got is not None and _honoured(case, got):
                flags, out = trial, got
                break
            if code == 0:
                note = f" (`{' '.join(argv(options))}` is accepted but trains every weight)"
        else:
            missing.append(item["what"] + note)
            lacking.append(item)
    unit = sources[case["source"]]["unit"]
    ours = out["total_bytes"]
    result = dict(
        case=case,
        flags=flags,
        ours=ours,
        unit=unit,
        missing=missing,
        lacking=lacking,
        trainable=out["trainable_params"],
        components={c["name"]: c["bytes"] for c in out["components"]},
    )
    if is_oom(case):  # memory/usable.py: the card's total less the CUDA context and the fragmentation margin
        result["usable"] = usable_memory(load_gpu(case["gpu"])).usable_bytes
    else:
        published = case["published"] * UNITS[unit]
        result |= dict(published=published, error=(ours - published) / published)
    return result


def is_oom(case: dict[str, Any]) -> bool:
    """A published row that ran out of memory on its GPU (no figure: ours should not fit the card)."""
    return bool(case["published"] == "OOM")


def summary(results: list[dict[str, Any]]) -> list[list[str]]:
    """Per method: cases, median and worst |error|, median signed error."""
    rows = []
    for method in METHODS:
        errs = [r for r in results if r["case"]["method"] == method]
        if not errs:
            continue
        worst = max(errs, key=lambda r: abs(r["error"]))
        rows.append(
            [
                METHOD_NAMES[method],
                str(len(errs)),
                f"{statistics.median(abs(r['error']) for r in errs):.1%}",
                f"{abs(worst['error']):.1%} ({worst['case']['name']})",
                f"{statistics.median(r['error'] for r in errs):+.1%}",
                str(sum(1 for r in errs if r["missing"])),
            ]
        )
    every = [abs(r["error"]) for r in results]
    rows.append(["all", str(len(results)), f"{statistics.median(every):.1%}", f"{max(every):.1%}", "", ""])
    return rows


def _missing_counts(results: list[dict[str, Any]]) -> list[list[str]]:
    """How many cases lack each setting the CLI cannot express yet (by the options that would express it)."""
    counts: dict[str, int] = {}
    settings: dict[str, str] = {}
    for r in results:
        for item in r["lacking"]:
            key = " or ".join(f"`{' '.join(argv(alt))}`" for alt in _alternatives(item))
            counts[key] = counts.get(key, 0) + 1
            what = item["what"].split(" (")[0]
            settings[key] = min(settings.get(key, what), what, key=len)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [[settings[key], key, str(n)] for key, n in ranked]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def _oom_row(r: dict[str, Any]) -> list[str]:
    case, unit = r["case"], r["unit"]
    return [
        case["name"],
        case["source"],
        METHOD_NAMES[case["method"]],
        case["gpu"],
        f"{r['ours'] / UNITS[unit]:.2f} {unit}",
        f"{r['usable'] / UNITS[unit]:.2f} {unit}",
        "yes" if r["ours"] > r["usable"] else "**no**",
        "; ".join(r["missing"]) or "—",
    ]


def _case_row(r: dict[str, Any]) -> list[str]:
    case, unit = r["case"], r["unit"]
    logits = r["components"].get(LOGITS)
    return [
        case["name"],
        case["source"],
        METHOD_NAMES[case["method"]],
        f"{case['published']:.2f} {unit}",
        f"{r['ours'] / UNITS[unit]:.2f} {unit}",
        f"{r['error']:+.1%}",
        f"{logits / UNITS[unit]:.2f}" if logits else "—",
        "; ".join(r["missing"]) or "—",
    ]


UNMODELLED = [
    "**bitsandbytes' 4-bit layers at work** (QLoRA, NF4 inference): each matmul dequantizes its weight to a 16-bit "
    "copy (d_in × d_out) before the GEMM, and the autograd function keeps what its backward needs; "
    "bitsandbytes' absmax is FP32 per 64-value block, and double quantization (nf4-dq) stores it in 8 bits "
    "with a second FP32 scale per 256 blocks.",
    "**LoRA dropout**: `nn.Dropout` on each adapted layer's input saves a dropped copy (and its mask) of that "
    "input for the adapter's backward (litgpt: dropout 0.05; torchtune: 0.0, nothing saved).",
    "**Adapters in the base's dtype**: litgpt's `bf16-true` and torchtune's `dtype: bf16` keep the adapters, "
    "their gradients and AdamW states in bf16; our LoRA/QLoRA recipes keep them in FP32.",
    "**The loss as computed**: litgpt computes the head in 128-token chunks and `chunked_cross_entropy` on "
    "bf16 logits; torchtune's `CEWithChunkedOutputLoss` upcasts 8 chunks to FP32 one at a time; we count "
    "the whole batch × seq × vocab logits upcast to FP32 and their gradients.",
    "**LoRA target sets**: litgpt adapts q and v by default (and the output head in some configs); our "
    "`--lora-targets` has `all` (every linear layer of the blocks) and `attention` (q, k, v, o).",
    "**Paged optimizers** (bitsandbytes `PagedAdamW8bit` in torchtune's full fine-tune, `PagedAdamW` for "
    "litgpt's quantized LoRA): bitsandbytes allocates "
    "the states itself in CUDA unified memory (`cudaMallocManaged`), outside PyTorch's caching allocator, so "
    "they are not in `max_memory_allocated` at all (they are in `nvidia-smi` while resident); we count them "
    "as device memory.",
    "**torch.compile** (torchtune's rows): fused kernels save fewer intermediate tensors than eager PyTorch.",
    "**The CUDA context, cuBLAS workspaces and the allocator's cache**: not in `max_memory_allocated`, so "
    "not in these comparisons either (they are in what `nvidia-smi` shows).",
]


def _case_detail(r: dict[str, Any]) -> str:
    """One case as a list item: source, config, every setting, the figure, the command run and our terms."""
    case, unit = r["case"], r["unit"]
    settings = "; ".join(f"{k}: {v}" for k, v in case["settings"].items())
    figure = "out of memory" if is_oom(case) else f"{case['published']} {unit}"
    trainable = (
        f"; trainable parameters published {case['trainable']:,}, ours {r['trainable']:,}" if case["trainable"] else ""
    )
    terms = ", ".join(
        f"{name} {b / UNITS[unit]:.2f}" for name, b in r["components"].items() if b / UNITS[unit] >= 0.005
    )
    config = f"; {case['config']}" if case["config"] else ""
    return (
        f"- **{case['name']}** ({case['source']}, table '{case['table']}'{config}): {settings}; GPU {case['gpu']}. "
        f"Published {figure}{trainable}. Run: `{command_line(case, r['flags'])}`; ours by term: {terms} {unit}."
    )


INTRO = (
    "Peak GPU memory that training frameworks published for their own runs, beside what `llm-budget memory` "
    "computes for the same setup, typed as a user would. Each case records its source (and the commit "
    "read), the framework's settings, and what the published figure is. Error = (ours − published) / "
    "published. No factor is fitted to these cases: every term we count is a tensor someone allocates, and "
    "what the frameworks allocate that we do not count is listed below. Where the CLI cannot express a "
    "setting yet, the case runs with the nearest options it has and says what is missing; the case file "
    "holds the intended options, tried on every run, so the page changes as soon as they exist."
)


def _results_section(evaluated: list[dict[str, Any]]) -> list[str]:
    """Summary by method, the cases, what the CLI lacks, and the out-of-memory rows."""
    results = [r for r in evaluated if not is_oom(r["case"])]
    ooms = [r for r in evaluated if is_oom(r["case"])]
    return [
        "## Summary",
        "",
        *_table(
            ["Method", "Cases", "Median \\|error\\|", "Worst \\|error\\|", "Median error", "Not fully expressible"],
            summary(results),
        ),
        "",
        "## Cases",
        "",
        *_table(
            ["Case", "Source", "Method", "Published", "Ours", "Error", "Ours: logits and loss", "Not expressible yet"],
            [_case_row(r) for r in results],
        ),
        "",
        "## What the CLI cannot express yet",
        "",
        "Each setting below was run with the nearest options the CLI has; the count is of the cases above "
        "(and the out-of-memory rows) that need it; the options are the names the case file tries (a guess until "
        "they exist: rename them there).",
        "",
        *_table(["Setting", "Options that would express it", "Cases"], _missing_counts(evaluated)),
        "",
        "## Rows that ran out of memory",
        "",
        "Rows the sources report as out of memory on their card. Ours should not fit: 'Agrees' is yes when our "
        "peak exceeds the card's usable memory as `llm-budget fit` counts it (the driver's total less 1.25 GiB "
        "of CUDA context and a 5% fragmentation margin, memory/usable.py).",
        "",
        *_table(
            ["Case", "Source", "Method", "GPU", "Ours", "Usable on the card", "Agrees", "Not expressible yet"],
            [_oom_row(r) for r in ooms],
        ),
        "",
    ]


def page() -> str:
    data = load()
    evaluated = [evaluate(case, data["sources"]) for case in data["cases"]]
    lines = [
        "<!-- Generated by scripts/published_accuracy.py from benchmarks/published/cases.yaml: do not edit. -->",
        "# Accuracy against published measurements",
        "",
        "[README](../README.md) · [memory](memory.md) · [accuracy against PyTorch](accuracy.md) · "
        "regenerate: `python scripts/published_accuracy.py`",
        "",
        INTRO,
        "",
        *_results_section(evaluated),
        "## What the frameworks allocate that we do not model",
        "",
        *[f"- {item}" for item in UNMODELLED],
        "",
        "## Sources",
        "",
    ]
    for key, src in data["sources"].items():
        lines.append(
            f"- **{key}**: [{src['title']}]({src['url']}), read at {src['read_at']}. Measured with "
            f"{src['framework']}; scripts: {src['scripts']}. Figure: {src['figure']} — kind: "
            f"{KINDS[src['kind']]}, unit {src['unit']}."
        )
    lines += ["", "## Each case: settings and the command run", "", *[_case_detail(r) for r in evaluated]]
    lines += ["", "## Rows left out", ""]
    lines += [f"- {x['source']}: {x['rows']} — {x['why']}." for x in data["excluded"]]
    lines.append("")
    return "\n".join(lines)


def main(args: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if args is None else args
    text = page()
    if "--check" in args:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run `python scripts/published_accuracy.py`")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
