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

from llm_budget.model.inventory import ComponentCount, ComponentName, component_counts, mtp_tensors
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
    mtp_params: int = 0  # multi-token-prediction blocks the checkpoint ships (DeepSeek-V3): NOT in total

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
        mtp_params=sum(t.total for t in mtp_tensors(spec)),
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
    if spec.tensors is not None:
        return _measured_rows(spec)
    d, V = spec.d_embed, spec.n_vocab
    rows = [_product("Embedding", [("d_embed", d), ("n_vocab", V)], "lecture: GPT-3 table")]
    if spec.position is PositionKind.learned:
        assert spec.n_positions is not None  # guaranteed by ModelSpec validation
        rows.append(
            _product("Position embedding", [("n_positions", spec.n_positions), ("d_embed", d)], "radford2019: §2.3")
        )
    rows += _mla(spec) if spec.mla is not None else _attention(spec)
    if spec.attention_sinks:
        rows.append(
            _product("Attention sinks", [("n_heads", spec.n_heads), ("n_layers", spec.n_layers)], "hf-transformers")
        )
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


def _measured_rows(spec: ModelSpec) -> list[_Formula]:
    """A model measured from transformers' own class: each row is the sum of its tensors' sizes."""
    by_row: dict[str, list[int]] = {}
    for t in spec.tensors or ():
        by_row.setdefault(t.component, []).append(prod(t.shape) * t.copies)
    return [
        _Formula(
            name,  # type: ignore[arg-type]
            f"sum of {len(sizes)} tensor shapes of {spec.measured_by or 'the transformers class'} (meta device)",
            " + ".join(_num(n) for n in sizes[:6]) + (" + …" if len(sizes) > 6 else ""),
            sum(sizes),
            "hf-transformers",
        )
        for name, sizes in by_row.items()
    ]


def _mla(spec: ModelSpec) -> list[_Formula]:
    """Multi-head latent attention's projections (DeepSeek-V2 §2.1: W^DQ, W^UQ, W^DKV with W^KR, W^UK with W^UV, W^O)."""
    assert spec.mla is not None
    m, L, d, h = spec.mla, spec.n_layers, spec.d_embed, spec.n_heads
    qk = ("(qk_nope + qk_rope)", m.qk_head_dim)
    src = "deepseek2024v2: §2.1"
    if m.q_lora_rank is None:
        rows = [_product("Query", [qk, ("n_heads", h), ("d_embed", d), ("n_layers", L)], src)]
    else:
        rows = [
            _product("Query down-projection", [("q_lora_rank", m.q_lora_rank), ("d_embed", d), ("n_layers", L)], src),
            _product("Query up-projection", [qk, ("n_heads", h), ("q_lora_rank", m.q_lora_rank), ("n_layers", L)], src),
        ]
    latent = ("(kv_lora_rank + qk_rope)", m.kv_lora_rank + m.qk_rope_head_dim)
    up = ("(qk_nope + v_head)", m.qk_nope_head_dim + m.v_head_dim)
    return rows + [
        _product("KV down-projection", [latent, ("d_embed", d), ("n_layers", L)], src),
        _product("KV up-projection", [up, ("n_heads", h), ("kv_lora_rank", m.kv_lora_rank), ("n_layers", L)], src),
        _product("Output", [("d_embed", d), ("v_head", m.v_head_dim), ("n_heads", h), ("n_layers", L)], src),
    ]


def _layers_symbol(spec: ModelSpec, moe: bool) -> tuple[str, int]:
    """n_layers when every block has the same MLP, else the number of dense or MoE blocks."""
    if spec.n_dense_layers == 0 or spec.n_moe_layers == 0:
        return ("n_layers", spec.n_layers)
    return ("n_moe_layers", spec.n_moe_layers) if moe else ("n_dense_layers", spec.n_dense_layers)


