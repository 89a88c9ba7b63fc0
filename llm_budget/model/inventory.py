"""Every parameter tensor of a ModelSpec, by shape: the one parameter inventory.

Both the counter (counter.py: "how many parameters, by component, with the lecture's
formulas") and the memory accountant ("which tensors, of which shapes") read this list.
Each tensor names the counter row it belongs to (`component`), so the counter's counts are
sums over this inventory. Memory rules need the shapes: Adafactor keeps rows + columns per
matrix, 8-bit Adam only quantizes tensors of 4096+ elements, quantized weights carry one
scale per group of a row, LoRA adds r·(d_in + d_out) per adapted matrix, ZeRO-3 gathers the
largest layer. The shapes are those of the probe's reference model (llm_budget/probe/model.py)
and of the Hugging Face implementations (tests build those on PyTorch's meta device).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from llm_budget.model.spec import MlpKind, ModelSpec, NormKind, PositionKind, QKNorm

Kind = Literal["embedding", "linear", "vector"]

# The counter's rows, in the order it prints them (the lecture's GPT-3 table, then what real models add).
ComponentName = Literal[
    "Embedding",
    "Position embedding",
    "Key",
    "Query",
    "Value",
    "Output",
    "Gate",
    "Up-projection",
    "Down-projection",
    "Router",
    "Experts",
    "Norms",
    "Biases",
    "Unembedding",
]


class ParamTensor(NamedTuple):
    """`copies` identical tensors of shape `shape` (e.g. one per layer, or per layer per expert)."""

    name: str
    shape: tuple[int, ...]
    copies: int
    kind: Kind  # linear: a matmul weight [d_out, d_in]; embedding: a lookup table; vector: bias or norm
    layer: bool = True  # lives inside the repeated block (False: embeddings, final norm, unembedding)
    expert: bool = False  # one of the routed experts (active for k of n_experts per token)
    component: ComponentName | None = None  # the counter row it is counted in (None: not a model parameter, e.g. LoRA)

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def total(self) -> int:
        return self.numel * self.copies


class ComponentCount(NamedTuple):
    """Parameters of one counter row, and how many of them a token uses."""

    total: int
    active: int


def parameter_tensors(spec: ModelSpec) -> list[ParamTensor]:
    """All parameter tensors, grouped by shape. Tied embeddings appear once."""
    d, V = spec.d_embed, spec.n_vocab
    out = [ParamTensor("embedding", (V, d), 1, "embedding", layer=False, component="Embedding")]
    if spec.position is PositionKind.learned and spec.n_positions:
        out.append(
            ParamTensor("position", (spec.n_positions, d), 1, "embedding", layer=False, component="Position embedding")
        )
    norm_w = 2 if spec.has_norm_bias else 1
    if spec.norm is not NormKind.none and spec.embed_norm:
        out.append(ParamTensor("embed_norm", (d,), norm_w, "vector", layer=False, component="Norms"))
    out += _attention_tensors(spec)
    out += _mlp_tensors(spec)
    if spec.norm is not NormKind.none and spec.final_norm:
        out.append(ParamTensor("final_norm", (d,), norm_w, "vector", layer=False, component="Norms"))
    if not spec.tied_embeddings:
        out.append(ParamTensor("unembedding", (V, d), 1, "linear", layer=False, component="Unembedding"))
    return out


def _attention_tensors(spec: ModelSpec) -> list[ParamTensor]:
    """Q, K, V, O projections of every block, their biases, QK-norms and the block's own norms."""
    d, L, h, kv, dh = spec.d_embed, spec.n_layers, spec.n_heads, spec.kv_heads, spec.head_dim
    out = [
        ParamTensor("q", (h * dh, d), L, "linear", component="Query"),
        ParamTensor("k", (kv * dh, d), L, "linear", component="Key"),
        ParamTensor("v", (kv * dh, d), L, "linear", component="Value"),
        ParamTensor("o", (d, h * dh), L, "linear", component="Output"),
    ]
    if spec.attn_qkv_bias:
        out += [
            ParamTensor("q.bias", (h * dh,), L, "vector", component="Biases"),
            ParamTensor("k.bias", (kv * dh,), L, "vector", component="Biases"),
            ParamTensor("v.bias", (kv * dh,), L, "vector", component="Biases"),
        ]
    if spec.attn_out_bias:
        out.append(ParamTensor("o.bias", (d,), L, "vector", component="Biases"))
    if spec.norm is NormKind.none:
        return out
    norm_w = 2 if spec.has_norm_bias else 1
    if spec.qk_norm is QKNorm.shared:
        out.append(ParamTensor("qk_norm", (dh,), 2 * L * norm_w, "vector", component="Norms"))
    elif spec.qk_norm is QKNorm.per_head:
        out += [
            ParamTensor("q_norm", (h, dh), L * norm_w, "vector", component="Norms"),
            ParamTensor("k_norm", (kv, dh), L * norm_w, "vector", component="Norms"),
        ]
    if spec.norms_per_layer:
        out.append(ParamTensor("norm", (d,), L * spec.norms_per_layer * norm_w, "vector", component="Norms"))
    return out


