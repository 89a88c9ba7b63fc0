"""The exact parameter counter: ModelSpec -> ParamCount, one row per component.

Notation is the lecture's (its GPT-3 table, after 3Blue1Brown): d_embed, n_vocab,
n_heads, n_layers, d_query = d_value = d_head, and d_mlp for the lecture's n_neurons.
Each row carries its formula, the same formula with the numbers put in, the count,
the count active per token (differs only for mixture-of-experts rows) and its source.
The rows always sum to the total (a property test holds us to it).

With only the lecture's five sizes and no norms, biases or position table, the total is
    12·n_layers·d_embed² + 2·n_vocab·d_embed           (lecture; 3b1b2024)
which for GPT-3 (96 layers, d_embed 12,288, n_vocab 50,257, d_mlp 4·d_embed) is
175,181,291,520.
"""

from __future__ import annotations

from math import prod

from pydantic import BaseModel, ConfigDict

from llm_budget.refs import cite
from llm_budget.model.spec import MlpKind, ModelSpec, NormKind, PositionKind, QKNorm


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

    def get(self, name: str) -> int:
        """Count of the named row, 0 if the model has no such row."""
        return next((c.count for c in self.components if c.name == name), 0)


EMBEDDING_ROWS = ("Embedding", "Position embedding", "Unembedding")


def _num(n: int) -> str:
    return f"{n:,}"


def _product(name: str, symbols: list[tuple[str, int]], source: str, *, active: int | None = None) -> Component:
    """A row that is a product of named sizes: formula and expression are written from the same list."""
    count = prod(v for _, v in symbols)
    return Component(
        name=name,
        formula=" × ".join(s for s, _ in symbols),
        expression=" × ".join(_num(v) for _, v in symbols),
        count=count,
        active=count if active is None else active,
        source=cite(source),
    )


