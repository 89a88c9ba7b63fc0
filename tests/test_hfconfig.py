"""Reading config.json offline, held to transformers' own count for the same config."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import HF_CONFIGS, transformers_param_count

from llm_budget.errors import LLMBudgetError
from llm_budget.model.counter import count_params
from llm_budget.model.hf import MAPPERS, spec_fields_from_hf
from llm_budget.model.hf.names import FUSED, component_of
from llm_budget.model.presets import load_hf_config, load_preset
from llm_budget.model.spec import ModelSpec

FIXTURES = sorted(p.name for p in HF_CONFIGS.glob("*.json"))

# Exact counts published for configs that have no preset (sources as in test_presets.py).
PUBLISHED = {
    "pythia-70m.json": 70_426_624,  # EleutherAI/pythia model card, "Total params"
    "pythia-12b.json": 11_846_072_320,  # EleutherAI/pythia model card, "Total params"
    "bloom-560m.json": 559_214_592,  # KH bloom_560m_multi; HF safetensors docs (F16 => 559214592)
    "qwen2-7b.json": 7_615_616_512,  # HF safetensors total of Qwen2.5-7B (same shapes as Qwen2-7B)
    "phi-3-mini-4k.json": 3_821_079_552,  # KH phi3_mini_4k_instruct_en
}

# Presets that are the same model as a fixture config.
PRESET_OF = {
    "gpt2.json": "gpt2-124m",
    "gpt2-medium.json": "gpt2-355m",
    "gpt2-large.json": "gpt2-774m",
    "gpt2-xl.json": "gpt2-1.5b",
    **{
        f"{n}.json": n
        for n in [
            "gemma-7b",
            "llama3-8b",
            "llama3-70b",
            "llama2-7b",
            "llama2-13b",
            "llama2-70b",
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
    },
}


def test_fixtures_cover_every_required_family():
    types = {json.loads((HF_CONFIGS / f).read_text())["model_type"] for f in FIXTURES}
    required = {"llama", "mistral", "mixtral", "gemma", "gpt2", "gpt_neox", "cohere", "dbrx", "qwen2", "bloom", "phi3"}
    assert required <= types <= set(MAPPERS)


@pytest.mark.slow
@pytest.mark.parametrize("fixture", FIXTURES)
def test_count_equals_transformers(fixture):
    ours = count_params(load_hf_config(HF_CONFIGS / fixture)).total
    assert ours == transformers_param_count(HF_CONFIGS / fixture)


@pytest.mark.parametrize("fixture", sorted(PUBLISHED))
def test_count_equals_published(fixture):
    assert count_params(load_hf_config(HF_CONFIGS / fixture)).total == PUBLISHED[fixture]


@pytest.mark.parametrize("fixture", sorted(PRESET_OF))
def test_preset_and_config_describe_the_same_model(fixture):
    from_config = count_params(load_hf_config(HF_CONFIGS / fixture))
    from_preset = count_params(load_preset(PRESET_OF[fixture]))
    assert [(c.name, c.count) for c in from_config.components] == [(c.name, c.count) for c in from_preset.components]


SMALL = dict(
    hidden_size=64,
    num_attention_heads=4,
    num_hidden_layers=2,
    vocab_size=1000,
    intermediate_size=96,
    num_key_value_heads=2,
)
VARIANTS = {
    "llama-biases": dict(SMALL, model_type="llama", attention_bias=True, mlp_bias=True),
    "llama-tied": dict(SMALL, model_type="llama", tie_word_embeddings=True),
    "qwen2-tied": dict(SMALL, model_type="qwen2", tie_word_embeddings=True),
    "qwen3": dict(SMALL, model_type="qwen3", head_dim=24),
    "gemma2": dict(SMALL, model_type="gemma2", head_dim=32),
    "gpt_neox-no-attn-bias": dict(SMALL, model_type="gpt_neox", attention_bias=False, num_key_value_heads=None),
    "gpt_neox-tied": dict(SMALL, model_type="gpt_neox", tie_word_embeddings=True, num_key_value_heads=None),
    "gpt2-n_inner": dict(
        model_type="gpt2", n_embd=64, n_head=4, n_layer=2, vocab_size=1000, n_positions=128, n_inner=100
    ),
    "bloom-untied": dict(
        model_type="bloom", hidden_size=64, n_head=4, n_layer=2, vocab_size=1000, tie_word_embeddings=False
    ),
    "cohere-bias": dict(SMALL, model_type="cohere", attention_bias=True),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_config_variants_equal_transformers(variant, tmp_path: Path):
    cfg = {k: v for k, v in VARIANTS[variant].items() if v is not None}
    f = tmp_path / "config.json"
    f.write_text(json.dumps(cfg))
    assert count_params(load_hf_config(f)).total == transformers_param_count(f)


# Tiny configs of every family (fast on the meta device), each a variant the family's modeling file branches on:
# the defaults of its configuration class when keys are absent, biases, MQA/GQA, parallel blocks, windows.
T = dict(hidden_size=64, num_attention_heads=4, num_hidden_layers=4, intermediate_size=96, vocab_size=300)
TINY = {
    "llama": dict(model_type="llama", num_key_value_heads=2, **T),
    "llama-tied-biases-head": dict(
        model_type="llama", tie_word_embeddings=True, attention_bias=True, mlp_bias=True, head_dim=32, **T
    ),
    "mistral-head-window": dict(model_type="mistral", num_key_value_heads=2, head_dim=32, **T),
    "mistral-default-kv": dict(T, model_type="mistral", num_attention_heads=16),  # MistralConfig: 8 KV heads
    "mistral-ignores-layer-types": dict(  # MistralAttention reads sliding_window only
        T, model_type="mistral", num_key_value_heads=2, sliding_window=8, layer_types=["full_attention"] * 4
    ),
    "qwen2-window-from-layer": dict(
        model_type="qwen2", num_key_value_heads=2, use_sliding_window=True, sliding_window=16, max_window_layers=1, **T
    ),
    "qwen3-default-head-kv": dict(T, model_type="qwen3", num_attention_heads=32),  # head_dim 128, 32 KV heads
    "gemma-default-head": dict(model_type="gemma", num_key_value_heads=1, **T),  # head_dim 256
    "gemma2": dict(model_type="gemma2", num_key_value_heads=2, head_dim=16, **T),
    "gemma3_text": dict(model_type="gemma3_text", num_key_value_heads=2, head_dim=16, sliding_window_pattern=3, **T),
    "gemma3_text-layer-types": dict(
        model_type="gemma3_text",
        num_key_value_heads=2,
        head_dim=16,
        sliding_window=8,
        layer_types=["sliding_attention", "full_attention", "full_attention", "sliding_attention"],
        **T,
    ),
    "phi": dict(model_type="phi", **T),
    "phi-qk-layernorm-tied-gqa": dict(
        model_type="phi", qk_layernorm=True, tie_word_embeddings=True, num_key_value_heads=2, **T
    ),
    "phi3-window": dict(model_type="phi3", num_key_value_heads=2, pad_token_id=0, sliding_window=32, **T),
    "falcon-7b-like": dict(
        model_type="falcon", hidden_size=64, num_attention_heads=4, num_hidden_layers=2, vocab_size=300
    ),
    "falcon-40b-like": dict(
        model_type="falcon",
        hidden_size=64,
        num_attention_heads=8,
        num_kv_heads=2,
        num_hidden_layers=2,
        vocab_size=300,
        new_decoder_architecture=True,
    ),
    "falcon-new-one-norm": dict(
        model_type="falcon",
        hidden_size=64,
        num_attention_heads=8,
        num_kv_heads=2,
        num_hidden_layers=2,
        vocab_size=300,
        new_decoder_architecture=True,
        num_ln_in_parallel_attn=1,
    ),
    "falcon-rw-like": dict(
        model_type="falcon",
        hidden_size=64,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=300,
        multi_query=False,
        parallel_attn=False,
        bias=True,
        alibi=True,
        tie_word_embeddings=False,
        ffn_hidden_size=100,
    ),
    "stablelm": dict(model_type="stablelm", num_key_value_heads=2, **T),
    "stablelm-parallel-qkv-bias": dict(
        model_type="stablelm", use_parallel_residual=True, use_qkv_bias=True, num_key_value_heads=4, **T
    ),
    "gpt_bigcode-mqa": dict(model_type="gpt_bigcode", n_embd=64, n_head=4, n_layer=2, vocab_size=300, n_positions=128),
    "gpt_bigcode-mha": dict(
        model_type="gpt_bigcode",
        n_embd=64,
        n_head=4,
        n_layer=2,
        vocab_size=300,
        n_positions=128,
        multi_query=False,
        n_inner=100,
    ),
    "starcoder2-window": dict(model_type="starcoder2", num_key_value_heads=2, sliding_window=32, **T),
    "starcoder2-no-bias-untied": dict(
        model_type="starcoder2", num_key_value_heads=2, use_bias=False, tie_word_embeddings=False, **T
    ),
    "gpt_neox-rotary-pct": dict(model_type="gpt_neox", rotary_pct=0.5, **T),
    "cohere2": dict(model_type="cohere2", num_key_value_heads=2, **T),
    "olmo2": dict(model_type="olmo2", num_key_value_heads=2, **T),
    "granite-multipliers": dict(
        model_type="granite",
        num_key_value_heads=2,
        attention_bias=True,
        tie_word_embeddings=True,
        embedding_multiplier=12.0,
        residual_multiplier=0.22,
        **T,
    ),
}


def _hf_model(cfg: dict):
    """transformers' own config (its defaults applied) and model on the meta device."""
    import warnings

    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    cfg = dict(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
        with torch.device("meta"):
            return config, transformers.AutoModelForCausalLM.from_config(config)


def _rows_by_component(cfg: dict) -> tuple[Counter, Counter]:
    """(transformers' named parameters grouped by names.component_of, our counter's rows), where our rows of a
    tensor transformers fuses (c_attn, query_key_value, qkv_proj, gate_up_proj) are summed into its row."""
    _, model = _hf_model(cfg)
    hf: Counter = Counter()
    for name, p in model.named_parameters():  # tied weights once
        hf[component_of(name)] += p.numel()
    spec = ModelSpec.model_validate(spec_fields_from_hf(cfg))
    ours = Counter({c.name: c.count for c in count_params(spec).components if c.count})
    for fused, parts in FUSED.items():
        if fused in hf:
            ours[fused] = sum(ours.pop(p, 0) for p in parts)
    return hf, ours


@pytest.mark.parametrize("variant", sorted(TINY))
def test_tiny_family_equals_transformers_by_component(variant):
    hf, ours = _rows_by_component(TINY[variant])
    assert ours == hf


DENSE_TYPES = {v["model_type"] for v in TINY.values()}
DENSE_FIXTURES = [f for f in FIXTURES if json.loads((HF_CONFIGS / f).read_text())["model_type"] in DENSE_TYPES]


@pytest.mark.slow
@pytest.mark.parametrize("fixture", DENSE_FIXTURES)
def test_official_config_equals_transformers_by_component(fixture):
    """The official configs of the dense families, row by row (Query, Key, ..., Norms, Biases, Unembedding)."""
    hf, ours = _rows_by_component(json.loads((HF_CONFIGS / fixture).read_text()))
    assert ours == hf


@pytest.mark.parametrize("variant", sorted(TINY))
def test_tiny_family_attention_kinds_equal_transformers(variant):
    """The attention each block gets: transformers' config.layer_types (sliding blocks only with a window),
    else its one sliding_window for every block."""
    cfg = TINY[variant]
    config, _ = _hf_model(cfg)
    spec = ModelSpec.model_validate(spec_fields_from_hf(cfg))
    ours = [spec.layer_kind(i).value for i in range(spec.n_layers)]
    window = getattr(config, "sliding_window", None)
    declared = {f.name for f in dataclasses.fields(config)}  # a layer_types its class does not declare is ignored
    kinds = (config.layer_types if "layer_types" in declared else None) or ["sliding_attention"] * len(ours)
    if window is None:
        kinds = ["full_attention"] * len(ours)
    assert ours == kinds
    assert spec.sliding_window == (window if "sliding_attention" in kinds else None)


def test_stablelm_qk_layernorm_native_count():
    cfg = dict(model_type="stablelm", qk_layernorm=True, num_key_value_heads=2, **T)
    _, model = _hf_model(cfg)
    spec = ModelSpec.model_validate(spec_fields_from_hf(cfg))
    assert count_params(spec).total == sum(p.numel() for p in model.parameters())


def test_every_mapper_is_held_to_transformers():
    # Adding a family means a fixture config or a variant above, so the oracle tests reach its mapper.
    fixture_types = {json.loads((HF_CONFIGS / f).read_text())["model_type"] for f in FIXTURES}
    variant_types = {v["model_type"] for v in [*VARIANTS.values(), *TINY.values()]}
    assert set(MAPPERS) == fixture_types | variant_types


@pytest.mark.slow
@pytest.mark.parametrize("model_type", sorted(MAPPERS))
def test_every_mapper_names_a_real_modeling_file(model_type):
    transformers = pytest.importorskip("transformers")
    models = Path(transformers.__file__).parent / "models"
    assert (models / MAPPERS[model_type].follows).is_file()
    assert MAPPERS[model_type].follows.startswith(model_type.removesuffix("_text") + "/")


def test_folder_with_config_json(tmp_path: Path):
    (tmp_path / "config.json").write_text((HF_CONFIGS / "llama3-8b.json").read_text())
    assert count_params(load_hf_config(tmp_path)).total == 8_030_261_248


def test_unsupported_model_type_names_the_supported(tmp_path: Path):
    f = tmp_path / "config.json"
    f.write_text('{"model_type": "t5", "d_model": 512}')
    with pytest.raises(LLMBudgetError) as e:
        load_hf_config(f)
    msg = str(e.value)
    assert "unsupported model_type 't5'" in msg and "llama" in msg and "dbrx" in msg and "\n" not in msg


def test_malformed_json_names_file_and_line(tmp_path: Path):
    f = tmp_path / "config.json"
    f.write_text('{\n  "model_type": "llama",\n  "hidden_size": 4096,,\n}')
    with pytest.raises(LLMBudgetError, match=r"config.json:3:\d+: malformed JSON"):
        load_hf_config(f)


def test_missing_key_is_named(tmp_path: Path):
    f = tmp_path / "config.json"
    f.write_text('{"model_type": "llama", "hidden_size": 64}')
    with pytest.raises(LLMBudgetError, match="no 'num_attention_heads'"):
        load_hf_config(f)
