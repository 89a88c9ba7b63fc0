"""Every parameter tensor of a ModelSpec, by shape: the inventory the memory accountant works from.

The counter (counter.py) answers "how many parameters, by component, with the lecture's
formulas"; this module answers "which tensors, of which shapes", which is what memory
rules need: Adafactor keeps rows + columns per matrix, 8-bit Adam only quantizes tensors
of 4096+ elements, quantized weights carry one scale per group of a row, LoRA adds
r·(d_in + d_out) per adapted matrix, ZeRO-3 gathers the largest layer. The shapes are
those of the probe's reference model (llm_budget/probe/model.py) and of the Hugging
Face implementations; tests check that they sum to the counter's total for every preset.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from llm_budget.model.spec import MlpKind, ModelSpec, NormKind, PositionKind, QKNorm

Kind = Literal["embedding", "linear", "vector"]


class ParamTensor(NamedTuple):
    """`copies` identical tensors of shape `shape` (e.g. one per layer, or per layer per expert)."""

    name: str
    shape: tuple[int, ...]
    copies: int
    kind: Kind  # linear: a matmul weight [d_out, d_in]; embedding: a lookup table; vector: bias or norm
    layer: bool = True  # lives inside the repeated block (False: embeddings, final norm, unembedding)
    expert: bool = False  # one of the routed experts (active for k of n_experts per token)

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def total(self) -> int:
        return self.numel * self.copies


def parameter_tensors(spec: ModelSpec) -> list[ParamTensor]:
    """All parameter tensors, grouped by shape. Tied embeddings appear once."""
    d, L, h, kv, dh, V, f = spec.d_embed, spec.n_layers, spec.n_heads, spec.kv_heads, spec.head_dim, spec.n_vocab, spec.d_mlp
    E = spec.n_experts
    out: list[ParamTensor] = [ParamTensor("embedding", (V, d), 1, "embedding", layer=False)]
    if spec.position is PositionKind.learned and spec.n_positions:
        out.append(ParamTensor("position", (spec.n_positions, d), 1, "embedding", layer=False))
    norm_w = 2 if spec.has_norm_bias else 1
    if spec.norm is not NormKind.none and spec.embed_norm:
        out.append(ParamTensor("embed_norm", (d,), norm_w, "vector", layer=False))

    # attention
    out += [
        ParamTensor("q", (h * dh, d), L, "linear"),
        ParamTensor("k", (kv * dh, d), L, "linear"),
        ParamTensor("v", (kv * dh, d), L, "linear"),
        ParamTensor("o", (d, h * dh), L, "linear"),
    ]
    if spec.attn_qkv_bias:
        out += [
            ParamTensor("q.bias", (h * dh,), L, "vector"),
            ParamTensor("k.bias", (kv * dh,), L, "vector"),
            ParamTensor("v.bias", (kv * dh,), L, "vector"),
        ]
    if spec.attn_out_bias:
        out.append(ParamTensor("o.bias", (d,), L, "vector"))
    if spec.norm is not NormKind.none:
        if spec.qk_norm is QKNorm.shared:
            out.append(ParamTensor("qk_norm", (dh,), 2 * L * norm_w, "vector"))
        elif spec.qk_norm is QKNorm.per_head:
            out += [
                ParamTensor("q_norm", (h, dh), L * norm_w, "vector"),
                ParamTensor("k_norm", (kv, dh), L * norm_w, "vector"),
            ]
        if spec.norms_per_layer:
            out.append(ParamTensor("norm", (d,), L * spec.norms_per_layer * norm_w, "vector"))

    # MLP or routed experts
    copies, expert = (L * E, True) if spec.is_moe else (L, False)
    mats = (["gate"] if spec.mlp is MlpKind.gated else []) + ["up"]
    for m in mats:
        out.append(ParamTensor(m, (f, d), copies, "linear", expert=expert))
    out.append(ParamTensor("down", (d, f), copies, "linear", expert=expert))
    if spec.mlp_bias:
        for m in mats:
            out.append(ParamTensor(f"{m}.bias", (f,), copies, "vector", expert=expert))
        out.append(ParamTensor("down.bias", (d,), copies, "vector", expert=expert))
    if spec.is_moe:
        out.append(ParamTensor("router", (E, d), L, "linear"))
        if spec.router_bias:
            out.append(ParamTensor("router.bias", (E,), L, "vector"))

    if spec.norm is not NormKind.none and spec.final_norm:
        out.append(ParamTensor("final_norm", (d,), norm_w, "vector", layer=False))
    if not spec.tied_embeddings:
        out.append(ParamTensor("unembedding", (V, d), 1, "linear", layer=False))
    return out


def total_params(tensors: list[ParamTensor]) -> int:
    return sum(t.total for t in tensors)


def layer_params(tensors: list[ParamTensor], n_layers: int) -> int:
    """Parameters of one transformer block (all its experts included)."""
    return sum(t.total for t in tensors if t.layer) // n_layers


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
