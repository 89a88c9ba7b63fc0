"""LoRA and QLoRA as frameworks build them: the frozen base's storage independent of the compute recipe,
adapter dtypes, target sets, dropout, double quantization. Expected bytes are arithmetic written here from
the parameter counts (Hu et al. 2021 §4.1; Dettmers et al. 2023 §3) and the frameworks' documented dtypes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from llm_budget.cli import app
from llm_budget.memory import TrainSetup, training_memory
from llm_budget.model.presets import load_preset
from llm_budget.model.spec import ModelSpec

SMALL = ModelSpec(d_embed=256, n_heads=8, n_kv_heads=2, n_layers=4, n_vocab=1000, d_mlp=704, mlp="gated")
d, f, kvd, L, V = 256, 704, 64, 4, 1000
N_BASE = L * (d * d * 2 + d * kvd * 2 + 3 * d * f + 2 * d) + 2 * V * d + d  # untied embeddings, RMSNorm weights
runner = CliRunner()


def lines(report) -> dict[str, int]:
    return {c.name: c.bytes for c in report.components}


def lora(**kw) -> TrainSetup:
    return TrainSetup(device="cpu", batch=1, seq=8, lora_rank=8, **kw)


def test_small_base_count():
    assert training_memory(SMALL, lora(precision="bf16")).params == N_BASE


@pytest.mark.parametrize(
    "kw, base_bytes",
    [
        (dict(precision="fp32"), 4),  # the bug: an FP32 base was counted at 2 bytes/param
        (dict(precision="bf16", recipe="fp32"), 4),
        (dict(precision="bf16", recipe="mixed"), 4),  # FP32 base under autocast (HF Trainer bf16=True)
        (dict(precision="bf16", recipe="pure"), 2),  # litgpt bf16-true
        (dict(precision="bf16"), 2),  # PEFT on a bf16 model
    ],
)
def test_base_storage_independent_of_the_recipe(kw, base_bytes):
    rep = training_memory(SMALL, lora(**kw))
    # transformers LlamaRotaryEmbedding: FP32 inv_freq and original_inv_freq, d_head / 2 values each (CPU: no rounding)
    rotary = 2 * 4 * (d // 8) // 2
    assert lines(rep)["Weights"] == N_BASE * base_bytes + rotary
    assert rep.recipe == "lora"


@pytest.mark.parametrize("recipe", ["mixed", "pure", "fp32"])
def test_lora_survives_every_recipe(recipe):
    """The bug: --recipe mixed|pure|fp32 with --lora-rank trained every parameter."""
    rep = training_memory(SMALL, lora(precision="bf16", recipe=recipe))
    r = 8
    per_layer = r * ((d + d) + (d + kvd) * 2 + (d + d) + (d + f) * 2 + (f + d))
    assert rep.trainable_params == L * per_layer
    assert "Gradients" not in lines(rep) or lines(rep)["Gradients"] < N_BASE


def test_autocast_base_holds_16_bit_copies():
    """Under autocast a frozen FP32 weight is cast for each matmul; the cast is saved by the matmul for the
    input's gradient (mm saves mat2 when mat1 requires grad): 2 bytes per base matmul weight, blocks + head."""
    rep = training_memory(SMALL, lora(precision="bf16", recipe="mixed"))
    linears = L * (d * d * 2 + d * kvd * 2 + 3 * d * f) + V * d
    assert lines(rep)["16-bit weight copies (autocast)"] == 2 * linears


@pytest.mark.parametrize("adapter, width", [(None, 4), ("fp32", 4), ("bf16", 2)])
def test_adapter_precision(adapter, width):
    rep = training_memory(SMALL, lora(precision="bf16", adapter_precision=adapter))
    n = rep.trainable_params
    assert lines(rep)["Adapters"] == n * width
    step_scalars = 4 * 2 * 7 * L  # torch's FP32 `step` per tensor on the CPU: A and B of 7 matrices per block
    assert lines(rep)["Optimizer states"] == 2 * n * width + step_scalars  # AdamW moments in the parameter's dtype


def test_pure_keeps_adapters_in_the_base_dtype():
    rep = training_memory(SMALL, lora(precision="bf16", recipe="pure"))
    assert lines(rep)["Adapters"] == rep.trainable_params * 2


@pytest.mark.parametrize(
    "targets, per_layer",
    [
        ("q,v", (d + d) + (d + kvd)),  # PEFT's default for Llama, litgpt's lora_query + lora_value
        ("q_proj,v_proj", (d + d) + (d + kvd)),
        ("attention", (d + d) + 2 * (d + kvd) + (d + d)),
        ("mlp", 2 * (d + f) + (f + d)),
        ("all-linear", (d + d) + 2 * (d + kvd) + (d + d) + 2 * (d + f) + (f + d)),
    ],
)
def test_lora_targets(targets, per_layer):
    rep = training_memory(SMALL, lora(precision="bf16", lora_targets=targets))
    assert rep.trainable_params == 8 * L * per_layer


def test_lora_target_matching_nothing_is_a_one_line_error():
    res = runner.invoke(app, ["memory", "--preset", "llama2-7b", "--lora-rank", "8", "--lora-targets", "q,wq"])
    assert res.exit_code == 2
    assert "'wq' matches no linear module" in res.output
    assert "Traceback" not in res.output


