"""The CLI as a user runs it: output, JSON schema, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llm_budget.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_params_gpt3_prints_the_lecture_table():
    r = run("params", "--preset", "gpt3-175b")
    assert r.exit_code == 0, r.output
    for number in ["617,558,016", "14,495,514,624", "57,982,058,496", "175,181,291,520"]:
        assert number in r.stdout
    for row in ["Embedding", "Key", "Query", "Value", "Output", "Up-projection", "Down-projection", "Unembedding"]:
        assert row in r.stdout
    assert "d_query × d_embed × n_heads × n_layers" in r.stdout
    assert "128 × 12,288 × 96 × 96" in r.stdout


def test_params_json_schema():
    r = run("params", "--preset", "llama3-8b", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["total"] == 8_030_261_248 and data["active"] == data["total"]
    assert isinstance(data["components"], list)
    for c in data["components"]:
        assert set(c) >= {"name", "formula", "count"}
        assert isinstance(c["count"], int) and isinstance(c["formula"], str)
    assert sum(c["count"] for c in data["components"]) == data["total"]
    assert data["spec"]["n_kv_heads"] == 8


def test_params_from_sizes():
    r = run(
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
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["total"] == 6_738_415_616  # Llama 2 7B


def test_params_hf_config(hf_dir: Path):
    r = run("params", "--hf-config", str(hf_dir / "mixtral-8x7b.json"), "--json")
    data = json.loads(r.stdout)
    assert (data["total"], data["active"]) == (46_702_792_704, 12_879_925_248)


def test_options_override_preset_fields():
    r = run("params", "--preset", "llama2-7b", "--n-layers", "16", "--json")
    data = json.loads(r.stdout)
    d, L, V, f = 4096, 16, 32000, 11008
    assert data["total"] == 2 * V * d + L * (4 * d * d + 3 * d * f + 2 * d) + d
    assert data["published_params"] is None  # the published count no longer applies


def test_moe_shows_active():
    r = run("params", "--preset", "mixtral-8x7b")
    assert "Active per token: 12,879,925,248" in r.stdout


def test_explain_shows_sources():
    r = run("params", "--preset", "mistral-7b", "--explain")
    assert "arxiv.org/abs/2305.13245" in r.stdout  # GQA paper for Key/Value


def test_presets_list_and_show():
    r = run("presets")
    assert r.exit_code == 0, r.output
    assert "llama3-70b" in r.stdout and "70,553,706,496" in r.stdout
    assert "gpt-4o" in r.stdout and "unpublished" in r.stdout
    r = run("presets", "--json")
    data = json.loads(r.stdout)
    assert any(p["name"] == "dbrx" for p in data["presets"])
    assert any(m["name"] == "claude-3-opus" and m["context_window"] == 200000 for m in data["unpublished"])
    r = run("presets", "show", "gemma-7b", "--json")
    assert json.loads(r.stdout)["d_head"] == 256


@pytest.mark.parametrize(
    "args, message",
    [
        (["params", "--preset", "llama3-8"], "unknown preset 'llama3-8'; did you mean llama3-8b"),
        (["params", "--preset", "gpt-4o"], "GPT-4o (OpenAI) has no published architecture"),
        (
            ["params", "--d-embed", "100", "--n-heads", "3", "--n-layers", "2", "--n-vocab", "10", "--d-mlp", "4"],
            "d_embed=100 is not divisible by n_heads=3",
        ),
        (
            ["params", "--d-embed", "-4096", "--n-heads", "32", "--n-layers", "2", "--n-vocab", "10", "--d-mlp", "4"],
            "--d-embed must be positive",
        ),
        (
            ["params", "--d-embed", "inf", "--n-heads", "32", "--n-layers", "2", "--n-vocab", "10", "--d-mlp", "4"],
            "--d-embed",
        ),
        (["params", "--preset", "llama2-7b", "--n-kv-heads", "5"], "n_heads=32 is not divisible by n_kv_heads=5"),
        (["params", "--d-embed", "64"], "no model given"),
        (["params", "--preset", "llama2-7b", "--hf-config", "x.json"], "not both"),
        (["params", "--hf-config", "/nonexistent/config.json"], "no such file"),
        (["params", "--preset", "./missing.yaml"], "no such file"),
        (["presets", "show", "nope-model"], "unknown preset"),
    ],
)
def test_bad_input_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stdout == ""


def test_malformed_files_exit_2(tmp_path: Path):
    bad_json = tmp_path / "config.json"
    bad_json.write_text('{"model_type": "llama",,}')
    r = run("params", "--hf-config", str(bad_json))
    assert r.exit_code == 2 and "malformed JSON" in r.stderr and "config.json:1:" in r.stderr
    bad_yaml = tmp_path / "m.yaml"
    bad_yaml.write_text("d_embed: 64\nn_heads: : 4\n")
    r = run("params", "--preset", str(bad_yaml))
    assert r.exit_code == 2 and "m.yaml:2:" in r.stderr


def test_unknown_choice_is_a_usage_error():
    r = run("params", "--preset", "llama2-7b", "--mlp", "swishy")
    assert r.exit_code == 2 and "Traceback" not in r.output


# -- the command table, its options and its help -------------------------------------------------------------


def test_version_is_written_once():
    import tomllib

    import llm_budget

    r = run("--version")
    assert r.exit_code == 0 and r.stdout == f"llm-budget {llm_budget.__version__}\n"
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "llm_budget/__init__.py"


def test_help_lists_every_command_of_the_table():
    from llm_budget.cli import COMMANDS

    r = run("--help")
    assert r.exit_code == 0, r.output
    listed = [line.split()[1] for line in r.stdout.splitlines() if line.startswith("│ ") and len(line.split()) > 2]
    assert [c for c in listed if c in COMMANDS] == list(COMMANDS)


def test_a_typo_suggests_the_command():
    r = run("parms")
    assert r.exit_code == 2 and "Did you mean 'params'?" in r.stderr


@pytest.mark.parametrize(
    "command, option, enum_name",
    [
        ("memory", "--optimizer", "Optimizer"),
        ("memory", "--convention", "Convention"),
        ("fit", "--recipe", "Recipe"),
        ("oom", "--checkpointing", "Checkpointing"),
        ("probe", "--optimizer-impl", "OptimizerImpl"),
        ("memory", "--lora-targets", "LoraTargets"),
        ("scale", "--fit", "Fit"),
    ],
)
def test_choices_are_listed_in_help_and_checked_by_typer(command, option, enum_name):
    import llm_budget.choices as choices

    values = [c.value for c in getattr(choices, enum_name)]
    help_text = run(command, "--help").stdout
    assert "<" + "|".join(values) + ">" in help_text
    r = run(command, "--preset", "gpt2-124m", option, "no-such-choice")
    assert r.exit_code == 2 and "Invalid value" in r.stderr and "Traceback" not in r.output


def test_precision_help_lists_the_precision_table():
    from llm_budget.cli.options import PRECISIONS
    from llm_budget.hardware import ALIASES, Precision

    assert tuple(p.value for p in Precision) == PRECISIONS
    assert all(ALIASES[p] is Precision(p) for p in PRECISIONS)  # each listed name is accepted as written
    assert " | ".join(PRECISIONS) in run("memory", "--help").stdout


@pytest.mark.parametrize(
    "command", ["params", "memory", "fit", "gpus", "compute", "scale", "dtype", "oom", "probe", "presets"]
)
def test_options_show_what_they_take_not_their_python_type(command):
    r = run(command, "--help")
    assert r.exit_code == 0, r.output
    options = [line for line in r.stdout.splitlines() if line.startswith("│ ") and "--" in line.split()[1]]
    assert options
    assert not [line for line in options if "<str>" in line or "<float>" in line or "<int>" in line]


# -- the probe refuses what it cannot run, before it runs (issue 13) ------------------------------------------

TINY = ["--d-embed", "64", "--n-heads", "4", "--n-layers", "1", "--n-vocab", "128", "--d-mlp", "256"]


def one_line(r) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def test_probe_out_is_checked_before_the_run(tmp_path):
    pytest.importorskip("torch")
    assert "is a folder" in one_line(run("probe", "--fake", "--mode", "train", *TINY, "--out", str(tmp_path)))
    missing = tmp_path / "no-such-folder" / "probe.json"
    assert "does not exist" in one_line(run("probe", "--fake", "--mode", "train", *TINY, "--out", str(missing)))
    assert not missing.parent.exists()


@pytest.mark.parametrize("optimizer", ["lion", "adamw8bit"])
def test_probe_rejects_an_optimizer_it_cannot_run(optimizer):
    pytest.importorskip("torch")
    line = one_line(run("probe", "--fake", "--mode", "train", *TINY, "--optimizer", optimizer))
    assert f"--optimizer {optimizer}" in line and "adamw, adam, sgd" in line


@pytest.mark.parametrize(
    "args", [["--batch", "1e30"], ["--batch", "1e9", "--seq", "1e9"], ["--mode", "infer", "--context", "1e30"]]
)
def test_probe_rejects_shapes_pytorch_cannot_size(args):
    pytest.importorskip("torch")
    assert "2^63 bytes" in one_line(run("probe", "--fake", *TINY, *args))


def test_probe_without_a_gpu_uses_fake_tensors(monkeypatch):
    torch = pytest.importorskip("torch")
    from llm_budget.probe.run import choose_path

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_path(False, None) == "fake"
    assert choose_path(False, "cpu") == "cpu"  # real CPU tensors only when asked
    r = run("probe", "--mode", "train", *TINY, "--batch", "1", "--seq", "8", "--json")
    assert r.exit_code in (0, 1), r.output  # 1: the tiny model's peak is off (a gate result, not an error)
    assert json.loads(r.stdout)["reports"][0]["path"] == "fake"


def test_probe_reports_each_step_for_a_progress_display():
    pytest.importorskip("torch")
    from llm_budget.memory import InferSetup, TrainSetup
    from llm_budget.model.spec import ModelSpec
    from llm_budget.probe.run import probe_model

    spec = ModelSpec(d_embed=64, n_heads=4, n_layers=1, n_vocab=128, d_mlp=256)
    steps: list[str] = []
    probe_model(
        spec,
        train=TrainSetup(precision="fp32", batch=1, seq=8),
        infer=InferSetup(precision="fp32", batch=1, context=8),
        mode="both",
        path="fake",
        on_step=steps.append,
    )
    assert steps == ["training step", "serving"]


def test_memory_table_names_every_model_state_and_hides_rows_that_round_to_zero():
    r = run("memory", "--preset", "llama3-8b", "--mode", "train")
    assert r.exit_code == 0, r.output
    table = [line for line in r.stdout.splitlines() if line.startswith("│")]
    # The convention counts FP32 gradients (4 bytes × 8,030,261,248 parameters); none is live at this peak.
    assert "FP32 gradients 4" in r.stdout
    (grad,) = [line for line in table if "Gradients" in line]
    assert "0 at the peak" in grad
    assert f"Gradients: {4 * 8_030_261_248 / 1e9:.2f} GB (4 bytes/param)" in r.stdout
    # Token ids and targets: 1 × 8,192 int64 each, 131,072 bytes: 0.00 GB, so a footnote, not a row.
    assert not [line for line in table if "0.00 GB" in line or "Inputs" in line]
    assert f"Inputs (token ids, targets) {2 * 8192 * 8:,} bytes" in r.stdout
    # The JSON is untouched: every component, the inputs included, and no gradients at the peak.
    names = [c["name"] for c in json.loads(run("memory", "--preset", "llama3-8b", "--json").stdout)["components"]]
    assert "Inputs (token ids, targets)" in names and "Gradients" not in names