def _sum(name: str, terms: list[tuple[str, str, int, int]], source: str) -> Component:
    """A row that is a sum of terms (formula, expression, count, active)."""
    return Component(
        name=name,
        formula=" + ".join(t[0] for t in terms),
        expression=" + ".join(t[1] for t in terms),
        count=sum(t[2] for t in terms),
        active=sum(t[3] for t in terms),
        source=cite(source),
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
    """
    L, d, h, kv, dh, V, f = (
        spec.n_layers,
        spec.d_embed,
        spec.n_heads,
        spec.kv_heads,
        spec.head_dim,
        spec.n_vocab,
        spec.d_mlp,
    )
    E, k = spec.n_experts, spec.active_experts
    gqa = kv != h
    kv_sym = ("n_kv_heads", kv) if gqa else ("n_heads", h)
    kv_src = "ainslie2023" if gqa else "vaswani2017: §3.2.2"
    rows: list[Component] = []

    rows.append(_product("Embedding", [("d_embed", d), ("n_vocab", V)], "lecture: GPT-3 table"))
    if spec.position is PositionKind.learned:
        assert spec.n_positions is not None  # guaranteed by ModelSpec validation
        rows.append(
            _product("Position embedding", [("n_positions", spec.n_positions), ("d_embed", d)], "radford2019: §2.3")
        )

    # Attention, in the lecture's row order.
    rows.append(_product("Key", [("d_query", dh), ("d_embed", d), kv_sym, ("n_layers", L)], kv_src))
    rows.append(_product("Query", [("d_query", dh), ("d_embed", d), ("n_heads", h), ("n_layers", L)], "vaswani2017: §3.2.2"))
    rows.append(_product("Value", [("d_value", dh), ("d_embed", d), kv_sym, ("n_layers", L)], kv_src))
    rows.append(_product("Output", [("d_embed", d), ("d_value", dh), ("n_heads", h), ("n_layers", L)], "vaswani2017: §3.2.2"))

    # MLP: dense, or routed experts.
    n_mats = 3 if spec.mlp is MlpKind.gated else 2
    if not spec.is_moe:
        if spec.mlp is MlpKind.gated:
            rows.append(_product("Gate", [("d_mlp", f), ("d_embed", d), ("n_layers", L)], "shazeer2020: §2"))
        rows.append(_product("Up-projection", [("d_mlp", f), ("d_embed", d), ("n_layers", L)], "lecture: GPT-3 table"))
        rows.append(_product("Down-projection", [("d_embed", d), ("d_mlp", f), ("n_layers", L)], "lecture: GPT-3 table"))
    else:
        rows.append(_product("Router", [("n_experts", E), ("d_embed", d), ("n_layers", L)], "shazeer2017: §2.1"))
        per_expert = n_mats * f * d * L
        rows.append(
            _product(
                "Experts",
                [("n_experts", E), (str(n_mats), n_mats), ("d_mlp", f), ("d_embed", d), ("n_layers", L)],
                "shazeer2017: §2",
                active=k * per_expert,
            )
        )

    norm_row = _norms(spec)
    if norm_row is not None:
        rows.append(norm_row)
    bias_row = _biases(spec)
    if bias_row is not None:
        rows.append(bias_row)

    if spec.tied_embeddings:
        rows.append(
            Component(
                name="Unembedding",
                formula="tied: shares the Embedding matrix",
                expression="0",
                count=0,
                active=0,
                source=cite("press2017"),
            )
        )
    else:
        rows.append(_product("Unembedding", [("n_vocab", V), ("d_embed", d)], "lecture: GPT-3 table"))

    total = sum(c.count for c in rows)
    embedding = sum(c.count for c in rows if c.name in EMBEDDING_ROWS)
    return ParamCount(
        model=spec.label,
        total=total,
        active=sum(c.active for c in rows),
        non_embedding=total - embedding,
        components=rows,
    )


def _norms(spec: ModelSpec) -> Component | None:
    """Scale (and LayerNorm shift) vectors of every norm.

    Formula: (norms_per_layer·n_layers + final + embedding norm) × d_embed × (2 with a shift, else 1),
             plus QK-norm weights: n_layers × 2 × d_head (shared) or n_layers × (n_heads + n_kv_heads) × d_head.
    """
    if spec.norm is NormKind.none:
        return None
    d, L = spec.d_embed, spec.n_layers
    width = 2 if spec.has_norm_bias else 1
    src = "ba2016" if spec.norm is NormKind.layernorm else "zhang2019"
    terms: list[tuple[str, str, int, int]] = []

    def add(formula: str, expression: str, n: int) -> None:
        terms.append((formula, expression, n, n))

    scale = "2·d_embed" if width == 2 else "d_embed"
    scale_num = f"2·{_num(d)}" if width == 2 else _num(d)
    if spec.norms_per_layer:
        k = spec.norms_per_layer
        add(f"{k}·n_layers × {scale}", f"{k}·{_num(L)} × {scale_num}", k * L * width * d)
    extras = int(spec.final_norm) + int(spec.embed_norm)
    if extras:
        label = " + ".join(x for x, on in (("final", spec.final_norm), ("embedding norm", spec.embed_norm)) if on)
        add(f"{extras} ({label}) × {scale}", f"{extras} × {scale_num}", extras * width * d)
    dh, h, kv = spec.head_dim, spec.n_heads, spec.kv_heads
    qk_mult = f" × {width}" if width == 2 else ""
    if spec.qk_norm is QKNorm.shared:
        add(f"n_layers × 2 × d_head{qk_mult}", f"{_num(L)} × 2 × {_num(dh)}{qk_mult}", L * 2 * dh * width)
    elif spec.qk_norm is QKNorm.per_head:
        add(
            f"n_layers × (n_heads + n_kv_heads) × d_head{qk_mult}",
            f"{_num(L)} × ({h} + {kv}) × {_num(dh)}{qk_mult}",
            L * (h + kv) * dh * width,
        )
    if not terms:
        return None
    return _sum("Norms", terms, src)


def _biases(spec: ModelSpec) -> Component | None:
    """Additive biases of the linear layers (norm shifts are counted under Norms)."""
    d, L, h, kv, dh, f = spec.d_embed, spec.n_layers, spec.n_heads, spec.kv_heads, spec.head_dim, spec.d_mlp
    E, k = spec.n_experts, spec.active_experts
    terms: list[tuple[str, str, int, int]] = []
    if spec.attn_qkv_bias:
        n = L * (h + 2 * kv) * dh
        if kv == h:
            terms.append(("n_layers × 3 × n_heads × d_query", f"{_num(L)} × 3 × {h} × {dh}", n, n))
        else:
            terms.append(
                ("n_layers × (n_heads + 2·n_kv_heads) × d_query", f"{_num(L)} × ({h} + 2·{kv}) × {dh}", n, n)
            )
    if spec.attn_out_bias:
        terms.append(("n_layers × d_embed", f"{_num(L)} × {_num(d)}", L * d, L * d))
    if spec.mlp_bias:
        inner = 2 * f if spec.mlp is MlpKind.gated else f
        inner_sym = "2·d_mlp" if spec.mlp is MlpKind.gated else "d_mlp"
        inner_num = f"2·{_num(f)}" if spec.mlp is MlpKind.gated else _num(f)
        per_layer = inner + d
        if spec.is_moe:
            terms.append(
                (
                    f"n_layers × n_experts × ({inner_sym} + d_embed)",
                    f"{_num(L)} × {E} × ({inner_num} + {_num(d)})",
                    L * E * per_layer,
                    L * k * per_layer,
                )
            )
        else:
            terms.append(
                (f"n_layers × ({inner_sym} + d_embed)", f"{_num(L)} × ({inner_num} + {_num(d)})", L * per_layer, L * per_layer)
            )
    if spec.is_moe and spec.router_bias:
        terms.append(("n_layers × n_experts", f"{_num(L)} × {E}", L * E, L * E))
    if not terms:
        return None
    return _sum("Biases", terms, "vaswani2017: §3.3")
