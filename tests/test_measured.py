"""Model types without a native mapper: counted and budgeted from transformers' own class (llm_budget/measured).

Independent sources: transformers' model built here on the meta device (sum(p.numel() for p in
model.parameters()), tied weights once), arithmetic of the published layouts written in the test, the
authors' published counts, and the probe's own fake-tensor measurement of the whole model (measure_hf_step).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.errors import LLMBudgetError
from llm_budget.memory import InferSetup, TrainSetup, training_memory
from llm_budget.model import count_params, load_hf_config, load_spec_file
from llm_budget.model.hf import MAPPERS

FIXTURES = Path(__file__).parent / "fixtures" / "hf_fallback"

TINY: dict[str, dict] = {
    "opt": dict(
        model_type="opt",
        hidden_size=64,
        num_attention_heads=4,
        num_hidden_layers=4,
        ffn_dim=176,
        vocab_size=1000,
        word_embed_proj_dim=64,
        max_position_embeddings=256,
    ),
    "olmoe": dict(
        model_type="olmoe",
        hidden_size=64,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_hidden_layers=5,
        intermediate_size=48,
        vocab_size=1000,
        num_experts=8,
        num_experts_per_tok=2,
        max_position_embeddings=256,
    ),
    "gpt_neo": dict(
        model_type="gpt_neo",
        hidden_size=64,
        num_heads=4,
        num_layers=6,
        vocab_size=1000,
        attention_types=[[["global", "local"], 3]],
        window_size=32,
        max_position_embeddings=256,
    ),
}

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def _write(tmp_path: Path, cfg: dict) -> Path:
    path = tmp_path / f"{cfg['model_type']}.json"
    path.write_text(json.dumps(cfg))
    return path


def _meta_model(cfg: dict):
    """transformers' own model of the config on the meta device, built here (the independent count)."""
    kwargs = {
        k: v
        for k, v in cfg.items()
        if k not in ("model_type", "architectures", "_name_or_path", "transformers_version", "torch_dtype")
    }
    config = transformers.AutoConfig.for_model(cfg["model_type"], **kwargs)
    with torch.device("meta"):
        return transformers.AutoModelForCausalLM.from_config(config)


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_none_of_these_types_is_native():
    for model_type in [*TINY, *(_fixture(p.name)["model_type"] for p in FIXTURES.glob("*.json"))]:
        assert model_type not in MAPPERS


@pytest.mark.parametrize("model_type", list(TINY))
def test_tiny_count_equals_transformers_on_the_meta_device(tmp_path, model_type):
    cfg = TINY[model_type]
    spec = load_hf_config(_write(tmp_path, cfg))
    model = _meta_model(cfg)
    count = count_params(spec)
    assert count.total == sum(p.numel() for p in model.parameters())  # each Parameter once: tied weights once
    assert spec.measured_by == type(model).__name__
    assert (spec.d_embed, spec.n_heads, spec.n_layers, spec.n_vocab) == (
        64,
        4,
        TINY[model_type].get("num_hidden_layers", 6),
        1000,
    )


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_official_config_count_equals_transformers_on_the_meta_device(fixture):
    spec = load_spec_file(FIXTURES / fixture)
    model = _meta_model(_fixture(fixture))
    assert count_params(spec).total == sum(p.numel() for p in model.parameters())


def test_gpt_neo_125m_by_its_layout():
    # GPT-Neo 125M: wte V·d + wpe 2048·d; per block 2 LayerNorms (2·2d), q/k/v without bias (3d²),
    # out_proj d² + d, c_fc d·4d + 4d, c_proj 4d·d + d; final LayerNorm 2d; the unembedding is tied.
    d, V, L = 768, 50257, 12
    block = 4 * d + 3 * d * d + d * d + d + 4 * d * d + 4 * d + 4 * d * d + d
    expected = V * d + 2048 * d + L * block + 2 * d
    assert expected == 125_198_592
    spec = load_spec_file(FIXTURES / "gpt-neo-125m.json")
    assert count_params(spec).total == expected and spec.tied_embeddings
    assert spec.d_mlp == 4 * d  # intermediate_size null: the modeling file's 4·hidden_size


