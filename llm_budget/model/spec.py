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
from typing import Annotated, Optional

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


def _whole_number(value: object) -> object:
    """Sizes are integers as written: not a bool (YAML's `true`, `on`), not a float, not a string."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    if value > MAX_QUANTITY:
        raise ValueError(f"must be at most 1e{MAX_EXPONENT}")  # the command line's limit (units.MAX_QUANTITY)
    return value


Size = Annotated[int, BeforeValidator(_whole_number), Field(gt=0)]
"""A positive whole number of at most units.MAX_QUANTITY (1e30), the one limit for numbers everywhere."""


class ModelSpec(StrictModel):
    # -- metadata ------------------------------------------------------------------
    name: Optional[str] = Field(None, description="Preset slug, e.g. llama3-8b")
    display_name: Optional[str] = Field(None, description="Human name, e.g. Llama 3 8B")
    family: Optional[str] = Field(None, description="Model family, e.g. llama, gpt2, mixtral")
    source: Optional[str] = Field(None, description="URL of the architecture / published parameter count")
    published_params: Optional[Size] = Field(
        None, description="Exact parameter count its authors publish (checked by tests)"
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
    sliding_window: Optional[Size] = Field(None, description="Attention window in tokens (caps the KV cache)")

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

    # -- mixture of experts --------------------------------------------------------
    n_experts: Size = Field(1, description="Experts per MoE layer (1 = dense)")
    n_active_experts: Optional[Size] = Field(None, description="Experts each token is routed to (top-k)")
    router_bias: bool = False

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
        if self.norm is not NormKind.layernorm and self.norm_bias:
            raise ValueError(f"norm_bias=true needs norm=layernorm (got norm={self.norm.value})")
        if self.norm is NormKind.none and (self.qk_norm is not QKNorm.none or self.embed_norm):
            raise ValueError("norm=none cannot have qk_norm or embed_norm")
        return self

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