_DENSE_ROWS: dict[str, ComponentName] = {"gate": "Gate", "up": "Up-projection", "down": "Down-projection"}


def _mlp_tensors(spec: ModelSpec) -> list[ParamTensor]:
    """The MLP of every block, or its routed experts and router."""
    d, L, f, E = spec.d_embed, spec.n_layers, spec.d_mlp, spec.n_experts
    copies, expert = (L * E, True) if spec.is_moe else (L, False)

    def row(m: str) -> ComponentName:
        return "Experts" if spec.is_moe else _DENSE_ROWS[m]

    mats = (["gate"] if spec.mlp is MlpKind.gated else []) + ["up"]
    out = [ParamTensor(m, (f, d), copies, "linear", expert=expert, component=row(m)) for m in mats]
    out.append(ParamTensor("down", (d, f), copies, "linear", expert=expert, component=row("down")))
    if spec.mlp_bias:
        for m in mats:
            out.append(ParamTensor(f"{m}.bias", (f,), copies, "vector", expert=expert, component="Biases"))
        out.append(ParamTensor("down.bias", (d,), copies, "vector", expert=expert, component="Biases"))
    if spec.is_moe:
        out.append(ParamTensor("router", (E, d), L, "linear", component="Router"))
        if spec.router_bias:
            out.append(ParamTensor("router.bias", (E,), L, "vector", component="Biases"))
    return out


def component_counts(spec: ModelSpec) -> dict[ComponentName, ComponentCount]:
    """The inventory summed by counter row: (parameters, parameters a token uses).

    A routed expert's tensors are active for n_active_experts of n_experts (Shazeer et al. 2017 §2):
    each is stored n_layers·n_experts times and a token uses n_layers·n_active_experts of them.
    """
    counts: dict[ComponentName, ComponentCount] = {}
    for t in parameter_tensors(spec):
        assert t.component is not None, f"inventory tensor {t.name} names no counter row"
        active = t.total // spec.n_experts * spec.active_experts if t.expert else t.total
        total, act = counts.get(t.component, ComponentCount(0, 0))
        counts[t.component] = ComponentCount(total + t.total, act + active)
    return counts


def tensor_count(spec: ModelSpec, implementation: str = "reference") -> int:
    """How many parameter tensors a model has (PyTorch optimizers keep a step counter per tensor).

    transformers fuses some: GPT-2's q, k, v are one c_attn weight and bias (4 fewer tensors per block);
    a MoE layer's experts are one gate_up and one down tensor (2 instead of 3 per expert, or 6 with biases).
    """
    n = sum(t.copies for t in parameter_tensors(spec))
    if implementation != "hf":
        return n
    L = spec.n_layers
    if spec.family == "gpt2":
        n -= 4 * L
    if spec.is_moe:
        per_expert = (3 if spec.mlp is MlpKind.gated else 2) * (2 if spec.mlp_bias else 1)
        n -= L * (spec.n_experts * per_expert - (4 if spec.mlp_bias else 2))
    return n


def buffer_bytes(spec: ModelSpec, implementation: str = "reference") -> int:
    """Non-parameter tensors a model holds: transformers' rotary embedding keeps inv_freq and
    original_inv_freq (d_head / 2 FP32 values each)."""
    if implementation == "hf" and spec.position is PositionKind.rotary:
        return 2 * (spec.head_dim // 2) * 4
    return 0
