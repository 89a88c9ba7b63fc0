"""The counter against the lecture's GPT-3 table and against arithmetic written out here."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_budget.model import counter
from llm_budget.model.counter import count_params
from llm_budget.model.inventory import ComponentCount, parameter_tensors
from llm_budget.model.presets import all_presets
from llm_budget.model.spec import ModelSpec

# The lecture's slide "High Number of Parameters" (3Blue1Brown's GPT-3 tally), row by row.
LECTURE_GPT3 = {
    "Embedding": 617_558_016,
    "Key": 14_495_514_624,
    "Query": 14_495_514_624,
    "Value": 14_495_514_624,
    "Output": 14_495_514_624,
    "Up-projection": 57_982_058_496,
    "Down-projection": 57_982_058_496,
    "Unembedding": 617_558_016,
}
LECTURE_GPT3_TOTAL = 175_181_291_520


def lecture_gpt3() -> ModelSpec:
    return ModelSpec(d_embed=12288, n_heads=96, n_layers=96, n_vocab=50257, d_mlp=49152, norm="none", position="none")


def test_gpt3_reproduces_the_lecture_row_by_row():
    count = count_params(lecture_gpt3())
    assert {c.name: c.count for c in count.components} == LECTURE_GPT3
    assert count.total == LECTURE_GPT3_TOTAL
    rows = {c.name: c for c in count.components}
    # The lecture's notation and numbers, as on the slide.
    assert rows["Embedding"].formula == "d_embed × n_vocab"
    assert rows["Embedding"].expression == "12,288 × 50,257"
    assert rows["Key"].formula == "d_query × d_embed × n_heads × n_layers"
    assert rows["Key"].expression == "128 × 12,288 × 96 × 96"
    assert rows["Value"].formula == "d_value × d_embed × n_heads × n_layers"
    assert rows["Output"].formula == "d_embed × d_value × n_heads × n_layers"
    assert rows["Up-projection"].expression == "49,152 × 12,288 × 96"


def test_lecture_closed_form():
    # 12·L·d² + 2·V·d when d_mlp = 4·d and there is nothing but weight matrices.
    L, d, V = 96, 12288, 50257
    assert count_params(lecture_gpt3()).total == 12 * L * d * d + 2 * V * d


def test_llama2_7b_from_sizes_alone():
    # Llama defaults (RMSNorm ×2 per layer + final, rotary, untied, no bias), written out:
    d, L, V, f = 4096, 32, 32000, 11008
    expected = 2 * V * d + L * (4 * d * d + 3 * d * f + 2 * d) + d
    spec = ModelSpec(d_embed=d, n_heads=32, n_layers=L, n_vocab=V, d_mlp=f, mlp="gated")
    assert count_params(spec).total == expected == 6_738_415_616


def test_grouped_query_attention_shrinks_key_and_value_only():
    d, h, kv, L = 4096, 32, 8, 32
    dh = d // h
    count = count_params(ModelSpec(d_embed=d, n_heads=h, n_kv_heads=kv, n_layers=L, n_vocab=1000, d_mlp=14336))
    assert count.get("Key") == count.get("Value") == dh * d * kv * L
    assert count.get("Query") == count.get("Output") == d * d * L


def test_tied_embeddings_save_exactly_one_matrix():
    base = dict(d_embed=512, n_heads=8, n_layers=4, n_vocab=5000, d_mlp=2048)
    untied = count_params(ModelSpec(**base)).total
    tied = count_params(ModelSpec(**base, tied_embeddings=True)).total
    assert untied - tied == 5000 * 512


def test_moe_total_and_active():
    # Mixtral 8x7B: Jiang et al. 2024 report 47B total, 13B active; written out exactly here.
    d, L, V, f, E, k, kv, dh = 4096, 32, 32000, 14336, 8, 2, 8, 128
    attn = L * (2 * d * d + 2 * d * kv * dh)
    experts = L * E * 3 * f * d
    router = L * E * d
    rest = attn + router + 2 * V * d + (2 * L + 1) * d
    spec = ModelSpec(
        d_embed=d,
        n_heads=32,
        n_kv_heads=kv,
        n_layers=L,
        n_vocab=V,
        d_mlp=f,
        mlp="gated",
        n_experts=E,
        n_active_experts=k,
    )
    count = count_params(spec)
    assert count.total == rest + experts == 46_702_792_704
    assert count.active == rest + experts * k // E == 12_879_925_248
    assert count.get("Experts") == experts and count.get("Router") == router


def test_full_gpt_accounting_closed_form():
    # GPT-2/3 layout: 12·L·d² + 13·L·d + (V + n_ctx)·d + 2·d with tied embeddings (biases 9·L·d, LN 4·L·d + 2·d).
    L, d, V, n_ctx = 12, 768, 50257, 1024
    spec = ModelSpec(
        d_embed=d,
        n_heads=12,
        n_layers=L,
        n_vocab=V,
        d_mlp=4 * d,
        norm="layernorm",
        position="learned",
        n_positions=n_ctx,
        tied_embeddings=True,
        attn_qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
    )
    assert count_params(spec).total == 12 * L * d * d + 13 * L * d + (V + n_ctx) * d + 2 * d == 124_439_808


def test_explicit_head_size():
    # Gemma 7B: 16 heads of 256 on a 3072-wide stream (Q is 3072 -> 4096).
    spec = ModelSpec(
        d_embed=3072,
        n_heads=16,
        d_head=256,
        n_layers=28,
        n_vocab=256000,
        d_mlp=24576,
        mlp="gated",
        tied_embeddings=True,
    )
    count = count_params(spec)
    assert count.get("Query") == 3072 * 16 * 256 * 28
    # Gemma Team 2024, Table 2: 7,751,248,896 non-embedding parameters for Gemma 7B.
    assert count.non_embedding == 7_751_248_896


def test_qk_norm_counts():
    base = dict(d_embed=256, n_heads=8, n_kv_heads=2, n_layers=3, n_vocab=100, d_mlp=512)
    none = count_params(ModelSpec(**base)).total
    assert count_params(ModelSpec(**base, qk_norm="shared")).total - none == 3 * 2 * 32
    assert count_params(ModelSpec(**base, qk_norm="per_head")).total - none == 3 * (8 + 2) * 32


@pytest.mark.parametrize(
    "bad, field",
    [
        (dict(d_embed=100, n_heads=3), "d_embed=100 is not divisible by n_heads=3"),
        (dict(n_kv_heads=3), "not divisible by n_kv_heads=3"),
        (dict(n_experts=4, n_active_experts=5), "n_active_experts=5 is larger than n_experts=4"),
        (dict(n_experts=4), "needs n_active_experts"),
        (dict(position="learned"), "needs n_positions"),
        (dict(norm="rmsnorm", norm_bias=True), "norm_bias=true needs norm=layernorm"),
    ],
)
def test_invalid_specs_name_the_field(bad, field):
    from pydantic import ValidationError

    base = dict(d_embed=512, n_heads=8, n_layers=2, n_vocab=100, d_mlp=64) | bad
    with pytest.raises(ValidationError, match=field):
        ModelSpec(**base)


@pytest.mark.parametrize("field", ["d_embed", "n_heads", "n_layers", "n_vocab", "d_mlp"])
@pytest.mark.parametrize("value", [0, -4])
def test_non_positive_sizes_rejected(field, value):
    from pydantic import ValidationError

    base = dict(d_embed=512, n_heads=8, n_layers=2, n_vocab=100, d_mlp=64) | {field: value}
    with pytest.raises(ValidationError, match=field):
        ModelSpec(**base)


def test_spec_is_frozen_and_strict():
    from pydantic import ValidationError

    spec = lecture_gpt3()
    with pytest.raises(ValidationError):
        spec.n_layers = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="n_layer"):
        ModelSpec(d_embed=512, n_heads=8, n_layer=2, n_vocab=100, d_mlp=64)  # typo: n_layer


# -- the count next to each formula is what its expression states --------------------------------


def evaluate(expression: str) -> int:
    """The printed expression ("32 × (32 + 2·8) × 128", "12,288 × 50,257") as integer arithmetic."""
    tree = ast.parse(expression.replace(",", "").replace("×", "*").replace("·", "*"), mode="eval")

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = ev(node.left), ev(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise AssertionError(f"not plain arithmetic: {ast.dump(node)} in {expression!r}")

    return ev(tree.body)


def test_evaluate_reads_the_printed_arithmetic():
    assert evaluate("12,288 × 50,257") == 12288 * 50257
    assert evaluate("32 × (32 + 2·8) × 128") == 32 * 48 * 128
    assert evaluate("2·12 × 2·768 + 1 × 2·768") == 2 * 12 * 2 * 768 + 2 * 768


@pytest.mark.parametrize("spec", all_presets(), ids=lambda s: s.name)
def test_every_preset_row_count_is_its_expression(spec):
    for row in count_params(spec).components:
        assert evaluate(row.expression) == row.count, (spec.name, row.name, row.expression)


@pytest.mark.parametrize("spec", all_presets(), ids=lambda s: s.name)
def test_every_inventory_tensor_is_counted_in_its_row(spec):
    by_row: dict[str, int] = {}
    for t in parameter_tensors(spec):
        by_row[t.component] = by_row.get(t.component, 0) + t.total
    count = count_params(spec)
    assert {c.name: c.count for c in count.components if c.count} == by_row
    assert count.total == sum(t.total for t in parameter_tensors(spec))


def test_a_formula_that_disagrees_with_the_inventory_is_a_bug(monkeypatch):
    real = counter.component_counts

    def off_by_one(spec):
        counts = real(spec)
        key = counts["Key"]
        return counts | {"Key": ComponentCount(key.total + 1, key.active + 1)}

    monkeypatch.setattr(counter, "component_counts", off_by_one)
    with pytest.raises(AssertionError, match="Key: 128 × 12,288 × 96 × 96"):
        count_params(lecture_gpt3())


def test_moe_active_counts_k_of_n_experts_and_their_biases():
    # 2 of 8 experts per token: expert matrices and expert biases count 2/8, everything else fully.
    d, L, f, E = 64, 2, 96, 8
    spec = ModelSpec(
        d_embed=d,
        n_heads=4,
        n_layers=L,
        n_vocab=100,
        d_mlp=f,
        mlp="gated",
        mlp_bias=True,
        n_experts=E,
        n_active_experts=2,
        router_bias=True,
    )
    rows = {c.name: c for c in count_params(spec).components}
    assert rows["Experts"].active == 2 * 3 * f * d * L
    assert rows["Biases"].count == L * E * (2 * f + d) + L * E
    assert rows["Biases"].active == L * 2 * (2 * f + d) + L * E
    assert rows["Router"].active == rows["Router"].count == E * d * L


def test_result_carries_the_published_comparison_and_shares():
    from llm_budget.model.presets import load_preset

    llama = count_params(load_preset("llama2-7b").with_overrides(n_layers=16))
    assert llama.published_params == 6_738_415_616  # the preset's, kept through overrides
    assert llama.published_diff == llama.total - 6_738_415_616 < 0
    assert count_params(lecture_gpt3()).published_diff is None
    moe = count_params(
        ModelSpec(d_embed=64, n_heads=4, n_layers=2, n_vocab=100, d_mlp=96, n_experts=4, n_active_experts=1)
    )
    assert moe.active_percent == 100 * moe.active / moe.total < 100
    assert sum(moe.percent_of_total(c) for c in moe.components) == pytest.approx(100)


# -- properties ------------------------------------------------------------------------------------

specs = st.builds(
    lambda heads, head, kv_div, layers, vocab, mlp_mult, mlp, norm, pos, tied, bias, experts, qk: ModelSpec(
        d_embed=heads * head,
        n_heads=heads,
        n_kv_heads=heads // kv_div if heads % kv_div == 0 else heads,
        n_layers=layers,
        n_vocab=vocab,
        d_mlp=mlp_mult * head,
        mlp=mlp,
        norm=norm,
        position=pos,
        n_positions=2048 if pos == "learned" else None,
        tied_embeddings=tied,
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=bias,
        n_experts=experts,
        n_active_experts=min(2, experts),
        qk_norm=qk if norm != "none" else "none",
    ),
    st.integers(1, 64),
    st.integers(1, 256),
    st.sampled_from([1, 2, 4, 8]),
    st.integers(1, 128),
    st.integers(1, 300_000),
    st.integers(1, 64),
    st.sampled_from(["standard", "gated"]),
    st.sampled_from(["none", "layernorm", "rmsnorm"]),
    st.sampled_from(["none", "learned", "rotary", "alibi"]),
    st.booleans(),
    st.booleans(),
    st.sampled_from([1, 2, 8, 16]),
    st.sampled_from(["none", "shared", "per_head"]),
)


@pytest.mark.slow
@given(specs)
@settings(max_examples=300, deadline=None)
def test_breakdown_sums_to_total(spec):
    count = count_params(spec)
    assert count.total == sum(c.count for c in count.components)
    assert count.active == sum(c.active for c in count.components)
    assert 0 < count.active <= count.total
    assert all(c.count >= 0 for c in count.components)
    assert all(evaluate(c.expression) == c.count for c in count.components)


GROWABLE = ["d_embed", "d_head", "n_heads", "n_layers", "n_vocab", "d_mlp", "n_experts"]


@pytest.mark.slow
@given(specs, st.sampled_from(GROWABLE), st.integers(1, 5))
@settings(max_examples=300, deadline=None)
def test_counts_grow_with_every_size(spec, field, step):
    # Pin the head size so that widening d_embed or adding heads keeps the spec valid.
    data = spec.model_dump(exclude_none=True) | {"d_head": spec.head_dim, "n_kv_heads": spec.kv_heads}
    if field == "n_heads":
        data["n_heads"] = spec.n_heads * (step + 1)  # stays a multiple of n_kv_heads
    elif field == "n_experts":
        data["n_experts"] = spec.n_experts + step
        data["n_active_experts"] = spec.active_experts
    else:
        data[field] = data[field] + step
    assert count_params(ModelSpec.model_validate(data)).total > count_params(spec).total
