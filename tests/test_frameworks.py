"""Framework profiles (presets/frameworks/*.yaml): each value against what its cited source says, written here
with the quote it comes from; explicit flags override a profile; the report lists what the profile set."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.frameworks import FRAMEWORKS, apply_profile, load_profile

runner = CliRunner()

EXPECTED = {
    # transformers 5.24.0 training_args.py L806-811: `default_optim = "adamw_torch"` ... `if
    # is_torch_greater_or_equal_than_2_8: default_optim = "adamw_torch_fused"`; `bf16: bool` "Enable bfloat16 (BF16)
    # mixed precision training"; loss/loss_utils.py ForCausalLMLoss: `logits = logits.float()`.
    "hf-trainer": {"recipe": "mixed", "convention": "autocast", "optimizer_impl": "fused", "loss": "full"},
    # peft 00a4d080 src/peft/tuners/lora/config.py: `r: int = field(default=8`, `lora_dropout: float =
    # field(default=0.0`, target_modules default None -> the llama mapping ['q_proj', 'v_proj'].
    "peft": {"recipe": "lora", "loss": "full", "lora_rank": 8, "lora_targets": "q,v", "lora_dropout": 0.0,
             "adapter_precision": "fp32"},
    # litgpt 01fe959c litgpt/finetune/lora.py: `lora_r: int = 8`, `lora_dropout: float = 0.05`, `lora_query: bool =
    # True`, `lora_value: bool = True` (key, projection, mlp, head False); `lm_head_chunk_size=128` +
    # chunked_cross_entropy; get_default_supported_precision(training=True) -> "bf16-mixed"; with bnb,
    # "Quantization and mixed precision is not supported" and `optimizer_cls = bnb.optim.PagedAdamW`.
    "litgpt": {"recipe": "mixed", "loss": "chunked", "optimizer_impl": "foreach", "lora_rank": 8,
               "lora_targets": "q,v", "lora_dropout": 0.05, "quantized:recipe": "pure", "quantized:paged_optimizer": True},
    # torchtune 0b3e04ad recipes/configs/llama3_1/8B_qlora_single_device.yaml: `lora_attn_modules: ['q_proj',
    # 'v_proj', 'k_proj', 'output_proj']`, `apply_lora_to_mlp: True`, `lora_rank: 8`, `lora_dropout: 0.0`,
    # `fused: True`, `loss: ... CEWithChunkedOutputLoss`, `dtype: bf16`, `enable_activation_checkpointing: True`.
    "torchtune": {"recipe": "pure", "loss": "chunked-fp32", "optimizer_impl": "fused", "checkpointing": "full",
                  "lora_rank": 8, "lora_targets": "q,k,v,o,gate,up,down", "lora_dropout": 0.0,
                  "quantized:double_quant": True},
    # torchtitan: job_config.py `implementation: ... = "fused"`; components/loss.py `pred.flatten(0, 1).float()`;
    # FSDP2 MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32) on FP32 sharded parameters.
    "torchtitan": {"recipe": "mixed", "convention": "fsdp", "optimizer_impl": "fused", "loss": "full"},
    # axolotl 013495e1 examples/llama-2/qlora.yml: `lora_r: 32`, `lora_dropout: 0.05`, `lora_target_linear: true`,
    # `optimizer: paged_adamw_32bit`, `bf16: auto`, `gradient_checkpointing: true`.
    "axolotl": {"recipe": "mixed", "loss": "full", "paged_optimizer": True, "checkpointing": "full",
                "lora_rank": 32, "lora_targets": "all-linear", "lora_dropout": 0.05},
    # DeepSpeed bf16 + FusedAdam: 16-bit module, FP32 master partition (ZeRO's 2 + 2 + 12).
    "deepspeed": {"recipe": "mixed", "convention": "zero", "optimizer_impl": "fused", "loss": "full"},
}  # fmt: skip


def flat(name: str) -> dict[str, object]:
    p = load_profile(name)
    out: dict[str, object] = {k: v.value for k, v in {**p.settings, **p.lora}.items()}
    out.update({f"quantized:{k}": v.value for k, v in p.quantized.items()})
    return out


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_profile_matches_its_source(name):
    assert flat(name) == EXPECTED[name]
    p = load_profile(name)
    for section in (p.settings, p.lora, p.quantized):
        for value in section.values():
            assert value.source  # every value names where it was read


def test_explicit_flags_override_the_profile():
    given = {"recipe": None, "loss": "full", "lora_rank": "16", "lora_targets": None}
    options, applied = apply_profile("litgpt", given, quantized=False)
    assert options["loss"] == "full" and options["lora_rank"] == "16"  # the user's
    assert options["lora_targets"] == "q,v" and options["recipe"] == "mixed"  # the profile's
    assert "--loss" not in {s.option for s in applied.settings}


def test_report_lists_what_the_profile_set():
    res = runner.invoke(
        app, ["memory", "--preset", "llama2-7b", "--mode", "train", "--seq", "512", "--framework", "peft", "--json"]
    )
    data = json.loads(res.output)
    options = {s["option"]: s["value"] for s in data["framework"]["settings"]}
    assert options["--lora-targets"] == "q,v" and options["--lora-rank"] == 8
    assert data["trainable_params"] == 32 * 8 * (4096 + 4096) * 2  # q and v: A [8, 4096] + B [4096, 8] per layer


def test_unknown_framework_is_a_one_line_error():
    res = runner.invoke(app, ["memory", "--preset", "llama2-7b", "--mode", "train", "--framework", "megatron"])
    assert res.exit_code == 2 and "unknown framework 'megatron'" in res.output