def test_olmoe_total_and_active_match_the_paper():
    # OLMoE-1B-7B (Muennighoff et al. 2024): 6.9B total, 1.3B active (8 of 64 experts of width 1,024, SwiGLU).
    d, V, L, E, k, f = 2048, 50304, 16, 64, 8, 1024
    experts = L * E * 3 * f * d
    block_rest = 4 * d * d + 2 * d + E * d + 2 * d  # q/k/v/o, q_norm and k_norm (d each), router, 2 RMSNorms
    total = 2 * V * d + L * block_rest + experts + d
    count = count_params(load_spec_file(FIXTURES / "olmoe-1b-7b-0924.json"))
    assert count.total == total
    assert count.get("Experts") == experts
    assert count.active == total - experts + experts // E * k
    assert round(count.total / 1e9, 1) == 6.9 and round(count.active / 1e9, 1) == 1.3


def test_opt_125m_against_its_published_size():
    # OPT-125M (Zhang et al. 2022, Table 1): 12 layers, 12 heads, d_model 768; learned positions with 2 offset rows.
    d, V, L = 768, 50272, 12
    block = 4 * (d * d + d) + 2 * (2 * d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    expected = V * d + (2048 + 2) * d + L * block + 2 * d
    assert count_params(load_spec_file(FIXTURES / "opt-125m.json")).total == expected
    assert round(expected / 1e6) == 125


@pytest.mark.parametrize(
    "setup",
    [
        TrainSetup(device="cpu", seq=64, batch=3),  # AdamW, bf16 mixed (autocast), SDPA
        TrainSetup(device="cpu", seq=64, batch=1, precision="bf16", recipe="pure"),
        TrainSetup(device="cpu", seq=64, batch=4, checkpointing="full"),
    ],
    ids=["mixed-b3", "pure-b1", "full-checkpointing-b4"],
)
def test_opt_training_peak_within_5_percent_of_the_probe_on_the_whole_model(tmp_path, setup):
    """Four blocks, extrapolated from probes of one and two (at batch 1 and 2), against the probe's own
    fake-tensor measurement of all four at the setup's batch."""
    from llm_budget.probe.hf import measure_hf_step

    cfg = TINY["opt"]
    spec = load_hf_config(_write(tmp_path, cfg))
    report = training_memory(spec, setup)
    measured = measure_hf_step(cfg, setup, path="fake")
    assert report.total_bytes == pytest.approx(measured.peak, rel=0.05)
    assert report.assumptions[0].startswith("measured from transformers' OPTForCausalLM under fake tensors: ")


@pytest.mark.slow
@pytest.mark.parametrize("model_type", ["olmoe", "gpt_neo"])
def test_training_peak_within_5_percent_of_the_probe_moe_and_layer_pattern(tmp_path, model_type):
    """OLMoE's fused experts; GPT-Neo's global/local pattern (probed a whole period at a time: 2 and 4 blocks)."""
    from llm_budget.probe.hf import measure_hf_step

    cfg = TINY[model_type]
    # transformers' GPT-Neo has no SDPA path: the probe runs it eager either way
    setup = TrainSetup(device="cpu", seq=64, batch=3, attention="eager" if model_type == "gpt_neo" else "sdpa")
    report = training_memory(load_hf_config(_write(tmp_path, cfg)), setup)
    assert report.total_bytes == pytest.approx(measure_hf_step(cfg, setup, path="fake").peak, rel=0.05)


def test_weights_and_optimizer_states_follow_from_the_table(tmp_path):
    # FP32 AdamW on the CPU: weights 4 bytes and states 2×4 bytes per parameter, plus torch's float32 `step`
    # per parameter tensor; at the optimizer step the gradients (4 bytes per parameter) are live too.
    spec = load_hf_config(_write(tmp_path, TINY["opt"]))
    params = list(_meta_model(TINY["opt"]).parameters())
    n = sum(p.numel() for p in params)
    report = training_memory(spec, TrainSetup(device="cpu", seq=8, precision="fp32"))
    step = next(p for p in report.phases if p.name == "optimizer step")
    lines = {line.name: line.bytes for line in report.components}
    assert lines["Weights"] == 4 * n and lines["Optimizer states"] == 8 * n + 4 * len(params)
    assert step.bytes >= 16 * n


def test_kv_cache_is_what_transformers_keeps(tmp_path):
    # OPT is multi-head: 2 (K, V) · layers · d_embed · 2 bytes (bf16) per token per sequence.
    from llm_budget.measured.inference import measured_inference_memory

    spec = load_hf_config(_write(tmp_path, TINY["opt"]))
    report = measured_inference_memory(spec, InferSetup(device="cpu", batch=3, context=100, prompt=60))
    kv = next(line.bytes for line in report.components if line.name.startswith("KV cache"))
    assert kv == 2 * 4 * 64 * 2 * 3 * 100
    assert report.assumptions[0].startswith("measured from transformers' OPTForCausalLM under fake tensors: ")


def test_layouts_the_probe_cannot_run_are_one_line_errors(tmp_path):
    from llm_budget.memory import Parallel

    spec = load_hf_config(_write(tmp_path, TINY["opt"]))
    with pytest.raises(LLMBudgetError, match="tensor or pipeline parallelism"):
        training_memory(spec, TrainSetup(device="cpu", seq=8, parallel=Parallel(tp=2)))
    neo = load_hf_config(_write(tmp_path, TINY["gpt_neo"]))  # 256 positions: its causal-mask buffer is 256 wide
    with pytest.raises(LLMBudgetError, match="GPTNeoForCausalLM cannot run a training step of 1 × 512 tokens"):
        training_memory(neo, TrainSetup(device="cpu", seq=512, attention="eager"))


def test_zero_1_shards_the_optimizer_states(tmp_path):
    from llm_budget.memory import Parallel

    spec = load_hf_config(_write(tmp_path, TINY["opt"]))
    one = training_memory(spec, TrainSetup(device="cpu", seq=8, precision="fp32"))
    four = training_memory(spec, TrainSetup(device="cpu", seq=8, precision="fp32", parallel=Parallel(dp=4, zero=1)))

    def states(report):
        return next(line.bytes for line in report.components if line.name == "Optimizer states")

    # ZeRO-1 (Rajbhandari et al. 2020 §5.1) splits the Adam states over the 4 ranks; the `step` scalars stay
    assert states(one) - states(four) == 3 * (states(one) - 4 * len(list(_meta_model(TINY["opt"]).parameters()))) // 4


def test_ddp_keeps_a_copy_of_every_gradient_in_its_buckets(tmp_path):
    # PyTorch's DistributedDataParallel (gradient_as_bucket_view=False, its default): the bucket memory
    # "will be equal to the total gradients size", held through the step: FP32 gradients, 4 bytes per parameter.
    from llm_budget.memory import Parallel

    spec = load_hf_config(_write(tmp_path, TINY["opt"]))
    n = sum(p.numel() for p in _meta_model(TINY["opt"]).parameters())
    one = training_memory(spec, TrainSetup(device="cpu", seq=8, precision="fp32"))
    ddp = training_memory(spec, TrainSetup(device="cpu", seq=8, precision="fp32", parallel=Parallel(dp=4)))
    assert ddp.total_bytes - one.total_bytes == 4 * n


@pytest.mark.parametrize("model_type", ["opt", "olmoe", "gpt_neo"])
def test_params_cli_says_it_measured(tmp_path, model_type):
    path = str(_write(tmp_path, TINY[model_type]))
    r = run("params", "--hf-config", path)
    assert r.exit_code == 0, r.output
    assert "measured from transformers' " in r.stdout
    r = run("params", "--hf-config", path, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["total"] == sum(p.numel() for p in _meta_model(TINY[model_type]).parameters())
    assert data["spec"]["measured_by"].endswith("ForCausalLM")


def test_memory_cli_says_it_measured(tmp_path):
    path = str(_write(tmp_path, TINY["opt"]))
    r = run("memory", "--hf-config", path, "--seq", "64")
    assert r.exit_code == 0, r.output
    assert "measured from transformers' OPTForCausalLM under fake tensors" in r.stdout
    r = run("memory", "--hf-config", path, "--seq", "64", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["assumptions"][0].startswith("measured from transformers' OPTForCausalLM")


COMMANDS = {
    "memory-infer": ["memory", "--mode", "infer"],
    "fit": ["fit", "--gpu", "h100"],
    "compute": ["compute", "--tokens", "1e9", "--gpu", "h100"],
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model_type", "command"),
    [pytest.param(t, c, id=f"{t}-{c}") for t in ("opt", "olmoe", "gpt_neo") for c in COMMANDS],
)
def test_every_command_takes_the_measured_path(tmp_path, model_type, command):
    command = COMMANDS[command]
    path = str(_write(tmp_path, TINY[model_type]))
    for extra in ([], ["--json"]):
        r = run(*command, "--hf-config", path, *extra)
        assert r.exit_code == 0, r.output
    json.loads(r.stdout)


def test_without_torch_a_one_line_error_names_the_install_and_the_native_families(tmp_path, monkeypatch):
    path = _write(tmp_path, TINY["opt"])
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(LLMBudgetError) as e:
        load_hf_config(path)
    message = str(e.value)
    assert "\n" not in message
    assert "pip install 'llm-gpu-budget[probe]'" in message
    assert "'opt'" in message and "llama" in message and "gpt2" in message


@pytest.mark.slow
def test_without_transformers_the_cli_exits_2_with_one_line(tmp_path):
    path = _write(tmp_path, TINY["opt"])
    code = (
        "import sys, runpy\n"
        "sys.modules['transformers'] = None\n"
        f"sys.argv = ['llm-budget', 'params', '--hf-config', {str(path)!r}]\n"
        "runpy.run_module('llm_budget', run_name='__main__')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "llm-gpu-budget[probe]" in lines[0] and "mixtral" in lines[0]


@pytest.mark.slow
def test_the_package_imports_without_torch():
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "sys.modules['transformers'] = None\n"
        "import llm_budget.measured, llm_budget.measured.inventory, llm_budget.measured.probe\n"
        "import llm_budget.measured.training, llm_budget.measured.inference, llm_budget.measured.extrapolate\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    "cfg",
    [
        dict(model_type="no_such_family", hidden_size=8),
        dict(model_type="t5", d_model=64, num_layers=2, num_heads=4, vocab_size=100),  # encoder-decoder
    ],
)
def test_types_transformers_has_no_causal_lm_for_are_one_line_errors(tmp_path, cfg):
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    assert cfg["model_type"] not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    with pytest.raises(LLMBudgetError, match="has no causal-LM class for it either.*supported natively: .*llama"):
        load_hf_config(_write(tmp_path, cfg))


def test_the_causal_lm_types_are_transformers_own():
    # read from transformers' source text without importing it: the same table its auto class uses
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from llm_budget.measured.requirements import causal_lm_types

    assert causal_lm_types() == dict(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)


@pytest.mark.slow
def test_an_unknown_type_is_refused_without_importing_torch(tmp_path):
    path = _write(tmp_path, dict(model_type="no_such_family"))
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['llm-budget', 'params', '--hf-config', {str(path)!r}]\n"
        "try:\n"
        "    runpy.run_module('llm_budget', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 2, e.code\n"
        "assert 'torch' not in sys.modules\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_fused_experts_are_one_row_per_layer_as_stored(tmp_path):
    # transformers' OlmoeExperts keeps all experts of a layer in two 3-D tensors: gate_up_proj [E, 2·f, d], down_proj [E, d, f]
    cfg = TINY["olmoe"]
    spec = load_hf_config(_write(tmp_path, cfg))
    E, f, d, L = cfg["num_experts"], cfg["intermediate_size"], cfg["hidden_size"], cfg["num_hidden_layers"]
    experts = sorted((t.shape, t.copies) for t in spec.tensors if t.expert)
    assert experts == sorted([((E, 2 * f, d), L), ((E, d, f), L)])
    assert count_params(spec).get("Experts") == L * E * 3 * f * d


def test_two_configs_with_one_table_keep_their_own_config(tmp_path):
    from llm_budget.measured.inventory import config_of

    relu = TINY["opt"]
    gelu = {**relu, "activation_function": "gelu"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = load_hf_config(_write(tmp_path / "a", relu))
    b = load_hf_config(_write(tmp_path / "b", gelu))
    assert a.tensors == b.tensors
    assert config_of(a) == relu and config_of(b) == gelu
