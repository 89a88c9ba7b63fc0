"""The exact parameter counter: ModelSpec -> ParamCount, one row per component.

Notation is the lecture's (its GPT-3 table, after 3Blue1Brown): d_embed, n_vocab,
n_heads, n_layers, d_query = d_value = d_head, and d_mlp for the lecture's n_neurons.
Each row carries its formula, the same formula with the numbers put in, the count,
the count active per token (differs only for mixture-of-experts rows) and its source.
The counts come from the one parameter inventory (inventory.py), summed by row; each
row's formula, evaluated on the spec's sizes, must give the same number (asserted here,
and tested over every preset and random specs). The rows sum to the total.

With only the lecture's five sizes and no norms, biases or position table, the total is
    12·n_layers·d_embed² + 2·n_vocab·d_embed           (lecture; 3b1b2024)
which for GPT-3 (96 layers, d_embed 12,288, n_vocab 50,257, d_mlp 4·d_embed) is
175,181,291,520.
"""

from __future__ import annotations

from math import prod
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from llm_budget.model.inventory import ComponentCount, ComponentName, component_counts
from llm_budget.model.spec import MlpKind, ModelSpec, NormKind, PositionKind, QKNorm
from llm_budget.refs import cite


class Component(BaseModel):
    """One row of the breakdown."""

    model_config = ConfigDict(frozen=True)

    name: str
    formula: str  # symbolic, e.g. "d_query × d_embed × n_heads × n_layers"
    expression: str  # the same with numbers, e.g. "128 × 12,288 × 96 × 96"
    count: int
    active: int  # parameters a token uses (≠ count only for routed experts)
    source: str  # a refs.py key, "key: section"


class ParamCount(BaseModel):
    """The whole breakdown. `total == sum(c.count for c in components)`, always."""

    model_config = ConfigDict(frozen=True)

    model: str
    total: int
    active: int
    non_embedding: int  # total minus token/position embeddings and unembedding (Kaplan et al.'s N)
    components: list[Component]
    published_params: int | None = None  # the count its authors publish (ModelSpec.published_params)

    def get(self, name: str) -> int:
        """Count of the named row, 0 if the model has no such row."""
        return next((c.count for c in self.components if c.name == name), 0)

    def percent_of_total(self, component: Component) -> float:
        """The row's share of the total, in percent (0 for an empty model)."""
        return 100 * component.count / self.total if self.total else 0.0

    @property
    def active_percent(self) -> float:
        """Share of the parameters a token uses, in percent (100 for dense models)."""
        return 100 * self.active / self.total if self.total else 0.0

    @property
    def published_diff(self) -> int | None:
        """total − published count (0: matches exactly); None when nothing is published."""
        return None if self.published_params is None else self.total - self.published_params


EMBEDDING_ROWS = ("Embedding", "Position embedding", "Unembedding")


class _Formula(NamedTuple):
    """A row as written: symbols, the same with numbers, and the number that expression evaluates to."""

    name: ComponentName
    formula: str
    expression: str
    stated: int
    source: str  # a refs.py key


def _num(n: int) -> str:
    return f"{n:,}"


def _product(name: ComponentName, symbols: list[tuple[str, int]], source: str) -> _Formula:
    """A row that is a product of named sizes: formula, expression and value come from the same list."""
    return _Formula(
        name,
        " × ".join(s for s, _ in symbols),
        " × ".join(_num(v) for _, v in symbols),
        prod(v for _, v in symbols),
        source,
    )


def _sum(name: ComponentName, terms: list[tuple[str, str, int]], source: str) -> _Formula:
    """A row that is a sum of terms (formula, expression, value)."""
    return _Formula(
        name,
        " + ".join(t[0] for t in terms),
        " + ".join(t[1] for t in terms),
        sum(t[2] for t in terms),
        source,
    )


