"""The memory accountant against the lecture, the ZeRO paper, vLLM and arithmetic written out here."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from llm_budget.hardware import Precision
from llm_budget.memory import (
    InferSetup,
    TrainSetup,
    inference_memory,
    kv_cache_bytes,
    quantized_weight_bytes,
    rule_of_thumb,
    training_memory,
)
from llm_budget.model.counter import count_params
from llm_budget.model.inventory import ParamTensor, parameter_tensors
from llm_budget.model.presets import load_preset
from llm_budget.model.spec import ModelSpec

GB = 10**9
SMALL = ModelSpec(d_embed=256, n_heads=8, n_kv_heads=2, n_layers=4, n_vocab=1000, d_mlp=704, mlp="gated")


def states_only(report) -> dict[str, int]:
    return {c.name: c.bytes for c in report.components}


# -- the lecture ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, store_gb, train_gb",
    [(1e9, 4, 24), (175e9, 700, 4_200), (500e9, 2_000, 12_000)],  # lecture: "Computational Challenges"
)
def test_lecture_rule_of_thumb(n, store_gb, train_gb):
    r = rule_of_thumb(int(n))
    assert r.phases[0].bytes == store_gb * GB
    assert r.total_bytes == train_gb * GB
    assert [c.bytes_per_param for c in r.components] == [4, 8, 4, 8]


def test_rule_of_thumb_scales_weights_grads_activations_not_adam():
    r = rule_of_thumb(10**9, Precision.bf16)
    assert [c.bytes_per_param for c in r.components] == [2, 8, 2, 4]
    assert r.total_bytes == 16 * GB


# -- model states per recipe (CPU accounting: no allocator rounding) --------------------------------


def model_state_bytes(spec, **kw) -> int:
    r = training_memory(spec, TrainSetup(device="cpu", batch=1, seq=8, **kw))
    s = states_only(r)
    return s.get("Weights", 0) + s.get("Master weights (FP32)", 0) + s.get("Optimizer states", 0)


@pytest.mark.parametrize(
    "convention, expected",
    # Rajbhandari et al. 2020 §3.1: 2 + 2 + 12 = 16; Megatron: 2 + 4 + 12 = 18; + FP32 grad copy: 20; autocast 4 + 4 + 8.
    [("zero", 16), ("megatron", 18), ("grad-copy", 20), ("autocast", 16)],
)
def test_mixed_precision_conventions(convention, expected):
    spec = SMALL
    n = count_params(spec).total
    r = training_memory(
        spec,
        TrainSetup(
            device="cpu", batch=1, seq=8, convention=convention, optimizer_impl="fused", implementation="reference"
        ),
    )
    # At the optimizer step every gradient exists: states + gradients + weights = bytes/param × N (+ step counters).
    step = next(p for p in r.phases if p.name == "optimizer step").bytes
    tokens = 2 * 1 * 8 * 8  # inputs: ids + targets
    n_tensors = sum(t.copies for t in parameter_tensors(spec))
    assert step - tokens - 4 * n_tensors == expected * n


def test_pure_bf16_adamw_is_8_bytes_per_param():
    n = count_params(SMALL).total
    r = training_memory(
        SMALL,
        TrainSetup(
            device="cpu",
            precision="bf16",
            recipe="pure",
            batch=1,
            seq=8,
            optimizer_impl="fused",
            implementation="reference",
        ),
    )
    s = states_only(r)
    assert s["Weights"] == 2 * n
    assert s["Optimizer states"] - 4 * sum(t.copies for t in parameter_tensors(SMALL)) == 4 * n


def test_optimizers():
    tensors = parameter_tensors(SMALL)
    n = sum(t.total for t in tensors)
    base = dict(device="cpu", precision="fp32", batch=1, seq=8, implementation="reference")
    sgd = states_only(training_memory(SMALL, TrainSetup(optimizer="sgd", **base)))
    assert "Optimizer states" not in sgd
    mom = states_only(training_memory(SMALL, TrainSetup(optimizer="sgd-momentum", **base)))
    assert mom["Optimizer states"] == 4 * n
    lion = states_only(training_memory(SMALL, TrainSetup(optimizer="lion", **base)))
    assert lion["Optimizer states"] == 4 * n
    # Adafactor: rows + columns per matrix, full size per vector (Shazeer & Stern 2018), FP32.
    ada = states_only(training_memory(SMALL, TrainSetup(optimizer="adafactor", **base)))
    expected = sum(t.copies * 4 * (sum(t.shape) if len(t.shape) == 2 else t.numel) for t in tensors)
    assert ada["Optimizer states"] - 4 * sum(t.copies for t in tensors) == expected
    # 8-bit AdamW: 1 byte per moment + FP32 absmax per 2048 values for tensors of 4096+ values, else FP32.
    eight = states_only(training_memory(SMALL, TrainSetup(optimizer="adamw8bit", **base)))
    expected = sum(
        t.copies * (2 * (t.numel + 4 * -(-t.numel // 2048)) if t.numel >= 4096 else 8 * t.numel) for t in tensors
    )
    assert eight["Optimizer states"] == expected


def test_lora_adapters_exact():
    r = 16
    rep = training_memory(SMALL, TrainSetup(device="cpu", precision="bf16", lora_rank=r, batch=1, seq=8))
    d, f, kvd, L = 256, 704, 64, 4
    # A [r, d_in] + B [d_out, r] for q, k, v, o, gate, up, down in every block (Hu et al. 2021).
    per_layer = r * ((d + d) + (d + kvd) * 2 + (d + d) + (d + f) * 2 + (f + d))
    assert rep.trainable_params == L * per_layer
    assert states_only(rep)["Adapters"] == 4 * L * per_layer
    assert rep.recipe == "lora"


def test_qlora_nf4_weights():
    t = ParamTensor("up", (704, 256), 1, "linear")
    n = 704 * 256
    assert quantized_weight_bytes(t, Precision.nf4) == n // 2 + 4 * (n // 64)  # FP32 absmax per 64 (QLoRA)
    assert quantized_weight_bytes(t, Precision.nf4, double_quant=True) == n // 2 + n // 64 + 4 * -(-(n // 64) // 256)
    assert quantized_weight_bytes(t, Precision.int8) == n + 4 * 704  # LLM.int8: FP32 absmax per row


def test_int8_training_needs_adapters():
    with pytest.raises(ValidationError, match="cannot be trained directly"):
        TrainSetup(precision="int8")
    with pytest.raises(ValidationError, match="needs --lora-rank"):
        TrainSetup(precision="bf16", recipe="lora")


# -- activations: the logits term the peak must not miss --------------------------------------------


def test_loss_buffers_dominate_large_vocab():
    # Llama 3 8B, batch 1 × 8192: 3 FP32 batch × seq × vocab buffers in the cross-entropy's backward.
    spec = load_preset("llama3-8b")
    r = training_memory(spec, TrainSetup(batch=1, seq=8192, device="cpu"))
    ce = next(p for p in r.phases if p.name == "backward: cross-entropy")
    fwd = next(p for p in r.phases if p.name == "forward: log_softmax")
    # ... plus the loss and nll_loss's total weight, 4 bytes each.
    assert ce.bytes - fwd.bytes == 3 * 8192 * 128256 * 4 - (8192 * 128256 * 2 + 2 * 8192 * 128256 * 4) + 8


def test_eager_attention_keeps_s_squared():
    s, h = 1024, 8
    for impl in ("reference", "hf"):
        base = dict(device="cpu", batch=1, seq=s, precision="bf16", recipe="pure", implementation=impl)
        sdpa = training_memory(SMALL, TrainSetup(attention="sdpa", **base)).settings.activations_per_layer_bytes
        eager = training_memory(SMALL, TrainSetup(attention="eager", **base)).settings.activations_per_layer_bytes
        # k and v are repeated to all 8 heads; the log-sum-exp (b·h·s·4) goes; the probabilities come:
        common = 2 * (256 - 64) * s * 2 - h * s * 4
        if impl == "reference":  # 16-bit probabilities, and masked_fill's boolean s × s mask
            assert eager - sdpa == common + h * s * s * 2 + s * s
        else:  # transformers: softmax(dtype=float32) keeps FP32 probabilities and probs @ v a 16-bit copy
            assert eager - sdpa == common + h * s * s * (4 + 2)


# -- inference -------------------------------------------------------------------------------------


def test_kv_cache_vectors():
    # vLLM (Kwon et al. 2023 §3): OPT-13B, 2 × 5120 × 40 × 2 bytes = 819,200 bytes (800 KB) per token.
    opt13 = ModelSpec(d_embed=5120, n_heads=40, n_layers=40, n_vocab=50272, d_mlp=20480)
    assert kv_cache_bytes(opt13, batch=1, tokens=1, precision=Precision.fp16) == 819_200
    # Llama 2/3 70B shape: 80 layers × 8 KV heads × 128 × 2 × 2 bytes = 327,680 B/token; 32K tokens = 10 GiB.
    l70 = load_preset("llama2-70b")
    assert kv_cache_bytes(l70, batch=1, tokens=1, precision=Precision.bf16) == 327_680
    assert kv_cache_bytes(l70, batch=1, tokens=32768, precision=Precision.bf16) == 10 * 2**30
    # Llama 3 8B: 32 × 8 × 128 × 2 × 2 = 128 KiB per token.
    assert kv_cache_bytes(load_preset("llama3-8b"), batch=1, tokens=1, precision=Precision.bf16) == 128 * 1024


def test_sliding_window_caps_the_cache():
    m = load_preset("mistral-7b")  # 4,096-token window
    assert kv_cache_bytes(m, batch=1, tokens=32768, precision=Precision.bf16) == kv_cache_bytes(
        m, batch=1, tokens=4096, precision=Precision.bf16
    )


def test_inference_weights_at_each_precision():
    spec = load_preset("llama2-7b")
    n = count_params(spec).total
    bf16 = inference_memory(spec, InferSetup(precision="bf16", device="cpu"))
    assert bf16.components[0].bytes == 2 * n
    fp32 = inference_memory(spec, InferSetup(precision="fp32", device="cpu"))
    assert fp32.components[0].bytes == 4 * n
    int8 = inference_memory(spec, InferSetup(precision="int8", device="cpu"))
    lin = sum(t.total for t in parameter_tensors(spec) if t.kind == "linear" and t.layer)
    rows = sum(t.shape[0] * t.copies for t in parameter_tensors(spec) if t.kind == "linear" and t.layer)
    assert int8.components[0].bytes == lin + 4 * rows + 2 * (n - lin)


def test_moe_keeps_every_expert_resident():
    spec = load_preset("mixtral-8x7b")
    r = inference_memory(spec, InferSetup(precision="bf16", context=4096, device="cpu"))
    assert r.components[0].bytes == 2 * 46_702_792_704


# -- properties ------------------------------------------------------------------------------------

sizes = st.sampled_from([8, 64, 256])


@given(st.integers(1, 8), sizes, st.sampled_from(["fp32", "pure", "mixed"]), st.sampled_from(["none", "full"]))
@settings(max_examples=40, deadline=None)
def test_totals_are_sums_and_grow_with_batch_and_seq(batch, seq, recipe, ckpt):
    prec = "fp32" if recipe == "fp32" else "bf16"
    kw = dict(device="cpu", precision=prec, recipe=None if recipe == "mixed" else recipe, checkpointing=ckpt)
    a = training_memory(SMALL, TrainSetup(batch=batch, seq=seq, **kw))
    assert a.total_bytes == sum(c.bytes for c in a.components)
    assert a.total_bytes == max(p.bytes for p in a.phases)
    assert training_memory(SMALL, TrainSetup(batch=batch + 1, seq=seq, **kw)).total_bytes > a.total_bytes
    assert training_memory(SMALL, TrainSetup(batch=batch, seq=seq * 2, **kw)).total_bytes > a.total_bytes


@given(st.integers(1, 8), st.sampled_from([128, 1024, 8192]))
@settings(max_examples=30, deadline=None)
def test_inference_grows_with_batch_and_context(batch, context):
    a = inference_memory(SMALL, InferSetup(batch=batch, context=context))
    assert a.total_bytes == sum(c.bytes for c in a.components)
    assert inference_memory(SMALL, InferSetup(batch=batch + 1, context=context)).total_bytes > a.total_bytes
    assert inference_memory(SMALL, InferSetup(batch=batch, context=context * 2)).total_bytes > a.total_bytes


@given(st.sampled_from([10**6, 10**9, 7 * 10**9]))
def test_lower_precision_never_needs_more(n):
    order = [Precision.fp32, Precision.bf16, Precision.fp8_e4m3]
    totals = [rule_of_thumb(n, p).total_bytes for p in order]
    assert totals == sorted(totals, reverse=True)
    infer = [
        inference_memory(SMALL, InferSetup(precision=p, context=512)).total_bytes
        for p in (Precision.fp32, Precision.bf16, Precision.int8, Precision.nf4)
    ]
    assert infer == sorted(infer, reverse=True)
    train = [
        training_memory(SMALL, TrainSetup(precision=p, recipe=r, batch=2, seq=64)).total_bytes
        for p, r in (("fp32", None), ("bf16", "pure"))
    ]
    assert train[1] < train[0]


# -- the command ------------------------------------------------------------------------------------


def _run(*args: str):
    from typer.testing import CliRunner

    from llm_budget.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_cli_lecture_table():
    r = _run("memory", "--params", "1e9")
    assert r.exit_code == 0, r.output
    assert "To store: 4.00 GB" in r.stdout and "To train: 24.00 GB" in r.stdout
    r = _run("memory", "--params", "175b", "--precision", "fp32")
    assert "4,200.00 GB" in r.stdout
    r = _run("memory", "--params", "1e9", "--units", "gib")
    assert "22.35 GiB" in r.stdout  # 24e9 / 2^30


def test_cli_json_schema():
    import json

    r = _run("memory", "--preset", "llama3-8b", "--batch", "4", "--seq", "8192", "--checkpointing", "full", "--json")
    data = json.loads(r.stdout)
    assert isinstance(data["total_bytes"], int)
    assert data["total_bytes"] == sum(c["bytes"] for c in data["components"])
    assert all({"name", "bytes"} <= set(c) for c in data["components"])
    assert data["assumptions"] and all(isinstance(a, str) for a in data["assumptions"])
    r = _run(
        "memory",
        "--preset",
        "mixtral-8x7b",
        "--mode",
        "infer",
        "--precision",
        "int8",
        "--batch",
        "8",
        "--context",
        "32768",
        "--json",
    )
    data = json.loads(r.stdout)
    assert any(
        c["name"].startswith("KV cache") and c["bytes"] == 8 * 32768 * 2 * 32 * 8 * 128 * 2 for c in data["components"]
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "llama2-7b", "--precision", "int8"], "cannot be trained directly"),
        (
            ["--preset", "llama2-7b", "--optimizer", "adamz"],
            "Invalid value for '--optimizer': 'adamz' is not one of 'adamw'",
        ),
        (["--preset", "llama2-7b", "--batch", "0"], "--batch must be positive"),
        (["--preset", "llama2-7b", "--seq", "-5"], "--seq must be positive"),
        (["--preset", "llama2-7b", "--precision", "fp12"], "unknown precision 'fp12'"),
        (["--preset", "llama2-7b", "--mode", "serve"], "Invalid value for '--mode': 'serve' is not one of"),
        (["--params", "7b", "--preset", "llama2-7b"], "not both"),
        ([], "give --params N"),
        (["--preset", "llama2-7b", "--lora-rank", "0"], "--lora-rank must be positive"),
    ],
)
def test_cli_bad_input(args, message):
    r = _run("memory", *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("precision, recipe, mask_bytes", [("fp32", None, 4), ("bf16", None, 4), ("bf16", "pure", 2)])
def test_hf_eager_checkpoints_keep_the_causal_mask(precision, recipe, mask_bytes):
    """transformers builds one float (b, 1, s, s) causal mask per forward for eager attention, in the residual dtype
    (FP32 under autocast); non-reentrant checkpoints save it as an input of every block, so it outlives the forward
    once. SDPA gets no mask (is_causal), and without checkpointing nothing saves it."""
    spec = load_preset("llama2-7b")
    b, s = 2, 1024

    def forward_end(attention: str, ckpt: str) -> int:
        setup = TrainSetup(
            precision=precision, recipe=recipe, batch=b, seq=s, attention=attention, checkpointing=ckpt, device="cpu"
        )
        return training_memory(spec, setup).settings.forward_end_bytes

    assert forward_end("eager", "full") - forward_end("sdpa", "full") == b * s * s * mask_bytes
    ref = TrainSetup(
        precision=precision,
        recipe=recipe,
        batch=b,
        seq=s,
        attention="eager",
        checkpointing="full",
        device="cpu",
        implementation="reference",
    )
    ref_sdpa = ref.model_copy(update={"attention": "sdpa"})
    assert (
        training_memory(spec, ref).settings.forward_end_bytes
        == training_memory(spec, ref_sdpa).settings.forward_end_bytes
    )


# -- the tables: recipes and optimizers --------------------------------------------------------------

from llm_budget.choices import Convention, Optimizer, OptimizerImpl, Recipe
from llm_budget.memory import OPTIMIZERS, RECIPES, recipe_bytes, training_step_peak


@pytest.mark.parametrize(
    "recipe, convention, adam_bytes_per_param",
    [
        # Rajbhandari et al. 2020 §3.1: 2 (fp16 weights) + 2 (fp16 gradients) + 4 (master) + 4 + 4 (Adam) = 16
        (Recipe.mixed, Convention.zero, 2 + 2 + 4 + 4 + 4),
        # Megatron-LM keeps FP32 main gradients: 2 + 4 + 4 + 8 = 18
        (Recipe.mixed, Convention.megatron, 2 + 4 + 4 + 8),
        # a 16-bit gradient plus an FP32 copy: 2 + 2 + 4 + 4 + 8 = 20
        (Recipe.mixed, Convention.grad_copy, 2 + 2 + 4 + 4 + 8),
        # torch.autocast: FP32 weights and gradients, FP32 Adam; no master copy
        (Recipe.mixed, Convention.autocast, 4 + 4 + 8),
        (Recipe.mixed, Convention.fsdp, 4 + 4 + 8),
        (Recipe.fp32, None, 4 + 4 + 8),
        # everything bf16, Adam's moments too
        (Recipe.pure, None, 2 + 2 + 2 + 2),
    ],
)
def test_recipe_table_bytes_per_param(recipe, convention, adam_bytes_per_param):
    entry = RECIPES[(recipe, convention)]
    assert entry.weight + entry.gradient + entry.extra_gradient + entry.master + 2 * entry.state == adam_bytes_per_param


def test_every_valid_setup_has_a_recipe_entry():
    for recipe in Recipe:
        for convention in Convention:
            precision = {"fp32": "fp32", "qlora": "nf4"}.get(recipe.value, "bf16")
            rank = 8 if recipe in (Recipe.lora, Recipe.qlora) else None
            setup = TrainSetup(precision=precision, recipe=recipe, convention=convention, lora_rank=rank)
            assert recipe_bytes(setup).compute in (2, 4)


def test_optimizer_table_is_complete_and_consistent():
    t = ParamTensor("up", (704, 256), 1, "linear")
    for optimizer in Optimizer:
        entry = OPTIMIZERS[optimizer]  # adding an Optimizer value without a table entry fails here
        assert set(entry.temporaries) == set(OptimizerImpl)
        if entry.states_per_param is not None:  # k full-size states: k × N × width (no rounding on the CPU)
            assert entry.state_bytes(t, 4, "cpu") == entry.states_per_param * 704 * 256 * 4
        assert "{w}" in entry.formula or entry.states_per_param in (None, 0)


def test_optimizer_step_temporaries_per_implementation():
    """PyTorch 2.13's AdamW: foreach copies every parameter, the for-loop twice the largest, fused nothing;
    SGD updates in place."""
    spec, n = SMALL, count_params(SMALL).total
    largest = max(t.numel for t in parameter_tensors(SMALL))
    base = dict(device="cpu", precision="fp32", batch=1, seq=8, implementation="reference")

    def step_phase(**kw) -> int:
        r = training_memory(spec, TrainSetup(**base, **kw))
        return next(p.bytes for p in r.phases if p.name == "optimizer step")

    fused = step_phase(optimizer_impl="fused")
    assert step_phase(optimizer_impl="foreach") - fused == 4 * n
    assert step_phase(optimizer_impl="for-loop") - fused == 2 * 4 * largest
    assert step_phase(optimizer="sgd-momentum", optimizer_impl="foreach") == step_phase(
        optimizer="sgd-momentum", optimizer_impl="fused"
    )


def test_adamw8bit_step_has_no_foreach_copy():
    """bitsandbytes' 8-bit AdamW updates each tensor in place with its own kernel (Optimizer8bit.step ->
    Optimizer2State.update_step -> F.optimizer_update_8bit_blockwise): no temporaries, whatever --optimizer-impl
    says. Issue 13: a foreach copy of every parameter was charged (282 GB for Llama 3 70B)."""
    base = dict(device="cuda", precision="bf16", batch=1, seq=8, optimizer="adamw8bit", implementation="reference")

    def step_phase(**kw) -> int:
        r = training_memory(SMALL, TrainSetup(**base, **kw))
        return next(p.bytes for p in r.phases if p.name == "optimizer step")

    assert step_phase(optimizer_impl="foreach") == step_phase(optimizer_impl="fused")
    assert step_phase(optimizer_impl="for-loop") == step_phase(optimizer_impl="fused")
    r = training_memory(load_preset("llama3-70b"), TrainSetup(optimizer="adamw8bit", batch=1, seq=8))
    temporaries = next((c.bytes for c in r.components if c.name == "Temporaries"), 0)
    assert temporaries < 2**30  # was a 4-byte copy of all 70.6e9 parameters: 282 GB
    assert r.peak_phase != "optimizer step"


# -- the step's timeline and its typed results ------------------------------------------------------


def test_timeline_phases_in_order():
    r = training_memory(SMALL, TrainSetup(device="cpu", batch=1, seq=8))
    names = [p.name for p in r.phases]
    assert names[:4] == [
        "forward: log_softmax",
        "backward: cross-entropy",
        "backward: unembedding",
        "backward: unembedding (FP32 gradient)",
    ]
    assert names[4] == "backward: final norm"
    regions = ["MLP", "MLP norm", "attention", "attention norm"]
    blocks = [f"backward: block {i}, {region}" for i in (3, 0) for region in regions]  # the last and the first block
    assert names[5:13] == blocks
    assert names[13:] == ["backward: embedding", "optimizer step"]


def test_step_peak_is_the_report():
    setup = TrainSetup(batch=2, seq=64, checkpointing="full", parallel={"dp": 4, "pp": 2, "zero": 1})
    peak = training_step_peak(SMALL, setup)
    report = training_memory(SMALL, setup)
    assert peak.bytes == report.total_bytes == sum(peak.live.values())
    assert peak.phases == report.phases
    assert report.peak_phase == peak.phase and peak.phase.startswith(
        ("first pipeline stage: ", "last pipeline stage: ")
    )
    assert (peak.phase.split(": ", 1)[1], peak.bytes) in peak.points


def test_settings_keep_their_json_keys():
    import json

    train = json.loads(training_memory(SMALL, TrainSetup(batch=2, seq=64)).model_dump_json())["settings"]
    assert list(train) == [
        "batch",
        "seq",
        "optimizer",
        "optimizer_impl",
        "checkpointing",
        "attention",
        "device",
        "activations_per_layer_bytes",
        "parallel",
        "gathered_bytes",
        "weight_bytes",
        "optimizer_state_bytes",
        "gradient_bytes",
        "forward_end_bytes",
    ]
    assert train["optimizer"] == "adamw" and train["optimizer_impl"] == "foreach" and train["seq"] == 64
    assert train["parallel"] == {"dp": 1, "tp": 1, "pp": 1, "zero": 0, "sp": False, "micro_batches": None}
    infer = json.loads(inference_memory(SMALL, InferSetup(context=256)).model_dump_json())["settings"]
    assert infer == {"batch": 1, "context": 256, "prompt": 256, "kv_precision": "bf16", "device": "cuda"}
    assert json.loads(rule_of_thumb(10**9).model_dump_json())["settings"] == {}


def test_prefill_peak_at_one_token_is_the_head_not_a_block_plus_the_head():
    """Issue 13: GPT-2 at batch 4096 × prompt 1. The logits are made after the last block has freed its
    temporaries, so the peak is the head: the final residual x, the 16-bit logits and their FP32 copy,
    plus the int64 token ids (GPT-2 has learned positions: no rotary tables)."""
    from llm_budget.memory.prefill import prefill_workspace

    spec = load_preset("gpt2-124m")
    b, t, d, v, c = 4096, 4096, 768, 50257, 2
    head = t * d * c + b * v * (c + 4)
    block = 3 * t * d * c + 4 * t * 3072 * c  # x, h, normed + GELU-new's four t × d_mlp tensors
    assert block < head
    assert prefill_workspace(spec, batch=b, prompt=1, c=c) == head + t * 8


def test_prefill_counts_the_token_ids_and_the_rotary_tables():
    """Llama 3 8B, batch 8 × prompt 8192 in bf16: the gated MLP's block is the peak; the token ids
    (8 B each) and rotary's cos and sin (2 × prompt × d_head × 2 B) are live through every block."""
    from llm_budget.memory.prefill import prefill_workspace

    spec = load_preset("llama3-8b")
    t, d, c = 8 * 8192, 4096, 2
    block = 3 * t * d * c + 3 * t * 14336 * c  # x, h, normed + act(gate), up and their product
    assert prefill_workspace(spec, batch=8, prompt=8192, c=c) == block + t * 8 + 2 * 8192 * 128 * c


