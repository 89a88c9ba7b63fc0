"""FLOPs per token: the one formula every command uses (compute, fit, inference bounds).

    forward pass:  2·N + 4·L·H·Q·T        N parameters a token uses (MoE: the active ones, shared experts in),
    training:      6·N + 12·L·H·Q·T       L layers, H query heads, Q head size,
    + recompute:   8·N + 16·L·H·Q·T       T attention span: the sequence, capped by a sliding window

2·N is the forward pass's multiply-adds with the weights and the backward pass costs twice the
forward, so training is 3 forward passes: Kaplan et al.'s "C ≈ 6N" (kaplan2020 §2.1, Table 1).
4·L·H·Q·T is the attention scores and values (QKᵀ and A·V, 2 FLOPs per multiply-add, no discount
for the causal mask), 12·L·H·Q·T in training (chowdhery2022 Appendix B, the form nanoGPT's
`estimate_mfu` uses). Models with layers of several kinds sum the term per kind: a sliding layer
attends to at most its window, a chunked one (Llama 4) to at most its chunk, a full one to the whole
sequence; MLA's core multiplies keys of qk_head_dim and values of v_head_dim, so Q is their mean there
(2·H·(d_qk + d_v)·T per layer and token). Full activation recomputation runs the forward once more: 4 passes, ×4/3
(narayanan2021's 8·T·P, generalised to the attention term). Without an architecture (`--params`
only) the attention term is 0.
"""

from __future__ import annotations

from typing import NamedTuple

from llm_budget.compute.frozen import Frozen
from llm_budget.compute.model_size import ModelSize
from llm_budget.errors import LLMBudgetError
from llm_budget.memory import tokens_held
from llm_budget.memory.kv import kind_cap
from llm_budget.model.spec import LayerKind
from llm_budget.refs import cite

SRC_6ND = cite("kaplan2020: §2.1, Table 1 (C ≈ 6N per token)")
SRC_ATTENTION = cite("chowdhery2022: Appendix B (6N + 12LHQT per token; MFU)")
SRC_RECOMPUTE = cite("narayanan2021: training time ≈ 8·T·P / (n·X) with activation recomputation")

FORWARD_PASSES = 1  # inference: prefill and decode
TRAINING_PASSES = 3  # forward + backward (twice the forward)
RECOMPUTE_PASSES = 4  # training + the forward run again during the backward


class TokenFlops(NamedTuple):
    """FLOPs one token costs, split as the papers write them."""

    dense: int  # passes × 2·N
    attention: int  # passes × 4·L·H·Q·T

    @property
    def total(self) -> int:
        return self.dense + self.attention


def attention_span(size: ModelSize, seq_len: int) -> int:
    """T in the attention term: the sequence length, or the sliding window when it is shorter (every layer's
    span when they share one; with layers of several kinds, the span of the kind that sees the most)."""
    spans = [span for _, span in _spans_by_kind(size, seq_len)]
    return max(spans) if spans else tokens_held(seq_len, size.sliding_window)


def _spans_by_kind(size: ModelSize, seq_len: int) -> list[tuple[int, int]]:
    """(layers, attention span) per attention kind present: full layers see seq_len, sliding ones at most
    the window, chunked ones at most the chunk (transformers' layer_types; kv.kind_cap)."""
    spec = size.spec
    if spec is None:
        return []
    out = []
    for kind in LayerKind:
        n = spec.count_layers(kind)
        if n:
            out.append((n, tokens_held(seq_len, kind_cap(spec, kind))))
    return out


def attention_term(size: ModelSize, seq_len: int) -> int:
    """Σ over layer kinds of L_kind · H · (d_qk + d_v) · T_kind: a forward pass's attention FLOPs are twice it
    (2·(QKᵀ + A·V) multiply-adds; = 4·L·H·Q·T when d_qk = d_v = Q and one span). 0 without an architecture."""
    if not size.has_architecture:
        return 0
    spec = size.spec
    if spec is None:
        L, H, Q = size.n_layers, size.n_heads, size.d_head
        assert L is not None and H is not None and Q is not None
        return L * H * 2 * Q * attention_span(size, seq_len)
    widths = spec.n_heads * (spec.qk_head_dim + spec.v_head_dim)
    return sum(n * widths * span for n, span in _spans_by_kind(size, seq_len))


def token_flops(size: ModelSize, *, seq_len: int, passes: int) -> TokenFlops:
    """FLOPs per token for `passes` forward-pass equivalents (1 inference, 3 training, 4 with recompute).

    Formula: passes × (2·N + 4·L·H·Q·T), T = min(seq_len, window or chunk) per layer kind; training:
             6·N + 12·L·H·Q·T; MLA: 2·H·(d_qk + d_v) for 4·H·Q
    Source:  kaplan2020 §2.1 (forward 2N, training 6N); chowdhery2022 Appendix B (12·L·H·Q·T);
             narayanan2021 (recomputation: 8·T·P).
    """
    return TokenFlops(dense=passes * 2 * size.params, attention=passes * 2 * attention_term(size, seq_len))


def training_flops_per_token(size: ModelSize, *, seq_len: int, recompute: bool = False) -> int:
    """Training FLOPs per token: 6·N + 12·L·H·Q·T, the model FLOPs that MFU counts.

    With `recompute`, the hardware FLOPs that HFU counts: 8·N + 16·L·H·Q·T (×4/3).
    """
    return token_flops(size, seq_len=seq_len, passes=RECOMPUTE_PASSES if recompute else TRAINING_PASSES).total


