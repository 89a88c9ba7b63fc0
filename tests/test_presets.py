"""Every shipped preset against the count its authors publish, to the parameter.

The expected numbers below are copied from the cited sources, not from our output.
KH = keras-team/keras-hub, keras_hub/src/models/<family>/<family>_presets.py ("params"),
the official Keras ports whose counts equal the checkpoints'.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llm_budget.errors import SpecError, UnknownNameError, UnpublishedModelError
from llm_budget.model.counter import count_params
from llm_budget.model.presets import (
    closed_models,
    load_preset,
    preset_names,
    presets_dir,
    resolve,
)

PUBLISHED = {
    "gpt3-175b": 175_181_291_520,  # the lecture's slide (3Blue1Brown's GPT-3 table)
    "gpt2-124m": 124_439_808,  # KH gpt2_base_en
    "gpt2-355m": 354_823_168,  # KH gpt2_medium_en
    "gpt2-774m": 774_030_080,  # KH gpt2_large_en
    "gpt2-1.5b": 1_557_611_200,  # KH gpt2_extra_large_en
    "gemma-7b": 8_537_680_896,  # KH gemma_7b_en; HF safetensors metadata of google/gemma-7b
    "llama3-8b": 8_030_261_248,  # KH llama3_8b_en; HF index total_size 16,060,522,496 bytes of bf16 / 2
    "llama3-70b": 70_553_706_496,  # HF safetensors total of the same-shaped Llama 3.1/3.3 70B (141,107,412,992 B / 2)
    "llama2-7b": 6_738_415_616,  # KH llama2_7b_en; together-python model_param_count
    "llama2-13b": 13_015_864_320,  # together-python model_param_count
    "llama2-70b": 68_976_648_192,  # together-python model_param_count
    "codellama-7b": 6_738_546_688,  # together-python model_param_count
    "codellama-13b": 13_016_028_160,  # together-python model_param_count
    "codellama-34b": 33_743_970_304,  # Together AI num_parameters of Phind-CodeLlama-34B (same shapes)
    "mistral-7b": 7_241_732_096,  # KH mistral_7b_en
    "mixtral-8x7b": 46_702_792_704,  # KH mixtral_8_7b_en
    "mixtral-8x22b": 140_620_634_112,  # total_params tabulated for mistral-community/Mixtral-8x22B-v0.1
    # Issue 10's presets with an exact published count.
    "llama3.1-70b": 70_553_706_496,  # HF index total_size 141,107,412,992 bytes of bf16 / 2 (as llama3-70b)
    "llama3.3-70b": 70_553_706_496,  # the same shapes and index total
    "qwen2.5-7b": 7_615_616_512,  # HF safetensors total of Qwen/Qwen2.5-7B
    "phi3-mini": 3_821_079_552,  # KH phi3_mini_4k_instruct_en
    "stablelm-3b-4e1t": 2_795_443_200,  # stabilityai/stablelm-3b-4e1t model card, architecture table "Parameters"
}

# Counts published only rounded: the figure as written (model card, paper, or the Hub page's safetensors size).
ROUNDED = {
    "llama3.1-8b": "8.03B",  # HF page of meta-llama/Llama-3.1-8B
    "llama3.1-405b": "405B",  # Meta's model card and paper
    "llama3.2-1b": "1.23B",  # Llama 3.2 model card, Params column
    "llama3.2-3b": "3.21B",  # Llama 3.2 model card, Params column
    "deepseek-r1-distill-llama-8b": "8.03B",  # HF page
    "tinyllama-1.1b": "1.1B",  # TinyLlama model card
    "qwen2.5-0.5b": "0.49B",  # Qwen2.5 model card: 0.49B (0.36B non-embedding)
    "qwen2.5-72b": "72.7B",  # Qwen2.5 model card: 72.7B (70.0B non-embedding)
    "qwen3-0.6b": "0.6B",  # Qwen3 model card: 0.6B (0.44B non-embedding)
    "qwen3-8b": "8.2B",  # Qwen3 model card: 8.2B (6.95B non-embedding)
    "qwen3-32b": "32.8B",  # Qwen3 model card: 32.8B (31.2B non-embedding)
    "gemma2-2b": "2.61B",  # HF page
    "gemma2-9b": "9.24B",  # HF page
    "gemma2-27b": "27.2B",  # HF page
    "gemma3-1b": "1B",  # Gemma 3 report Table 1: 302M embedding + 698M non-embedding
    "phi4": "14.7B",  # HF page
    "mistral-nemo-12b": "12.2B",  # HF page
    "mistral-small-24b": "23.6B",  # HF page
    "olmo2-7b": "7.30B",  # HF page
    "falcon-7b": "7B",  # Falcon-7B model card
    "starcoder2-15b": "15B",  # StarCoder2-15B model card
    "starcoder-15.5b": "15.5B",  # StarCoder model card
    "phi-1.5": "1.42B",  # HF page
    "phi-2": "2.7B",  # phi-2 model card
    "granite3.1-8b": "8.17B",  # HF page
}

# Gemma 3 technical report, Table 1: non-embedding parameters of the language model, in millions.
GEMMA3_NON_EMBEDDING_M = {"gemma3-1b": 698, "gemma3-4b": 3209, "gemma3-12b": 10759, "gemma3-27b": 25600}

# No exact integer is published for these: the oracle is what transformers builds from the official
# config (tests/fixtures/hf), plus the rounded figures the authors do publish.
CONFIG_ONLY = {
    "codellama-70b": ("codellama-70b.json", None),
    "dbrx": ("dbrx.json", (132e9, 36e9)),  # Databricks model card: "132B total parameters of which 36B ... active"
    "command-r": ("command-r.json", (35e9, None)),  # Cohere model card: "35 billion parameter"
    "command-r-plus": ("command-r-plus.json", (104e9, None)),  # Cohere model card: "104B"
    "falcon-40b": ("falcon-40b.json", None),  # only the name's "40B" is published
}

# Issue 10's presets are written as their checkpoint's config.json keys (hf_config:): each equals transformers'
# own model built from that config (the same keys stored in tests/fixtures/hf).
HF_CONFIG_PRESETS = {
    **{n: f"{n}.json" for n in [
        "llama3.1-8b", "llama3.1-70b", "llama3.1-405b", "llama3.2-1b", "llama3.2-3b", "llama3.3-70b",
        "deepseek-r1-distill-llama-8b", "tinyllama-1.1b", "qwen2.5-0.5b", "qwen2.5-7b", "qwen2.5-72b", "qwen3-0.6b",
        "qwen3-8b", "qwen3-32b", "gemma2-2b", "gemma2-9b", "gemma2-27b", "gemma3-1b", "mistral-nemo-12b",
        "mistral-small-24b", "olmo2-7b", "falcon-7b", "falcon-40b", "starcoder2-15b", "starcoder-15.5b", "phi-1.5",
        "phi-2", "stablelm-3b-4e1t",
    ]},
    "gemma3-4b": "gemma3-4b-text.json",
    "gemma3-12b": "gemma3-12b-text.json",
    "gemma3-27b": "gemma3-27b-text.json",
    "phi3-mini": "phi-3-mini-4k.json",
    "phi4": "phi-4.json",
    "granite3.1-8b": "granite-3.1-8b.json",
}  # fmt: skip

# GPT-3 paper (Brown et al. 2020), Table 2.1: n_params, n_layers, d_model, heads; d_ff = 4·d_model, n_ctx = 2048.
GPT3_TABLE = {
    "gpt3-125m": (125e6, 12, 768),
    "gpt3-350m": (350e6, 24, 1024),
    "gpt3-760m": (760e6, 24, 1536),
    "gpt3-1.3b": (1.3e9, 24, 2048),
    "gpt3-2.7b": (2.7e9, 32, 2560),
    "gpt3-6.7b": (6.7e9, 32, 4096),
    "gpt3-13b": (13.0e9, 40, 5120),  # table prints 5140; 40 heads × 128 = 5120
    "gpt3-175b-full": (175.0e9, 96, 12288),
}

LECTURE_OPEN_MODELS = [
    "gemma-7b",
    "llama3-8b",
    "llama3-70b",
    "codellama-7b",
    "codellama-13b",
    "codellama-34b",
    "codellama-70b",
    "mistral-7b",
    "mixtral-8x7b",
    "mixtral-8x22b",
    "dbrx",
    "command-r",
    "command-r-plus",
]
LECTURE_CLOSED_MODELS = [
    "gpt-4o",
    "gpt-4-turbo",
    "gpt-4",
    "gpt-3.5-turbo",
    "gemini-1.5-pro",
    "gemini-1.5-flash",
    "claude-3-opus",
    "claude-3-sonnet",
    "claude-3-haiku",
    "mistral-large",
    "mistral-medium",
    "mistral-small",
]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_preset_equals_published_count(name):
    assert count_params(load_preset(name)).total == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_preset_declares_the_same_published_count(name):
    # The YAML's own published_params (shown to users) must agree with the cited figure.
    assert load_preset(name).published_params == PUBLISHED[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONFIG_ONLY))
def test_preset_equals_transformers_on_official_config(name, hf_dir):
    from conftest import transformers_param_count

    fixture, rounded = CONFIG_ONLY[name]
    count = count_params(load_preset(name))
    assert count.total == transformers_param_count(hf_dir / fixture)
    if rounded:
        total, active = rounded
        assert round(count.total / 1e9) == round(total / 1e9)
        if active:
            assert round(count.active / 1e9) == round(active / 1e9)


def _agrees_with_figure(count: int, figure: str) -> bool:
    """'8.03B' -> within one unit of its last digit (0.01e9): authors round or truncate ('1.23B' for 1,235,814,400)."""
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?([MBT])", figure)
    assert m, f"unreadable figure {figure!r}"
    scale = {"M": 1e6, "B": 1e9, "T": 1e12}[m[3]]
    unit = scale / 10 ** len(m[2] or "")
    return abs(count - float(f"{m[1]}.{m[2] or 0}") * scale) <= unit


@pytest.mark.parametrize("name", sorted(ROUNDED))
def test_preset_agrees_with_published_rounded_count(name):
    spec = load_preset(name)
    assert spec.published_rounded == ROUNDED[name] and spec.published_params is None
    assert _agrees_with_figure(count_params(spec).total, ROUNDED[name])


def test_rounded_figure_check_can_fail():
    assert _agrees_with_figure(1_235_814_400, "1.23B") and _agrees_with_figure(1_235_814_400, "1.24B")
    assert not _agrees_with_figure(1_235_814_400, "1.22B") and not _agrees_with_figure(41_303_293_952, "40B")


@pytest.mark.parametrize("name", sorted(GEMMA3_NON_EMBEDDING_M))
def test_gemma3_language_model_equals_the_report(name):
    assert round(count_params(load_preset(name)).non_embedding / 1e6) == GEMMA3_NON_EMBEDDING_M[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HF_CONFIG_PRESETS))
def test_hf_config_preset_equals_transformers(name, hf_dir):
    from conftest import transformers_param_count

    assert count_params(load_preset(name)).total == transformers_param_count(hf_dir / HF_CONFIG_PRESETS[name])


@pytest.mark.parametrize("name", sorted(HF_CONFIG_PRESETS))
def test_hf_config_preset_is_its_fixture(name, hf_dir):
    """The preset's hf_config and the stored config.json describe the same model, row by row."""
    from llm_budget.model.presets import load_hf_config

    ours, fixture = count_params(load_preset(name)), count_params(load_hf_config(hf_dir / HF_CONFIG_PRESETS[name]))
    assert [(c.name, c.count) for c in ours.components] == [(c.name, c.count) for c in fixture.components]