def _mlp(spec: ModelSpec) -> list[_Formula]:
    """Gate (gated MLPs only), up- and down-projection of dense blocks; the router, the routed experts and any
    shared expert of MoE blocks."""
    d, f = spec.d_embed, spec.d_mlp
    rows = []
    if spec.n_dense_layers:
        Ls = _layers_symbol(spec, moe=False)
        if spec.mlp is MlpKind.gated:
            rows.append(_product("Gate", [("d_mlp", f), ("d_embed", d), Ls], "shazeer2020: §2"))
        rows.append(_product("Up-projection", [("d_mlp", f), ("d_embed", d), Ls], "lecture: GPT-3 table"))
        rows.append(_product("Down-projection", [("d_embed", d), ("d_mlp", f), Ls], "lecture: GPT-3 table"))
    if spec.n_moe_layers:
        Lm, E = _layers_symbol(spec, moe=True), spec.n_experts
        n_mats = 3 if spec.mlp is MlpKind.gated else 2
        width = ("d_expert", spec.expert_width) if spec.d_expert is not None else ("d_mlp", f)
        rows.append(_product("Router", [("n_experts", E), ("d_embed", d), Lm], "shazeer2017: §2.1"))
        rows.append(
            _product("Experts", [("n_experts", E), (str(n_mats), n_mats), width, ("d_embed", d), Lm], "shazeer2017: §2")
        )
        if spec.d_shared_mlp is not None:
            terms = [
                (
                    f"{n_mats} × d_shared × d_embed × {Lm[0]}",
                    f"{n_mats} × {_num(spec.d_shared_mlp)} × {_num(d)} × {_num(Lm[1])}",
                    n_mats * spec.d_shared_mlp * d * Lm[1],
                )
            ]
            if spec.shared_expert_gate:
                terms.append((f"d_embed × {Lm[0]} (gate)", f"{_num(d)} × {_num(Lm[1])}", d * Lm[1]))
            rows.append(_sum("Shared experts", terms, "deepseek2024v3: §2.1.2"))
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
    dh, h, kv = spec.qk_head_dim, spec.n_heads, spec.kv_heads
    qk_mult = f" × {width}" if width == 2 else ""
    if spec.mla is not None:
        m = spec.mla
        ranks = m.kv_lora_rank + (m.q_lora_rank or 0)
        sym = "(q_lora_rank + kv_lora_rank)" if m.q_lora_rank else "kv_lora_rank"
        terms.append((f"n_layers × {sym}{qk_mult}", f"{_num(L)} × {_num(ranks)}{qk_mult}", L * ranks * width))
    qk_w = 2 if spec.has_qk_norm_bias else 1
    qk_mult = f" × {qk_w}" if qk_w == 2 else ""
    if spec.qk_norm is QKNorm.shared:
        terms.append((f"n_layers × 2 × d_head{qk_mult}", f"{_num(L)} × 2 × {_num(dh)}{qk_mult}", L * 2 * dh * qk_w))
    elif spec.qk_norm is QKNorm.per_head:
        terms.append(
            (
                f"n_layers × (n_heads + n_kv_heads) × d_head{qk_mult}",
                f"{_num(L)} × ({h} + {kv}) × {_num(dh)}{qk_mult}",
                L * (h + kv) * dh * qk_w,
            )
        )
    return _sum("Norms", terms, src) if terms else None


def _biases(spec: ModelSpec) -> _Formula | None:
    """Additive biases of the linear layers (norm shifts are counted under Norms)."""
    d, L = spec.d_embed, spec.n_layers
    terms = _attention_biases(spec)
    if spec.attn_out_bias:
        terms.append(("n_layers × d_embed", f"{_num(L)} × {_num(d)}", L * d))
    if spec.mlp_bias:
        terms += _mlp_biases(spec)
    if spec.n_moe_layers and spec.router_bias:
        Lm = _layers_symbol(spec, moe=True)
        terms.append((f"{Lm[0]} × n_experts", f"{_num(Lm[1])} × {spec.n_experts}", Lm[1] * spec.n_experts))
    if spec.unembed_bias:
        terms.append(("n_vocab", _num(spec.n_vocab), spec.n_vocab))
    return _sum("Biases", terms, "vaswani2017: §3.3") if terms else None


def _attention_biases(spec: ModelSpec) -> list[tuple[str, str, int]]:
    """Biases on the query, key and value projections (MLA: on its two down-projections)."""
    L, h, kv, dh = spec.n_layers, spec.n_heads, spec.kv_heads, spec.head_dim
    if not spec.attn_qkv_bias:
        return []
    if spec.mla is not None:
        m = spec.mla
        width = m.kv_lora_rank + m.qk_rope_head_dim + (m.q_lora_rank or 0)
        sym = "(q_lora_rank + kv_lora_rank + qk_rope)" if m.q_lora_rank else "(kv_lora_rank + qk_rope)"
        return [(f"n_layers × {sym}", f"{_num(L)} × {_num(width)}", L * width)]
    n = L * (h + 2 * kv) * dh
    if kv == h:
        return [("n_layers × 3 × n_heads × d_query", f"{_num(L)} × 3 × {h} × {dh}", n)]
    return [("n_layers × (n_heads + 2·n_kv_heads) × d_query", f"{_num(L)} × ({h} + 2·{kv}) × {dh}", n)]


def _mlp_biases(spec: ModelSpec) -> list[tuple[str, str, int]]:
    """Biases of dense MLPs and of every routed expert (gate and up: the hidden width; down: d_embed)."""
    d = spec.d_embed
    n_in = 2 if spec.mlp is MlpKind.gated else 1
    terms = []
    if spec.n_dense_layers:
        Ls, f = _layers_symbol(spec, moe=False), spec.d_mlp
        inner_sym, inner_num = (f"{n_in}·d_mlp", f"{n_in}·{_num(f)}") if n_in == 2 else ("d_mlp", _num(f))
        terms.append(
            (f"{Ls[0]} × ({inner_sym} + d_embed)", f"{_num(Ls[1])} × ({inner_num} + {_num(d)})", Ls[1] * (n_in * f + d))
        )
    if spec.n_moe_layers:
        Lm, f, E = _layers_symbol(spec, moe=True), spec.expert_width, spec.n_experts
        w = "d_expert" if spec.d_expert is not None else "d_mlp"
        inner_sym, inner_num = (f"{n_in}·{w}", f"{n_in}·{_num(f)}") if n_in == 2 else (w, _num(f))
        terms.append(
            (
                f"{Lm[0]} × n_experts × ({inner_sym} + d_embed)",
                f"{_num(Lm[1])} × {E} × ({inner_num} + {_num(d)})",
                Lm[1] * E * (n_in * f + d),
            )
        )
    return terms