def forward_flops_per_token(size: ModelSize, *, seq_len: int) -> int:
    """Forward-pass FLOPs per token at a context of `seq_len` tokens: 2·N + 4·L·H·Q·T (prefill, decode)."""
    return token_flops(size, seq_len=seq_len, passes=FORWARD_PASSES).total


class FlopTerm(Frozen):
    name: str
    formula: str  # symbols
    expression: str  # numbers
    flops: int
    source: str  # refs.py key: section


class TrainingFlops(Frozen):
    """FLOPs to train on `tokens` tokens. Exact integers."""

    params: int  # N (active)
    tokens: int  # D
    seq_len: int  # T
    attention_span: int  # min(T, sliding window)
    dense_flops_per_token: int  # 6·N
    attention_flops_per_token: int  # 12·L·H·Q·T (0 without an architecture)
    model_flops_per_token: int
    model_flops: int  # (6·N + 12·L·H·Q·T)·D: what MFU counts
    flops_6nd: int  # 6·N·D alone (Kaplan; Chinchilla's C)
    recompute: bool
    hardware_flops_per_token: int  # 8·N + 16·L·H·Q·T with recompute, else = model
    hardware_flops: int
    terms: list[FlopTerm]


def training_flops(size: ModelSize, tokens: int, *, seq_len: int, recompute: bool = False) -> TrainingFlops:
    """Model FLOPs (and hardware FLOPs with recomputation) to train `size` on `tokens` tokens.

    Formula: C = (6·N + 12·L·H·Q·T)·D; with full activation recomputation the hardware does
             (8·N + 16·L·H·Q·T)·D (one more forward pass); N active parameters, D tokens,
             L layers, H query heads, Q head size, T sequence length (sliding window: min(T, W)).
    Source:  kaplan2020 §2.1 (6N), chowdhery2022 Appendix B (12LHQT), narayanan2021 (8·T·P).
    """
    if tokens <= 0:
        raise LLMBudgetError(f"tokens must be positive, got {tokens}")
    D = tokens
    per_token = token_flops(size, seq_len=seq_len, passes=TRAINING_PASSES)
    model = per_token.total
    hardware = training_flops_per_token(size, seq_len=seq_len, recompute=recompute)
    return TrainingFlops(
        params=size.params,
        tokens=D,
        seq_len=seq_len,
        attention_span=attention_span(size, seq_len),
        dense_flops_per_token=per_token.dense,
        attention_flops_per_token=per_token.attention,
        model_flops_per_token=model,
        model_flops=model * D,
        flops_6nd=per_token.dense * D,
        recompute=recompute,
        hardware_flops_per_token=hardware,
        hardware_flops=hardware * D,
        terms=_terms(size, D, seq_len=seq_len, recompute=recompute),
    )


def _terms(size: ModelSize, D: int, *, seq_len: int, recompute: bool) -> list[FlopTerm]:
    """The rows of the FLOPs table: 6·N·D, 12·L·H·Q·T·D (with an architecture), the recompute (when on)."""
    N, T = size.params, attention_span(size, seq_len)
    per_token = token_flops(size, seq_len=seq_len, passes=TRAINING_PASSES)
    terms = [
        FlopTerm(
            name="Dense (6·N·D)",
            formula="6 × N × D",
            expression=f"6 × {N:,} × {D:,}",
            flops=per_token.dense * D,
            source=SRC_6ND,
        )
    ]
    if size.has_architecture:
        terms.append(
            FlopTerm(
                name="Attention (12·L·H·Q·T·D)",
                formula=_attention_formula(size, seq_len, T),
                expression=_attention_expression(size, seq_len, D),
                flops=per_token.attention * D,
                source=SRC_ATTENTION,
            )
        )
    if recompute:
        extra = forward_flops_per_token(size, seq_len=seq_len)  # hardware - model: 2·N + 4·L·H·Q·T
        terms.append(
            FlopTerm(
                name="Recompute (one more forward)",
                formula="(2 × N + 4 × L × H × Q × T) × D",
                expression=f"{extra:,} × {D:,}",
                flops=extra * D,
                source=SRC_RECOMPUTE,
            )
        )
    return terms


def _uniform(size: ModelSize, seq_len: int) -> bool:
    """One attention span for every layer and d_qk = d_v = d_head: the paper's 12·L·H·Q·T as written."""
    spec = size.spec
    return spec is None or (spec.mla is None and len(_spans_by_kind(size, seq_len)) == 1)


def _attention_formula(size: ModelSize, seq_len: int, T: int) -> str:
    if _uniform(size, seq_len):
        return f"12 × L × H × Q × {'T' if seq_len == T else 'W'} × D"
    return "6 × Σ_kind L_kind × H × (Q_k + Q_v) × T_kind × D"


def _attention_expression(size: ModelSize, seq_len: int, D: int) -> str:
    if _uniform(size, seq_len):
        T = attention_span(size, seq_len)
        return f"12 × {size.n_layers} × {size.n_heads} × {size.d_head} × {T:,} × {D:,}"
    spec = size.spec
    assert spec is not None
    kinds = " + ".join(f"{n} × {span:,}" for n, span in _spans_by_kind(size, seq_len))
    return f"6 × ({kinds}) × {spec.n_heads} × ({spec.qk_head_dim} + {spec.v_head_dim}) × {D:,}"
