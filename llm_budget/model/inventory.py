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
    "Query down-projection",
    "Query up-projection",
    "KV down-projection",
    "KV up-projection",
    "Output",
    "Attention sinks",
    "Gate",
    "Up-projection",
    "Down-projection",
    "Router",
    "Experts",
    "Shared experts",
    "Norms",
    "Biases",
    "Unembedding",
    "QKV (fused)",
    "Gate+Up (fused)",
    "Other",
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
    """All parameter tensors, grouped by shape. Tied embeddings appear once.

    A spec measured from transformers' own class (spec.tensors) is its table; otherwise the tensors follow
    from the sizes. Multi-token-prediction blocks are not here (see mtp_tensors): transformers does not build them.
    """
    if spec.tensors is not None:
        return [ParamTensor(**row.model_dump()) for row in spec.tensors]
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
    if spec.unembed_bias:
        out.append(ParamTensor("unembedding.bias", (V,), 1, "vector", layer=False, component="Biases"))
    return out


def _attention_tensors(spec: ModelSpec) -> list[ParamTensor]:
    """Q, K, V, O projections of every block (or MLA's), their biases, sinks, QK-norms and the block's own norms."""
    d, L, h, kv = spec.d_embed, spec.n_layers, spec.n_heads, spec.kv_heads
    out = _mla_tensors(spec) if spec.mla is not None else _qkvo_tensors(spec)
    if spec.attention_sinks:
        out.append(ParamTensor("sinks", (h,), L, "vector", component="Attention sinks"))
    if spec.norm is NormKind.none:
        return out
    norm_w = 2 if spec.has_norm_bias else 1
    qk_w = 2 if spec.has_qk_norm_bias else 1
    dq = spec.qk_head_dim
    if spec.qk_norm is QKNorm.shared:
        out.append(ParamTensor("qk_norm", (dq,), 2 * L * qk_w, "vector", component="Norms"))
    elif spec.qk_norm is QKNorm.per_head:
        out += [
            ParamTensor("q_norm", (h, dq), L * qk_w, "vector", component="Norms"),
            ParamTensor("k_norm", (kv, dq), L * qk_w, "vector", component="Norms"),
        ]
    if spec.norms_per_layer:
        out.append(ParamTensor("norm", (d,), L * spec.norms_per_layer * norm_w, "vector", component="Norms"))
    return out


def _mla_tensors(spec: ModelSpec) -> list[ParamTensor]:
    """Multi-head latent attention (DeepSeek-V2 §2.1): low-rank query, a compressed KV latent with a shared
    rotary key, its up-projection to per-head keys and values, and the latent norms
    (transformers/models/deepseek_v3/modeling_deepseek_v3.py, DeepseekV3Attention)."""
    assert spec.mla is not None
    m, d, L, h = spec.mla, spec.d_embed, spec.n_layers, spec.n_heads
    norm_w = 2 if spec.has_norm_bias else 1
    out: list[ParamTensor] = []
    if m.q_lora_rank is None:
        out.append(ParamTensor("q", (h * m.qk_head_dim, d), L, "linear", component="Query"))
    else:
        out += [
            ParamTensor("q_a", (m.q_lora_rank, d), L, "linear", component="Query down-projection"),
            ParamTensor("q_b", (h * m.qk_head_dim, m.q_lora_rank), L, "linear", component="Query up-projection"),
            ParamTensor("q_a_norm", (m.q_lora_rank,), L * norm_w, "vector", component="Norms"),
        ]
        if spec.attn_qkv_bias:
            out.append(ParamTensor("q_a.bias", (m.q_lora_rank,), L, "vector", component="Biases"))
    latent = m.kv_lora_rank + m.qk_rope_head_dim
    out += [
        ParamTensor("kv_a", (latent, d), L, "linear", component="KV down-projection"),
        ParamTensor("kv_a_norm", (m.kv_lora_rank,), L * norm_w, "vector", component="Norms"),
        ParamTensor(
            "kv_b", (h * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank), L, "linear", component="KV up-projection"
        ),
        ParamTensor("o", (d, h * m.v_head_dim), L, "linear", component="Output"),
    ]
    if spec.attn_qkv_bias:
        out.append(ParamTensor("kv_a.bias", (latent,), L, "vector", component="Biases"))
    if spec.attn_out_bias:
        out.append(ParamTensor("o.bias", (d,), L, "vector", component="Biases"))
    return out


def _qkvo_tensors(spec: ModelSpec) -> list[ParamTensor]:
    """Q, K, V, O projections (MHA, GQA, MQA) and their biases."""
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
    return out


