"""The README's examples, as argument lists. tests/test_golden.py runs each with --json and holds
every number to tests/golden/readme_examples.json, captured before the package-per-domain
restructuring (issue 9): a refactor may add keys and reword text, never change a number.
Regenerated once since, for issue 13's intended changes: fit's changes evaluated as the command they
name (llama3-70b: --gpus 32 --checkpointing full 51.72 -> 44.79 GB), 8-bit AdamW without foreach
temporaries (125.41 -> 121.74 GB), compute's single-GPU decode verdict equal to fit's (batch 64: fits
-> 2 GPUs), oom's bigger card chosen with the card's own attention kernel (L40S -> A100 40GB); and the
prefill workspace counting the token ids and rotary tables and no longer adding the last-position logits to
a block's temporaries (Llama 3 8B, batch 8 x 8,191: the estimate now equals the fake-tensor measurement,
31,902,047,680 bytes, to the byte; the int4 example's workspace 7,253,913,600 -> 7,252,475,904 bytes).

Regenerate only for an intended change of numbers, and say so in the commit:
    python tests/golden/examples.py > tests/golden/readme_examples.json
"""

from __future__ import annotations

OOM_LEGACY = (
    "RuntimeError: CUDA out of memory. Tried to allocate 200.00 MiB (GPU 0; 15.78 GiB total capacity; "
    "14.56 GiB already allocated; 38.44 MiB free; 14.80 GiB reserved in total by PyTorch)"
)

EXAMPLES: list[list[str]] = [
    ["params", "--preset", "gpt3-175b"],
    ["params", "--preset", "mixtral-8x7b"],
    ["params", "--preset", "llama3-8b"],
    [
        "params",
        "--d-embed",
        "4096",
        "--n-heads",
        "32",
        "--n-layers",
        "32",
        "--n-vocab",
        "32000",
        "--d-mlp",
        "11008",
        "--mlp",
        "gated",
    ],
    ["params", "--preset", "llama2-7b", "--n-layers", "16"],
    ["params", "--preset", "mistral-7b"],
    ["presets"],
    ["memory", "--params", "1e9"],
    [
        "memory",
        "--preset",
        "llama3-8b",
        "--mode",
        "train",
        "--precision",
        "bf16",
        "--optimizer",
        "adamw",
        "--batch",
        "4",
        "--seq",
        "8192",
        "--checkpointing",
        "full",
    ],
    ["memory", "--preset", "llama3-8b", "--mode", "infer", "--precision", "int4", "--batch", "8", "--context", "8192"],
    ["fit", "--params", "1e9", "--gpu", "a100-80gb", "--precision", "bf16"],
    [
        "fit",
        "--preset",
        "llama3-70b",
        "--gpu",
        "a100-80gb",
        "--gpus",
        "8",
        "--mode",
        "train",
        "--seq",
        "4096",
        "--batch",
        "1",
    ],
    ["fit", "--preset", "llama3-8b", "--gpu", "l4", "--mode", "infer"],
    ["gpus"],
    ["dtype", "3.141592"],
    ["dtype", "3.141592", "--absmax", "10"],
    ["dtype"],
    ["compute", "--preset", "llama3-8b", "--tokens", "15t", "--gpu", "h100-sxm", "--gpus", "1024", "--mfu", "0.4"],
    ["compute", "--params", "1e9", "--tokens", "20b", "--gpu", "v100-32gb", "--vs", "a100-80gb"],
    [
        "compute",
        "--params",
        "65.2b",
        "--tokens",
        "1.4t",
        "--gpu",
        "a100-80gb",
        "--gpus",
        "2048",
        "--gpu-hours",
        "1022362",
    ],
    ["scale", "--flops", "5.76e23"],
    ["scale", "--gpu", "a100-80gb", "--gpus", "1024", "--days", "30", "--mfu", "0.4"],
    ["scale", "--budget-usd", "1e6", "--gpu", "h100-sxm"],
    ["scale", "--params", "7b", "--flops", "1e23", "--fit", "epoch"],
    ["oom", OOM_LEGACY],
    ["oom", OOM_LEGACY, "--preset", "gpt2-124m", "--batch", "16", "--seq", "1024"],
]


def run_json(argv: list[str]) -> object:
    """One example through the typer app, with --json; the parsed output."""
    import json

    from typer.testing import CliRunner

    from llm_budget.cli import app

    result = CliRunner().invoke(app, [*argv, "--json"])
    assert result.exit_code == 0, (argv, result.output)
    return json.loads(result.stdout)


if __name__ == "__main__":
    import json

    print(json.dumps([{"argv": argv, "json": run_json(argv)} for argv in EXAMPLES], indent=1, ensure_ascii=False))