def count_params(spec: ModelSpec) -> ParamCount:
    """Count every parameter of `spec`, by component.

    Formula: per layer, Q and O are d_head·d_embed·n_heads each, K and V are
             d_head·d_embed·n_kv_heads each (Vaswani et al. 2017 §3.2.2; GQA: Ainslie et al.
             2023), the MLP is 2 or 3 (gated, Shazeer 2020) matrices of d_mlp·d_embed, times
             n_experts for MoE (Shazeer et al. 2017) plus a d_embed × n_experts router; plus
             norms, biases, embeddings. Matches the Hugging Face implementations exactly
             (tests build them on PyTorch's meta device and compare).
    Source:  lecture / 3b1b2024 (GPT-3 table); hf-transformers for each family's layout.

    Counts and active counts are the inventory's (inventory.component_counts); each row's
    formula must evaluate to its count, and every inventory tensor must fall in a row.
    """
    counted = component_counts(spec)
    formulas = _formulas(spec)
    uncounted = set(counted) - {f.name for f in formulas}
    assert not uncounted, f"inventory rows without a formula: {sorted(uncounted)}"
    rows = [_component(f, counted.get(f.name, ComponentCount(0, 0))) for f in formulas]
    total = sum(c.count for c in rows)
    embedding = sum(c.count for c in rows if c.name in EMBEDDING_ROWS)
    return ParamCount(
        model=spec.label,
        total=total,
        active=sum(c.active for c in rows),
        non_embedding=total - embedding,
        components=rows,
        published_params=spec.published_params,
    )


def _component(formula: _Formula, counted: ComponentCount) -> Component:
    """The printed row: the inventory's count, next to a formula that must state the same number."""
    assert formula.stated == counted.total, (
        f"{formula.name}: {formula.expression} = {formula.stated:,}, but the inventory holds {counted.total:,}"
    )
    return Component(
        name=formula.name,
        formula=formula.formula,
        expression=formula.expression,
        count=counted.total,
        active=counted.active,
        source=cite(formula.source),
    )


def _formulas(spec: ModelSpec) -> list[_Formula]:
    """Every row's formula, in the lecture's order (embeddings, attention, MLP), then norms, biases, unembedding."""
    d, V = spec.d_embed, spec.n_vocab
    rows = [_product("Embedding", [("d_embed", d), ("n_vocab", V)], "lecture: GPT-3 table")]
    if spec.position is PositionKind.learned:
        assert spec.n_positions is not None  # guaranteed by ModelSpec validation
        rows.append(
            _product("Position embedding", [("n_positions", spec.n_positions), ("d_embed", d)], "radford2019: §2.3")
        )
    rows += _attention(spec)
    rows += _mlp(spec)
    rows += [r for r in (_norms(spec), _biases(spec)) if r is not None]
    if spec.tied_embeddings:
        rows.append(_Formula("Unembedding", "tied: shares the Embedding matrix", "0", 0, "press2017"))
    else:
        rows.append(_product("Unembedding", [("n_vocab", V), ("d_embed", d)], "lecture: GPT-3 table"))
    return rows


def _attention(spec: ModelSpec) -> list[_Formula]:
    """Key, Query, Value, Output in the lecture's row order; K and V shrink with grouped-query attention."""
    L, d, h, kv, dh = spec.n_layers, spec.d_embed, spec.n_heads, spec.kv_heads, spec.head_dim
    gqa = kv != h
    kv_sym = ("n_kv_heads", kv) if gqa else ("n_heads", h)
    kv_src = "ainslie2023" if gqa else "vaswani2017: §3.2.2"
    return [
        _product("Key", [("d_query", dh), ("d_embed", d), kv_sym, ("n_layers", L)], kv_src),
        _product("Query", [("d_query", dh), ("d_embed", d), ("n_heads", h), ("n_layers", L)], "vaswani2017: §3.2.2"),
        _product("Value", [("d_value", dh), ("d_embed", d), kv_sym, ("n_layers", L)], kv_src),
        _product("Output", [("d_embed", d), ("d_value", dh), ("n_heads", h), ("n_layers", L)], "vaswani2017: §3.2.2"),
    ]


def _mlp(spec: ModelSpec) -> list[_Formula]:
    """Gate (gated MLPs only), up- and down-projection; or, for MoE, the router and the routed experts."""
    L, d, f = spec.n_layers, spec.d_embed, spec.d_mlp
    if spec.is_moe:
        E = spec.n_experts
        n_mats = 3 if spec.mlp is MlpKind.gated else 2
        return [
            _product("Router", [("n_experts", E), ("d_embed", d), ("n_layers", L)], "shazeer2017: §2.1"),
            _product(
                "Experts",
                [("n_experts", E), (str(n_mats), n_mats), ("d_mlp", f), ("d_embed", d), ("n_layers", L)],
                "shazeer2017: §2",
            ),
        ]
    rows = []
    if spec.mlp is MlpKind.gated:
        rows.append(_product("Gate", [("d_mlp", f), ("d_embed", d), ("n_layers", L)], "shazeer2020: §2"))
    rows.append(_product("Up-projection", [("d_mlp", f), ("d_embed", d), ("n_layers", L)], "lecture: GPT-3 table"))
    rows.append(_product("Down-projection", [("d_embed", d), ("d_mlp", f), ("n_layers", L)], "lecture: GPT-3 table"))
    return rows