@pytest.mark.parametrize("name", sorted(GPT3_TABLE))
def test_gpt3_family_full_accounting(name):
    n_params, L, d = GPT3_TABLE[name]
    V, n_ctx = 50257, 2048
    # Written out: weights 12·L·d², biases 9·L·d (qkv 3d, out d, fc 4d, proj d), LayerNorms 2 per layer
    # with shift (4·L·d) + final (2·d), token and position tables; tied unembedding.
    expected = 12 * L * d * d + 13 * L * d + (V + n_ctx) * d + 2 * d
    total = count_params(load_preset(name)).total
    assert total == expected
    # Table 2.1 rounds loosely (its 350M is GPT-2 Medium's shape, 355.9M here): within 2%.
    assert abs(total - n_params) / n_params < 0.02


def test_gpt3_full_vs_lecture():
    # The derived full count of the reference notes (peers-and-formulas.md §3.1), and the lecture's.
    assert count_params(load_preset("gpt3-175b-full")).total == 174_604_259_328
    assert count_params(load_preset("gpt3-175b")).total == 175_181_291_520


def test_every_lecture_model_is_covered():
    names = set(preset_names())
    assert set(LECTURE_OPEN_MODELS) <= names
    assert {"llama2-7b", "llama2-13b", "llama2-70b", "gpt2-124m", "gpt2-355m", "gpt2-774m", "gpt2-1.5b"} <= names
    assert set(LECTURE_CLOSED_MODELS) == set(closed_models())