def test_double_quant_shrinks_the_nf4_base():
    spec = load_preset("llama2-7b")
    plain = training_memory(spec, TrainSetup(precision="nf4", lora_rank=8, seq=512))
    dq = training_memory(spec, TrainSetup(precision="nf4", lora_rank=8, seq=512, double_quant=True))
    # per 64 values: 4 bytes of FP32 absmax become 1 byte + 4/256 (Dettmers et al. 2023 §3: 0.373 bits/param saved)
    blocks_linear = 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008) // 64
    saved = lines(plain)["Weights"] - lines(dq)["Weights"]
    assert abs(saved - blocks_linear * (3 - 4 / 256)) < 32 * 7 * 512 * 2  # allocator rounding per tensor


def test_options_need_lora():
    with pytest.raises(ValidationError, match="--lora-dropout applies to LoRA"):
        TrainSetup(precision="bf16", lora_dropout=0.05)
    with pytest.raises(ValidationError, match="needs --precision nf4"):
        TrainSetup(precision="bf16", lora_rank=8, double_quant=True)


def test_cli_fp32_lora_bug():
    """`memory --preset llama2-7b --mode train --precision fp32 --lora-rank 8 --seq 1304`: weights 26.95 GB
    (6,738,415,616 parameters × 4 bytes), not the bf16 13.48 GB."""
    res = runner.invoke(
        app,
        ["memory", "--preset", "llama2-7b", "--mode", "train", "--precision", "fp32", "--lora-rank", "8",
         "--seq", "1304", "--json"],
    )  # fmt: skip
    import json

    data = json.loads(res.output)
    weights = next(c["bytes"] for c in data["components"] if c["name"] == "Weights")
    assert abs(weights - 6_738_415_616 * 4) < 10**7
    assert data["trainable_params"] < 10**8


def _saved(rep) -> int:
    return rep.settings.activations_per_layer_bytes


def test_peft_casts_each_adapted_input_to_fp32():
    """A bf16 base with FP32 adapters, no autocast: PEFT's `x = self._cast_input_dtype(x, lora_A.weight.dtype)`
    makes an FP32 copy of each adapted input, saved by lora_A; lora_B saves lora_A's output [t, r]."""
    t, r = 8, 8
    bf16_adapters = training_memory(SMALL, lora(precision="bf16", adapter_precision="bf16", lora_targets="q,v"))
    fp32_adapters = training_memory(SMALL, lora(precision="bf16", lora_targets="q,v"))
    # bf16 adapters read x itself (already saved by the base): only A·x [t, r] × 2 for q and v
    # FP32 adapters: + an FP32 copy of the input per adapter (t × d × 4, q and v), A·x in FP32
    # and the bf16 x itself is no longer saved: the frozen q, k, v keep no input and no adapter reads x as it is
    extra = 2 * t * d * 4 + 2 * t * r * 4 - 2 * t * r * 2 - t * d * 2
    assert _saved(fp32_adapters) - _saved(bf16_adapters) == extra


def test_lora_dropout_keeps_a_dropped_copy_and_a_mask():
    """Each adapted module has its own dropout: its output (saved by lora_A) and its mask (CPU: the scaled noise
    in the input's dtype, 1 byte on CUDA) — q and v each keep both."""
    t = 8
    kw = dict(precision="bf16", recipe="pure", lora_targets="q,v")
    plain = training_memory(SMALL, lora(**kw))
    dropped = training_memory(SMALL, lora(**kw, lora_dropout=0.05))
    # the bf16 x itself is then not saved any more (the frozen base keeps no input; lora_A reads the dropped copy)
    assert _saved(dropped) - _saved(plain) == 2 * (t * d * 2 + t * d * 2) - t * d * 2


def test_qlora_dequantizes_the_largest_matrix_in_backward():
    """bitsandbytes' MatMul4Bit backward: grad_A = grad_output @ dequantize_4bit(B).to(dtype).t() — one
    d_mlp × d 16-bit matrix live in the MLP's backward, d × d in the attention's (Llama 2 7B: d 4096, d_mlp 11008)."""
    from llm_budget.memory.adapters import dequantized_weights

    spec = load_preset("llama2-7b")
    assert dequantized_weights(spec, TrainSetup(precision="nf4", lora_rank=8), 2) == (4096 * 4096 * 2, 11008 * 4096 * 2)


def test_paged_optimizer_states_are_outside_the_allocator():
    """bitsandbytes' paged optimizers allocate states with cudaMallocManaged: max_memory_allocated (our peak)
    loses exactly the optimizer-state line, and the assumptions say where the bytes went."""
    kw = dict(precision="bf16", lora_rank=8, seq=256, optimizer="adamw8bit")
    plain = training_memory(load_preset("llama2-7b"), TrainSetup(**kw))
    paged = training_memory(load_preset("llama2-7b"), TrainSetup(**kw, paged_optimizer=True))
    assert "Optimizer states" not in lines(paged)
    assert plain.total_bytes - paged.total_bytes == lines(plain)["Optimizer states"]
    assert any("unified memory" in a for a in paged.assumptions)