def _norms(spec: ModelSpec) -> _Formula | None:
    """Scale (and LayerNorm shift) vectors of every norm.

    Formula: (norms_per_layer·n_layers + final + embedding norm) × d_embed × (2 with a shift, else 1),
             plus QK-norm weights: n_layers × 2 × d_head (shared) or n_layers × (n_heads + n_kv_heads) × d_head.
    """
    if spec.norm is NormKind.none:
        return None
    d, L = spec.d_embed, spec.n_layers
    width = 2 if spec.has_norm_bias else 1
    src = "ba2016" if spec.norm is NormKind.layernorm else "zhang2019"
    terms: list[tuple[str, str, int]] = []
    scale = "2·d_embed" if width == 2 else "d_embed"
    scale_num = f"2·{_num(d)}" if width == 2 else _num(d)
    if spec.norms_per_layer:
        k = spec.norms_per_layer
        terms.append((f"{k}·n_layers × {scale}", f"{k}·{_num(L)} × {scale_num}", k * L * width * d))
    extras = int(spec.final_norm) + int(spec.embed_norm)
    if extras:
        label = " + ".join(x for x, on in (("final", spec.final_norm), ("embedding norm", spec.embed_norm)) if on)
        terms.append((f"{extras} ({label}) × {scale}", f"{extras} × {scale_num}", extras * width * d))
    dh, h, kv = spec.head_dim, spec.n_heads, spec.kv_heads
    qk_mult = f" × {width}" if width == 2 else ""
    if spec.qk_norm is QKNorm.shared:
        terms.append((f"n_layers × 2 × d_head{qk_mult}", f"{_num(L)} × 2 × {_num(dh)}{qk_mult}", L * 2 * dh * width))
    elif spec.qk_norm is QKNorm.per_head:
        terms.append(
            (
                f"n_layers × (n_heads + n_kv_heads) × d_head{qk_mult}",
                f"{_num(L)} × ({h} + {kv}) × {_num(dh)}{qk_mult}",
                L * (h + kv) * dh * width,
            )
        )
    return _sum("Norms", terms, src) if terms else None


def _biases(spec: ModelSpec) -> _Formula | None:
    """Additive biases of the linear layers (norm shifts are counted under Norms)."""
    d, L, h, kv, dh, f = spec.d_embed, spec.n_layers, spec.n_heads, spec.kv_heads, spec.head_dim, spec.d_mlp
    E = spec.n_experts
    terms: list[tuple[str, str, int]] = []
    if spec.attn_qkv_bias:
        n = L * (h + 2 * kv) * dh
        if kv == h:
            terms.append(("n_layers × 3 × n_heads × d_query", f"{_num(L)} × 3 × {h} × {dh}", n))
        else:
            terms.append(("n_layers × (n_heads + 2·n_kv_heads) × d_query", f"{_num(L)} × ({h} + 2·{kv}) × {dh}", n))
    if spec.attn_out_bias:
        terms.append(("n_layers × d_embed", f"{_num(L)} × {_num(d)}", L * d))
    if spec.mlp_bias:
        gated = spec.mlp is MlpKind.gated
        inner, inner_sym, inner_num = (2 * f, "2·d_mlp", f"2·{_num(f)}") if gated else (f, "d_mlp", _num(f))
        if spec.is_moe:
            terms.append(
                (
                    f"n_layers × n_experts × ({inner_sym} + d_embed)",
                    f"{_num(L)} × {E} × ({inner_num} + {_num(d)})",
                    L * E * (inner + d),
                )
            )
        else:
            terms.append(
                (f"n_layers × ({inner_sym} + d_embed)", f"{_num(L)} × ({inner_num} + {_num(d)})", L * (inner + d))
            )
    if spec.is_moe and spec.router_bias:
        terms.append(("n_layers × n_experts", f"{_num(L)} × {E}", L * E))
    return _sum("Biases", terms, "vaswani2017: §3.3") if terms else None