def test_closed_models_carry_the_lecture_table():
    m = closed_models()
    assert (m["gpt-4o"].context_window, m["gpt-4o"].price_per_million_tokens_usd) == (128000, 7.5)
    assert (m["gpt-4"].context_window, m["gpt-4"].price_per_million_tokens_usd) == (8000, 37.5)
    assert (m["gemini-1.5-pro"].context_window, m["gemini-1.5-pro"].price_per_million_tokens_usd) == (1000000, 5.25)
    assert (m["claude-3-haiku"].context_window, m["claude-3-haiku"].price_per_million_tokens_usd) == (200000, 0.5)
    assert (m["mistral-medium"].context_window, m["mistral-medium"].price_per_million_tokens_usd) == (32000, 4.05)


@pytest.mark.parametrize("name", LECTURE_CLOSED_MODELS)
def test_closed_models_refuse_to_guess(name):
    with pytest.raises(UnpublishedModelError, match="no published architecture"):
        load_preset(name)


def test_every_preset_is_valid_named_and_sourced():
    for path in sorted((presets_dir() / "models").glob("*.yaml")):
        spec = load_preset(path.stem)
        assert spec.name == path.stem
        assert spec.source, f"{path.name} names no source"
        assert spec.display_name


def test_unknown_preset_suggests_close_names():
    with pytest.raises(UnknownNameError) as e:
        load_preset("llama3-8")
    assert "llama3-8b" in str(e.value)
    with pytest.raises(UnknownNameError, match="mixtral-8x7b"):
        load_preset("mixtral8x7b")


