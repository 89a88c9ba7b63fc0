"""The saved-tensor inventory against what PyTorch really keeps: the probe's reference model run under
fake tensors (nothing allocated), byte for byte. These are the accountant's foundations."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from llm_budget.memory import Step, TrainSetup, head_saved, layer_saved, training_memory
from llm_budget.model.inventory import parameter_tensors
from llm_budget.model.spec import ModelSpec
from llm_budget.probe.measure import measure_training_step

BASE = dict(d_embed=256, n_heads=8, n_layers=4, n_vocab=1000, d_mlp=704)
CASES = {
    "llama-gqa": dict(BASE, n_kv_heads=2, mlp="gated"),
    "gpt2-dropout": dict(
        BASE,
        mlp="standard",
        activation="gelu_new",
        norm="layernorm",
        position="learned",
        n_positions=1024,
        attn_qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        tied_embeddings=True,
        dropout=0.1,
    ),
    "cohere-qknorm": dict(
        BASE,
        n_kv_heads=2,
        mlp="gated",
        norm="layernorm",
        norm_bias=False,
        norms_per_layer=1,
        qk_norm="per_head",
        tied_embeddings=True,
    ),
    "gemma2-sandwich": dict(
        BASE, mlp="gated", activation="gelu_tanh", d_head=64, norms_per_layer=4, tied_embeddings=True
    ),
    "bloom-alibi": dict(
        BASE,
        mlp="standard",
        activation="gelu_tanh",
        norm="layernorm",
        embed_norm=True,
        position="alibi",
        attn_qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        tied_embeddings=True,
    ),
    "moe": dict(BASE, n_kv_heads=2, mlp="gated", n_experts=4, n_active_experts=2),
}
RECIPES = {
    "pure": dict(precision="bf16", recipe="pure"),
    "autocast": dict(precision="bf16"),
    "fp32": dict(precision="fp32"),
}
B, S = 2, 64


def forward_bytes(spec: ModelSpec, setup: TrainSetup) -> int:
    return measure_training_step(spec, setup, path="fake").forward


def predicted(spec: ModelSpec, setup: TrainSetup) -> tuple[int, int]:
    """(per block, everything else) at the end of forward, from the inventory."""
    flow = "autocast" if setup.resolved_recipe.value == "mixed" else "pure"
    c = 4 if setup.precision.value == "fp32" else 2
    st = Step(b=B, s=S, flow=flow, c=c, attention=setup.attention, device="cpu")
    per = sum(x.bytes for x in layer_saved(spec, st))
    rest = sum(x.bytes for x in head_saved(spec, st)) + 4 * B * S * spec.n_vocab + 8  # log-probabilities, loss, weight
    if flow == "autocast":  # the 16-bit weight copies autocast caches in forward
        lin = [t for t in parameter_tensors(spec) if t.kind == "linear"]
        per += 2 * sum(t.total for t in lin if t.layer) // spec.n_layers
        rest += 2 * sum(t.total for t in lin if not t.layer) + (
            2 * spec.n_vocab * spec.d_embed if spec.tied_embeddings else 0
        )
    return per, rest


@pytest.mark.slow  # fake-tensor runs of 1 and 3 blocks: seconds per case
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("recipe", sorted(RECIPES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_saved_tensors_match_pytorch_exactly(case, recipe, attention):
    spec = ModelSpec(**CASES[case])
    kw = dict(
        RECIPES[recipe], batch=B, seq=S, attention=attention, device="cpu", optimizer="sgd", implementation="reference"
    )
    one = forward_bytes(spec, TrainSetup(n_layers=1, **kw))
    three = forward_bytes(spec, TrainSetup(n_layers=3, **kw))
    per_block, rest = (three - one) // 2, one - (three - one) // 2
    want_block, want_rest = predicted(spec.with_overrides(n_layers=1), TrainSetup(**kw))
    assert per_block == want_block
    assert rest == want_rest


def test_inventory_sums_match_counter_for_every_preset():
    from llm_budget.model.counter import count_params
    from llm_budget.model.presets import all_presets

    for spec in all_presets():
        assert sum(t.total for t in parameter_tensors(spec)) == count_params(spec).total, spec.name


GRID = [
    dict(precision="bf16", recipe="pure", batch=2, seq=64),
    dict(precision="bf16", batch=2, seq=64),
    dict(precision="fp32", batch=1, seq=8),
    dict(precision="bf16", recipe="pure", batch=8, seq=256),
    dict(precision="bf16", batch=4, seq=128, attention="eager"),
    dict(precision="bf16", recipe="pure", batch=1, seq=8, optimizer_impl="foreach"),
    dict(precision="bf16", recipe="pure", batch=4, seq=128, checkpointing="full"),
    dict(precision="bf16", batch=4, seq=128, checkpointing="full"),
    dict(precision="bf16", recipe="pure", batch=4, seq=128, optimizer="sgd"),
]


@pytest.mark.slow  # a full fake-tensor training step per case: seconds each
@pytest.mark.parametrize("i", range(len(GRID)))
@pytest.mark.parametrize("case", ["llama-gqa", "gpt2-dropout", "moe"])
def test_peak_within_5_percent(case, i):
    """The training-step peak (timeline of the accountant) against the fake-tensor measurement."""
    spec = ModelSpec(**CASES[case])
    setup = TrainSetup(device="cpu", implementation="reference", **GRID[i])
    est = training_memory(spec, setup).total_bytes
    meas = measure_training_step(spec, setup, path="fake").peak
    assert abs(est - meas) / meas < 0.05, (est, meas)
