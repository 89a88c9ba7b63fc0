"""ModelSpec: the architecture of a decoder-only transformer, in the lecture's notation.

Every estimator in llm-budget starts from one validated, frozen ModelSpec. The five
required fields are the lecture's (d_embed, n_heads, n_layers, n_vocab, d_mlp, where
d_mlp is the lecture's n_neurons); the rest describe what real model families add.
When a field is left out the default follows Llama (pre-norm RMSNorm, rotary
positions, no biases, untied unembedding), because that is what most open models are.
Validators only reject; derived values (head size, KV heads, activation) are properties.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from llm_budget.units import MAX_EXPONENT, MAX_QUANTITY


class StrictModel(BaseModel):
    """Anything a user writes (a preset, a spec file): frozen, and unknown keys are errors, so typos fail loudly."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class MlpKind(str, Enum):
    """How many matrices the feed-forward block has."""

    standard = "standard"  # up- and down-projection with an activation between (GPT-2/3: GELU; OPT: ReLU)
    gated = "gated"  # gate, up and down: act(x W_gate) * (x W_up), then W_down (SwiGLU/GeGLU, Shazeer 2020)


class Activation(str, Enum):
    gelu = "gelu"
    gelu_tanh = "gelu_tanh"  # tanh-approximate GELU as one fused op (Gemma's gelu_pytorch_tanh)
    gelu_new = "gelu_new"  # the same function written as elementwise ops (GPT-2's gelu_new): more saved tensors
    relu = "relu"
    silu = "silu"  # SwiGLU when the MLP is gated


class NormKind(str, Enum):
    none = "none"
    layernorm = "layernorm"  # scale and (unless norm_bias is false) shift: 2·d_embed parameters
    rmsnorm = "rmsnorm"  # scale only: d_embed parameters


class QKNorm(str, Enum):
    """Normalization of queries and keys before the dot product (Dehghani et al. 2023)."""

    none = "none"
    shared = "shared"  # one d_head-sized weight for all query heads and one for all key heads (Qwen3, Gemma 3)
    per_head = "per_head"  # a weight per head: n_heads·d_head for Q, n_kv_heads·d_head for K (Command R+, OLMo 2)


class PositionKind(str, Enum):
    none = "none"
    learned = "learned"  # an n_positions × d_embed table (GPT-2, GPT-3)
    rotary = "rotary"  # RoPE: rotations, no parameters (Llama, Mistral, Gemma)
    alibi = "alibi"  # linear attention biases, no parameters (BLOOM)


class LayerKind(str, Enum):
    """What a block's attention sees (transformers' `layer_types` names)."""

    full = "full_attention"  # every earlier position (the KV cache grows with the context)
    sliding = "sliding_attention"  # the last `sliding_window` positions (Mistral, Gemma 2/3, gpt-oss, Cohere 2)
    chunked = "chunked_attention"  # positions of the same `attention_chunk`-sized chunk (Llama 4's RoPE layers)