def test_loose_spellings_resolve():
    assert load_preset("Llama3-8B").name == "llama3-8b"
    assert load_preset("GPT3_175B").name == "gpt3-175b"


def test_user_yaml_file(tmp_path: Path):
    f = tmp_path / "my-model.yaml"
    f.write_text(
        "display_name: Mine\nd_embed: 2048\nn_heads: 16\nn_layers: 24\nn_vocab: 32000\nd_mlp: 5632\nmlp: gated\n"
    )
    before = f.read_bytes()
    spec = resolve(str(f))
    d, L, V, m = 2048, 24, 32000, 5632
    assert count_params(spec).total == 2 * V * d + L * (4 * d * d + 3 * d * m + 2 * d) + d
    assert f.read_bytes() == before  # never modified


@pytest.mark.parametrize(
    "content, message",
    [
        ("d_embed: 64\nn_heads: : 4\n", r"bad.yaml:2:\d+: malformed YAML: mapping values are not allowed"),
        ("d_embed: 64\nn_heads: 4\nn_layers: 2\nn_vocab: 10\nd_mlp: 8\nn_layer: 3\n", "unknown key 'n_layer'"),
        ("d_embed: 64\nn_heads: 5\nn_layers: 2\nn_vocab: 10\nd_mlp: 8\n", "d_embed=64 is not divisible by n_heads=5"),
        ("d_embed: -64\nn_heads: 4\nn_layers: 2\nn_vocab: 10\nd_mlp: 8\n", "d_embed: Input should be greater than 0"),
        ("- 1\n- 2\n", "expected a mapping"),
    ],
)
def test_bad_user_files_give_one_line(tmp_path: Path, content, message):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    with pytest.raises((SpecError, Exception)) as e:
        resolve(str(f))
    assert "\n" not in str(e.value)
    import re

    assert re.search(message, str(e.value)), str(e.value)
    assert str(f) in str(e.value)


def _presets_cli(*args: str):
    from typer.testing import CliRunner

    from llm_budget.cli import app

    result = CliRunner().invoke(app, ["presets", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_presets_json_groups_every_preset_by_family():
    import json

    data = json.loads(_presets_cli("--json"))
    names = [p["name"] for p in data["presets"]]
    grouped = [n for group in data["families"] for n in group["presets"]]
    assert sorted(grouped) == sorted(names) == sorted(preset_names())  # each preset once, in one family
    family_of = {p["name"]: p["family"] for p in data["presets"]}
    for group in data["families"]:
        assert {family_of[n] for n in group["presets"]} == {group["family"]}
    by_name = {p["name"]: p for p in data["presets"]}
    # Mixtral 8x7B routes each token to 2 of 8 experts: 12,879,925,248 active of 46,702,792,704 (Mistral AI's
    # announcement: "12.9B active"; written out: the total minus 6 of 8 experts' 3 × 4,096 × 14,336 per block).
    mixtral = by_name["mixtral-8x7b"]
    assert mixtral["total"] == 46_702_792_704
    assert mixtral["active"] == 46_702_792_704 - 32 * 6 * 3 * 4096 * 14336
    assert by_name["llama3.2-1b"]["published_rounded"] == "1.23B" and by_name["llama3.2-1b"]["active"] == 1_235_814_400
    assert {"name", "display_name", "family", "total", "active", "published_params", "context_window", "source"} <= set(
        by_name["gpt3-175b"]
    )
    assert data["unpublished"]


def test_presets_table_shows_families_with_total_and_active():
    out = _presets_cli()
    for label in ("Gemma 3", "Falcon", "StarCoder (gpt_bigcode)", "Qwen3", "Mixtral", "Closed (the lecture's table)"):
        assert label in out
    assert "12,879,925,248" in out and "46,702,792,704" in out  # Mixtral 8x7B: active and total
    assert out.index("Gemma 2") < out.index("gemma2-2b") < out.index("gemma2-27b") < out.index("Gemma 3")