def _mlp_tensors(spec: ModelSpec) -> list[ParamTensor]:
    """Dense MLPs of width d_mlp in dense blocks; routed experts of width expert_width, the router and any
    shared expert in MoE blocks (DeepSeek-V3 §2.1.2; Qwen2-MoE; Llama 4)."""
    d, Ld, Lm, E = spec.d_embed, spec.n_dense_layers, spec.n_moe_layers, spec.n_experts
    out = _ffn("", spec.d_mlp, Ld, spec, expert=False) if Ld else []
    if not Lm:
        return out
    out += _ffn("", spec.expert_width, Lm * E, spec, expert=True)
    out.append(ParamTensor("router", (E, d), Lm, "linear", component="Router"))
    if spec.router_bias:
        out.append(ParamTensor("router.bias", (E,), Lm, "vector", component="Biases"))
    if spec.d_shared_mlp is not None:
        out += _ffn("shared_", spec.d_shared_mlp, Lm, spec, expert=False, row="Shared experts")
        if spec.shared_expert_gate:
            out.append(ParamTensor("shared_gate", (1, d), Lm, "linear", component="Shared experts"))
    return out


_DENSE_ROWS: dict[str, ComponentName] = {"gate": "Gate", "up": "Up-projection", "down": "Down-projection"}


def _ffn(
    prefix: str, f: int, copies: int, spec: ModelSpec, *, expert: bool, row: ComponentName | None = None
) -> list[ParamTensor]:
    """One MLP of width f (gate if gated, up, down; biases with mlp_bias, except on shared experts), `copies` times."""
    d = spec.d_embed

    def comp(m: str) -> ComponentName:
        return row or ("Experts" if expert else _DENSE_ROWS[m])

    mats = (["gate"] if spec.mlp is MlpKind.gated else []) + ["up"]
    out = [ParamTensor(prefix + m, (f, d), copies, "linear", expert=expert, component=comp(m)) for m in mats]
    out.append(ParamTensor(prefix + "down", (d, f), copies, "linear", expert=expert, component=comp("down")))
    if spec.mlp_bias and not prefix:
        for m in mats:
            out.append(ParamTensor(f"{m}.bias", (f,), copies, "vector", expert=expert, component="Biases"))
        out.append(ParamTensor("down.bias", (d,), copies, "vector", expert=expert, component="Biases"))
    return out


def mtp_tensors(spec: ModelSpec) -> list[ParamTensor]:
    """DeepSeek-V3's multi-token-prediction blocks (§2.2), as its checkpoint ships them: per block an embedding
    and output head of its own (model.layers.61.embed_tokens, .shared_head.head), enorm and hnorm, eh_proj
    (2·d_embed -> d_embed), one decoder block (the MoE block's tensors) and shared_head.norm. Not part of
    the model transformers builds; counted apart."""
    n = spec.n_mtp_layers
    if not n:
        return []
    d, V = spec.d_embed, spec.n_vocab
    one_block = spec.model_copy(update=dict(n_layers=1, first_dense_layers=0, dense_layers=(), moe_every=1))
    block = [t for t in parameter_tensors(one_block) if t.layer]
    return [
        ParamTensor("mtp.embedding", (V, d), n, "embedding", layer=False, component="Embedding"),
        ParamTensor("mtp.norms", (d,), 3 * n, "vector", layer=False, component="Norms"),
        ParamTensor("mtp.eh_proj", (d, 2 * d), n, "linear", layer=False, component="Other"),
        ParamTensor("mtp.head", (V, d), n, "linear", layer=False, component="Unembedding"),
    ] + [t._replace(name="mtp." + t.name, copies=t.copies * n, layer=False) for t in block]


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
    if implementation != "hf" or spec.tensors is not None:  # a measured table is transformers' tensors already
        return n
    L = spec.n_layers
    if spec.family == "gpt2":
        n -= 4 * L
    if spec.is_moe:
        per_expert = (3 if spec.mlp is MlpKind.gated else 2) * (2 if spec.mlp_bias else 1)
        n -= spec.n_moe_layers * (spec.n_experts * per_expert - (4 if spec.mlp_bias else 2))
    return n


def buffer_bytes(spec: ModelSpec, implementation: str = "reference") -> int:
    """Non-parameter tensors a model holds: transformers' rotary embedding keeps inv_freq and
    original_inv_freq (d_head / 2 FP32 values each)."""
    if implementation == "hf" and spec.position is PositionKind.rotary:
        return 2 * (spec.head_dim // 2) * 4
    return 0