def _whole_number(value: object) -> object:
    """Sizes are integers as written: not a bool (YAML's `true`, `on`), not a float, not a string."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    if value > MAX_QUANTITY:
        raise ValueError(f"must be at most 1e{MAX_EXPONENT}")  # the command line's limit (units.MAX_QUANTITY)
    return value


Size = Annotated[int, BeforeValidator(_whole_number), Field(gt=0)]
"""A positive whole number of at most units.MAX_QUANTITY (1e30), the one limit for numbers everywhere."""
Count = Annotated[int, BeforeValidator(_whole_number), Field(ge=0)]
"""A whole number that may be 0 (layers, experts)."""


class MLA(StrictModel):
    """Multi-head latent attention (DeepSeek-V2 §2.1, DeepSeek-V3, Kimi K2): keys and values come from one
    compressed latent of kv_lora_rank per token, plus a shared rotary key of qk_rope_head_dim.

    Per layer: q = q_b(norm(q_a(x))) (or one q_proj when q_lora_rank is None), n_heads × (nope + rope) wide;
    kv_a: d_embed -> kv_lora_rank + qk_rope_head_dim; kv_b: kv_lora_rank -> n_heads × (nope + v_head_dim);
    o: n_heads × v_head_dim -> d_embed (transformers/models/deepseek_v3/modeling_deepseek_v3.py).
    """

    q_lora_rank: Optional[Size] = Field(None, description="Rank of the query's down-projection (None: one q_proj)")
    kv_lora_rank: Size = Field(description="Width of the compressed key/value latent")
    qk_nope_head_dim: Size = Field(description="Per-head query/key width without rotary positions")
    qk_rope_head_dim: Size = Field(description="Per-head query/key width with rotary positions (key shared by heads)")
    v_head_dim: Size = Field(description="Per-head value width")

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim


class TensorRow(StrictModel):
    """One parameter tensor of a model measured rather than mapped: transformers' own class on the meta device
    (architectures without a native mapper). Same meaning as inventory.ParamTensor."""

    name: str
    shape: tuple[int, ...]
    copies: Size = 1
    kind: Literal["embedding", "linear", "vector"] = "linear"
    layer: bool = True
    expert: bool = False
    component: str = "Other"


class ModelSpec(StrictModel):
    # -- metadata ------------------------------------------------------------------
    name: Optional[str] = Field(None, description="Preset slug, e.g. llama3-8b")
    display_name: Optional[str] = Field(None, description="Human name, e.g. Llama 3 8B")
    family: Optional[str] = Field(None, description="Model family, e.g. llama, gpt2, mixtral")
    source: Optional[str] = Field(None, description="URL of the architecture / published parameter count")
    published_params: Optional[Size] = Field(
        None, description="Exact parameter count its authors publish (checked by tests)"
    )
    published_rounded: Optional[str] = Field(
        None,
        description="The count as its authors round it when no exact count is published, e.g. '671B' or "
        "'671B total, 37B active' (tests check the exact count rounds to it)",
    )
    notes: Optional[str] = None

    # -- the lecture's five --------------------------------------------------------
    d_embed: Size = Field(description="Width of the residual stream (hidden_size, d_model)")
    n_heads: Size = Field(description="Query heads per layer")
    n_layers: Size = Field(description="Transformer blocks")
    n_vocab: Size = Field(description="Vocabulary size (rows of the embedding)")
    d_mlp: Size = Field(
        description="Hidden width of the MLP (intermediate_size; the lecture's n_neurons); per expert for MoE"
    )

    # -- attention -----------------------------------------------------------------
    d_head: Optional[Size] = Field(None, description="Size of each head (d_query = d_value); default d_embed / n_heads")
    n_kv_heads: Optional[Size] = Field(None, description="Key/value heads (grouped-query attention); default n_heads")
    attn_qkv_bias: bool = Field(False, description="Biases on the query, key and value projections")
    attn_out_bias: bool = Field(False, description="Bias on the attention output projection")
    qk_norm: QKNorm = QKNorm.none
    qk_norm_bias: Optional[bool] = Field(
        None, description="Shift on the QK-norms; default norm_bias (StableLM 2: none, next to shifted LayerNorms)"
    )
    sliding_window: Optional[Size] = Field(
        None, description="Attention window in tokens (caps the KV cache); every layer's unless layer_pattern says"
    )
    layer_pattern: Optional[tuple[LayerKind, ...]] = Field(
        None,
        min_length=1,
        description="Attention kind of each block, repeated over n_layers (Gemma 3: 5 sliding then 1 full; "
        "gpt-oss, Gemma 2: sliding, full; Llama 4: 3 chunked then 1 full). Default: all sliding when "
        "sliding_window is set, else all full",
    )
    attention_chunk: Optional[Size] = Field(None, description="Chunk of chunked-attention layers (Llama 4: 8,192)")
    mla: Optional[MLA] = Field(None, description="Multi-head latent attention (DeepSeek-V2/V3, Kimi K2)")
    attention_sinks: bool = Field(False, description="A learned sink logit per head and layer (gpt-oss)")
    rotary_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        1.0, description="Share of each head rotated by RoPE (phi-2: 0.4, StableLM: 0.25, GLM-4.5: 0.5)"
    )

    # -- MLP -----------------------------------------------------------------------
    mlp: MlpKind = MlpKind.standard
    activation: Optional[Activation] = Field(None, description="Default: gelu for standard, silu for gated")
    mlp_bias: bool = Field(False, description="Biases on the MLP projections")

    # -- norms ---------------------------------------------------------------------
    norm: NormKind = NormKind.rmsnorm
    norm_bias: Optional[bool] = Field(None, description="LayerNorm shift; default true for layernorm")
    norms_per_layer: Annotated[int, BeforeValidator(_whole_number), Field(ge=0, le=4)] = Field(
        2, description="Norms inside each block: 2 pre-norm, 1 parallel block (Cohere), 4 sandwich (Gemma 2)"
    )
    final_norm: bool = Field(True, description="A norm after the last block")
    embed_norm: bool = Field(False, description="A norm right after the token embedding (BLOOM)")

    # -- embeddings ----------------------------------------------------------------
    position: PositionKind = PositionKind.rotary
    n_positions: Optional[Size] = Field(None, description="Rows of a learned position table")
    tied_embeddings: bool = Field(False, description="Unembedding shares the embedding matrix")
    unembed_bias: bool = Field(False, description="A bias on the unembedding (phi-1.5/phi-2's lm_head)")

    # -- mixture of experts --------------------------------------------------------
    n_experts: Size = Field(1, description="Experts per MoE layer (1 = dense)")
    n_active_experts: Optional[Size] = Field(None, description="Experts each token is routed to (top-k)")
    router_bias: bool = Field(False, description="A bias on the router's linear layer (gpt-oss)")
    d_expert: Optional[Size] = Field(
        None, description="Width of each routed expert (moe_intermediate_size), when not d_mlp (DeepSeek, Qwen-MoE)"
    )
    d_shared_mlp: Optional[Size] = Field(
        None,
        description="Width of the shared-expert MLP every token also runs (DeepSeek: n_shared_experts × "
        "moe_intermediate_size; Qwen2-MoE: shared_expert_intermediate_size; Llama 4: intermediate_size)",
    )
    shared_expert_gate: bool = Field(False, description="A sigmoid gate Linear(d_embed, 1) on the shared expert")
    first_dense_layers: Count = Field(
        0, description="Leading blocks with a dense MLP of d_mlp (DeepSeek/GLM first_k_dense_replace)"
    )
    moe_every: Size = Field(
        1, description="Block i (from 0) is MoE when (i + 1) is a multiple of this (Llama 4 Maverick: 2)"
    )
    dense_layers: tuple[Count, ...] = Field((), description="Blocks with a dense MLP (Qwen-MoE mlp_only_layers)")
    n_mtp_layers: Count = Field(
        0, description="Multi-token-prediction blocks shipped in the checkpoint (DeepSeek-V3: 1), counted apart"
    )

    # -- measured instead of mapped (architectures without a native mapper) ---------
    tensors: Optional[tuple[TensorRow, ...]] = Field(
        None, description="Every parameter tensor of transformers' own class on the meta device; the inventory"
    )
    measured_by: Optional[str] = Field(None, description="The transformers class the tensors were measured from")

    # -- training / serving defaults ------------------------------------------------
    context_window: Optional[Size] = Field(None, description="Longest context the model was trained for")
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="Dropout probability in training (GPT-2: 0.1; Llama: 0), which stores masks"
    )

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.d_head is None and self.d_embed % self.n_heads:
            raise ValueError(
                f"d_embed={self.d_embed} is not divisible by n_heads={self.n_heads}; give d_head explicitly"
            )
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads={self.n_heads} is not divisible by n_kv_heads={self.kv_heads}")
        if self.n_kv_heads is not None and self.n_kv_heads > self.n_heads:
            raise ValueError(f"n_kv_heads={self.n_kv_heads} is larger than n_heads={self.n_heads}")
        if self.n_experts > 1 and self.n_active_experts is None:
            raise ValueError(f"n_experts={self.n_experts} needs n_active_experts (experts per token, top-k)")
        if self.n_active_experts is not None and self.n_active_experts > self.n_experts:
            raise ValueError(f"n_active_experts={self.n_active_experts} is larger than n_experts={self.n_experts}")
        if self.position is PositionKind.learned and self.n_positions is None:
            raise ValueError("position=learned needs n_positions (rows of the position table)")
        if self.norm is not NormKind.layernorm and (self.norm_bias or self.qk_norm_bias):
            raise ValueError(f"norm_bias=true needs norm=layernorm (got norm={self.norm.value})")
        if self.norm is NormKind.none and (self.qk_norm is not QKNorm.none or self.embed_norm):
            raise ValueError("norm=none cannot have qk_norm or embed_norm")
        self._check_patterns()
        return self

    def _check_patterns(self) -> None:
        """The 2025-26 fields: layer patterns, MoE layout, MLA."""
        kinds = set(self.layer_pattern or ())
        if self.layer_pattern is not None and len(self.layer_pattern) > self.n_layers:
            raise ValueError(f"layer_pattern has {len(self.layer_pattern)} entries for n_layers={self.n_layers}")
        if LayerKind.sliding in kinds and self.sliding_window is None:
            raise ValueError("layer_pattern has sliding_attention layers but no sliding_window")
        if LayerKind.chunked in kinds and self.attention_chunk is None:
            raise ValueError("layer_pattern has chunked_attention layers but no attention_chunk")
        moe_only = dict(
            d_expert=self.d_expert,
            d_shared_mlp=self.d_shared_mlp,
            shared_expert_gate=self.shared_expert_gate or None,
            first_dense_layers=self.first_dense_layers or None,
            dense_layers=self.dense_layers or None,
            router_bias=self.router_bias or None,
        )
        given = [k for k, v in moe_only.items() if v is not None]
        if given and not self.is_moe:
            raise ValueError(f"{', '.join(given)} need a mixture of experts (n_experts > 1)")
        if self.moe_every != 1 and not self.is_moe:
            raise ValueError("moe_every needs a mixture of experts (n_experts > 1)")
        if self.shared_expert_gate and self.d_shared_mlp is None:
            raise ValueError("shared_expert_gate needs d_shared_mlp (the shared expert's width)")
        bad = [i for i in self.dense_layers if i >= self.n_layers]
        if bad:
            raise ValueError(f"dense_layers {bad} are not blocks of a {self.n_layers}-layer model")
        if self.is_moe and self.n_moe_layers == 0:
            raise ValueError("no block is MoE (check first_dense_layers, moe_every, dense_layers)")
        if self.mla is not None and (self.d_head is not None or self.n_kv_heads is not None):
            raise ValueError("mla sets the head sizes: leave d_head and n_kv_heads out")
        if self.tensors is not None and not self.tensors:
            raise ValueError("tensors: an empty table")

    # -- derived values (never stored) -----------------------------------------------
    @property
    def head_dim(self) -> int:
        """d_query = d_value: explicit d_head, else d_embed / n_heads."""
        return self.d_head if self.d_head is not None else self.d_embed // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads if self.n_kv_heads is not None else self.n_heads

    @property
    def active_experts(self) -> int:
        return self.n_active_experts if self.n_active_experts is not None else 1

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def expert_width(self) -> int:
        """d_mlp of one routed expert."""
        return self.d_expert if self.d_expert is not None else self.d_mlp

    def is_moe_layer(self, i: int) -> bool:
        """Block i (from 0) routes its tokens to experts (DeepSeek: i ≥ first_k_dense_replace; Qwen-MoE:
        (i + 1) % decoder_sparse_step == 0 and i not in mlp_only_layers; Llama 4: interleave_moe_layer_step)."""
        return (
            self.is_moe
            and i >= self.first_dense_layers
            and (i + 1) % self.moe_every == 0
            and i not in self.dense_layers
        )

    @property
    def n_moe_layers(self) -> int:
        """Blocks i in [first_dense_layers, n_layers) with (i + 1) a multiple of moe_every, less dense_layers.
        Arithmetic, not a loop: sizes may be as large as 1e30."""
        if not self.is_moe:
            return 0
        L, k, s = self.n_layers, self.first_dense_layers, self.moe_every
        ruled = max(0, L // s - min(k, L) // s)
        return ruled - sum(1 for i in set(self.dense_layers) if k <= i < L and (i + 1) % s == 0)

    @property
    def n_dense_layers(self) -> int:
        """Blocks with a dense MLP of width d_mlp (all of them in a dense model)."""
        return self.n_layers - self.n_moe_layers

    def layer_kind(self, i: int) -> LayerKind:
        """The attention kind of block i: layer_pattern repeated, else sliding (a window) or full."""
        if self.layer_pattern is not None:
            return self.layer_pattern[i % len(self.layer_pattern)]
        return LayerKind.sliding if self.sliding_window else LayerKind.full

    def count_layers(self, kind: LayerKind) -> int:
        """Blocks of one attention kind (the pattern's full repeats, then its first n_layers % len entries)."""
        p = self.layer_pattern or (self.layer_kind(0),)
        full, rest = divmod(self.n_layers, len(p))
        return full * p.count(kind) + p[:rest].count(kind)

    @property
    def qk_head_dim(self) -> int:
        """Width of each query and key head: MLA's nope + rope, else head_dim."""
        return self.mla.qk_head_dim if self.mla is not None else self.head_dim

    @property
    def v_head_dim(self) -> int:
        return self.mla.v_head_dim if self.mla is not None else self.head_dim

    @property
    def act(self) -> Activation:
        if self.activation is not None:
            return self.activation
        return Activation.silu if self.mlp is MlpKind.gated else Activation.gelu

    @property
    def has_norm_bias(self) -> bool:
        if self.norm_bias is not None:
            return self.norm_bias
        return self.norm is NormKind.layernorm

    @property
    def has_qk_norm_bias(self) -> bool:
        return self.has_norm_bias if self.qk_norm_bias is None else self.qk_norm_bias

    @property
    def label(self) -> str:
        return self.display_name or self.name or "custom model"

    def with_overrides(self, **overrides: object) -> ModelSpec:
        """A new, re-validated spec with some fields replaced (model_copy would skip validation)."""
        data = self.model_dump(exclude_none=True)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return ModelSpec.model_validate(data)


class ClosedModel(StrictModel):
    """A model listed in the lecture's comparison table whose architecture is not published."""

    name: str
    display_name: str
    provider: str
    context_window: Size
    price_per_million_tokens_usd: float = Field(description="The lecture's 'Price / Million' column (blended, USD)")
    source: str = "lecture: LLM Comparison table"
    notes: Optional[str] = None