def test_a_standard_mlp_backward_holds_one_hidden_gradient_a_gated_one_two():
    """Issue 13: fc2's backward frees the activation's output as it makes its gradient, and GELU's backward
    makes grad h from it: one t × d_mlp tensor above the saved ones. Gated: grad of the product, then
    grad act(gate) and grad up, with the product freed: two."""
    from llm_budget.memory import TrainSetup
    from llm_budget.memory.step import unsharded_step

    setup = TrainSetup(precision="bf16", recipe="pure", batch=2, seq=512, device="cpu")
    t, c = 2 * 512, 2
    standard = ModelSpec(d_embed=64, n_heads=4, n_layers=1, n_vocab=64, d_mlp=256)
    gated = ModelSpec(d_embed=64, n_heads=4, n_layers=1, n_vocab=64, d_mlp=256, mlp="gated")
    assert unsharded_step(standard, setup).backward_regions(1, False, 1)["MLP"].temporaries == t * 256 * c
    assert unsharded_step(gated, setup).backward_regions(1, False, 1)["MLP"].temporaries == 2 * t * 256 * c


def test_selective_checkpointing_keeps_the_cores_inputs_at_their_dtype():
    """Issue 13: under autocast with rotary positions the checkpointed core's q and k are FP32 (q·cos with an
    FP32 table), where the core alone saves 16-bit casts: selective keeps t·(q + k widths)·2 B more per block
    than the core's own 16-bit q, k."""
    from llm_budget.memory import TrainSetup
    from llm_budget.memory.step import unsharded_step

    spec = ModelSpec(d_embed=64, n_heads=4, n_layers=1, n_vocab=64, d_mlp=256)
    ref = {"implementation": "reference"}  # the probe's model (for transformers' models this rule does not apply)
    mixed = unsharded_step(spec, TrainSetup(precision="bf16", batch=2, seq=512, device="cpu", **ref))
    pure = unsharded_step(spec, TrainSetup(precision="bf16", recipe="pure", batch=2, seq=512, device="cpu", **ref))
    t = 2 * 512
    lse = 2 * 4 * 512 * 4  # SDPA's FP32 log-sum-exp, b · heads · s · 4 B: what selective drops
    assert pure.activations_on_rank(1, False).selective == lse
    assert mixed.activations_on_rank(1, False).selective == lse - t * (64 + 64) * 2
