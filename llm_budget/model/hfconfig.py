"""Read a local Hugging Face `config.json` into a ModelSpec — offline, without transformers.

One small mapper per `model_type`, each written from that family's modeling file in
transformers (which modules exist, which have biases, how many norms a block has).
tests/test_hfconfig.py holds every mapper to the count transformers itself gives for the
same config, building the real model on PyTorch's meta device.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from llm_budget.errors import LLMBudgetError, SpecError

Config = dict[str, Any]


def _req(cfg: Config, *keys: str) -> Any:
    """The first of `keys` present in cfg (configs rename keys across versions)."""
    for key in keys:
        if cfg.get(key) is not None:
            return cfg[key]
    raise SpecError(f"config.json has no '{keys[0]}' (needed for model_type '{cfg.get('model_type')}')")


def _opt(cfg: Config, key: str, default: Any) -> Any:
    value = cfg.get(key)
    return default if value is None else value


def _act(name: str | None, default: str) -> str:
    """Map transformers' activation names onto ours."""
    name = (name or default).lower()
    if name in ("silu", "swish"):
        return "silu"
    if name == "gelu_new":
        return "gelu_new"
    if name in ("gelu_pytorch_tanh", "gelu_fast", "gelu_tanh"):
        return "gelu_tanh"
    if name.startswith("gelu"):
        return "gelu"
    if name == "relu":
        return "relu"
    return default


def _common(cfg: Config) -> dict[str, Any]:
    """Keys shared by the Llama-like families (Llama, Mistral, Mixtral, Qwen, Gemma, Phi-3, Cohere)."""
    n_heads = _req(cfg, "num_attention_heads")
    out: dict[str, Any] = dict(
        d_embed=_req(cfg, "hidden_size"),
        n_heads=n_heads,
        n_layers=_req(cfg, "num_hidden_layers"),
        n_vocab=_req(cfg, "vocab_size"),
        d_mlp=_req(cfg, "intermediate_size"),
        n_kv_heads=_opt(cfg, "num_key_value_heads", n_heads),
        mlp="gated",
        norm="rmsnorm",
        position="rotary",
        context_window=cfg.get("max_position_embeddings"),
        dropout=float(_opt(cfg, "attention_dropout", 0.0) or 0.0),
    )
    if cfg.get("head_dim") is not None:
        out["d_head"] = cfg["head_dim"]
    return out


def _llama(cfg: Config) -> dict[str, Any]:
    # LlamaAttention: q,k,v,o all take `attention_bias`; LlamaMLP: gate, up, down take `mlp_bias`.
    bias = bool(_opt(cfg, "attention_bias", False))
    return _common(cfg) | dict(
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=bool(_opt(cfg, "mlp_bias", False)),
        activation=_act(cfg.get("hidden_act"), "silu"),
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", False)),
        sliding_window=cfg.get("sliding_window"),
    )


def _mistral(cfg: Config) -> dict[str, Any]:
    return _common(cfg) | dict(
        activation=_act(cfg.get("hidden_act"), "silu"),
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", False)),
        sliding_window=cfg.get("sliding_window"),
    )


def _mixtral(cfg: Config) -> dict[str, Any]:
    # MixtralSparseMoeBlock: router Linear(d, E, bias=False) + E SwiGLU experts without biases.
    return _mistral(cfg) | dict(
        n_experts=_req(cfg, "num_local_experts"),
        n_active_experts=_req(cfg, "num_experts_per_tok"),
    )


def _qwen2(cfg: Config) -> dict[str, Any]:
    # Qwen2Attention: q,k,v have biases, o does not.
    return _common(cfg) | dict(
        attn_qkv_bias=True,
        activation=_act(cfg.get("hidden_act"), "silu"),
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", False)),
        sliding_window=cfg.get("sliding_window") if cfg.get("use_sliding_window") else None,
    )


def _qwen3(cfg: Config) -> dict[str, Any]:
    # Qwen3Attention: `attention_bias` on q,k,v,o; RMSNorm(head_dim) on queries and keys.
    bias = bool(_opt(cfg, "attention_bias", False))
    return _common(cfg) | dict(
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        qk_norm="shared",
        activation=_act(cfg.get("hidden_act"), "silu"),
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", False)),
    )


def _gemma(cfg: Config) -> dict[str, Any]:
    bias = bool(_opt(cfg, "attention_bias", False))
    return _common(cfg) | dict(
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        activation=_act(cfg.get("hidden_activation") or cfg.get("hidden_act"), "gelu_tanh"),
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", True)),
    )


def _gemma2(cfg: Config) -> dict[str, Any]:
    # Gemma 2 blocks: input, post-attention, pre-feedforward and post-feedforward RMSNorms.
    return _gemma(cfg) | dict(norms_per_layer=4, sliding_window=cfg.get("sliding_window"))


def _phi3(cfg: Config) -> dict[str, Any]:
    # Phi3: fused qkv_proj and gate_up_proj, no biases; the same counts as separate matrices.
    return _common(cfg) | dict(
        activation=_act(cfg.get("hidden_act"), "silu"),
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", False)),
        sliding_window=cfg.get("sliding_window"),
    )


def _cohere(cfg: Config) -> dict[str, Any]:
    # CohereDecoderLayer: one bias-free LayerNorm feeding attention and MLP in parallel;
    # optional per-head LayerNorms on q and k (`use_qk_norm`, Command R+); tied embeddings.
    bias = bool(_opt(cfg, "attention_bias", False))
    return _common(cfg) | dict(
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        activation=_act(cfg.get("hidden_act"), "silu"),
        norm="layernorm",
        norm_bias=False,
        norms_per_layer=1,
        qk_norm="per_head" if cfg.get("use_qk_norm") else "none",
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", True)),
    )


def _gpt2(cfg: Config) -> dict[str, Any]:
    d = _req(cfg, "n_embd", "hidden_size")
    n_pos = _req(cfg, "n_positions", "max_position_embeddings")
    return dict(
        d_embed=d,
        n_heads=_req(cfg, "n_head", "num_attention_heads"),
        n_layers=_req(cfg, "n_layer", "num_hidden_layers"),
        n_vocab=_req(cfg, "vocab_size"),
        d_mlp=_opt(cfg, "n_inner", 4 * d),
        mlp="standard",
        activation=_act(cfg.get("activation_function"), "gelu_new"),
        attn_qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        norm="layernorm",
        position="learned",
        n_positions=n_pos,
        context_window=n_pos,
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", True)),
        dropout=float(_opt(cfg, "resid_pdrop", 0.1)),
    )


def _gpt_neox(cfg: Config) -> dict[str, Any]:
    bias = bool(_opt(cfg, "attention_bias", True))
    return dict(
        d_embed=_req(cfg, "hidden_size"),
        n_heads=_req(cfg, "num_attention_heads"),
        n_layers=_req(cfg, "num_hidden_layers"),
        n_vocab=_req(cfg, "vocab_size"),
        d_mlp=_req(cfg, "intermediate_size"),
        mlp="standard",
        activation=_act(cfg.get("hidden_act"), "gelu"),
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=True,
        norm="layernorm",
        position="rotary",
        context_window=cfg.get("max_position_embeddings"),
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", False)),
        dropout=float(_opt(cfg, "hidden_dropout", 0.0) or 0.0),
    )


def _bloom(cfg: Config) -> dict[str, Any]:
    d = _req(cfg, "hidden_size", "n_embed")
    return dict(
        d_embed=d,
        n_heads=_req(cfg, "n_head", "num_attention_heads"),
        n_layers=_req(cfg, "n_layer", "num_hidden_layers"),
        n_vocab=_req(cfg, "vocab_size"),
        d_mlp=4 * d,
        mlp="standard",
        activation="gelu_tanh",
        attn_qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        norm="layernorm",
        embed_norm=True,
        position="alibi",
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", True)),
        dropout=float(_opt(cfg, "hidden_dropout", 0.0) or 0.0),
    )


def _dbrx(cfg: Config) -> dict[str, Any]:
    attn = cfg.get("attn_config") or {}
    ffn = cfg.get("ffn_config") or {}
    n_heads = _req(cfg, "n_heads")
    return dict(
        d_embed=_req(cfg, "d_model"),
        n_heads=n_heads,
        n_layers=_req(cfg, "n_layers"),
        n_vocab=_req(cfg, "vocab_size"),
        d_mlp=_req(ffn, "ffn_hidden_size"),
        n_kv_heads=_opt(attn, "kv_n_heads", n_heads),
        mlp="gated",
        activation="silu",
        norm="layernorm",
        norm_bias=False,
        position="rotary",
        n_experts=_req(ffn, "moe_num_experts"),
        n_active_experts=_req(ffn, "moe_top_k"),
        context_window=cfg.get("max_seq_len"),
        tied_embeddings=bool(_opt(cfg, "tie_word_embeddings", False)),
    )


MAPPERS: dict[str, tuple[str, Callable[[Config], dict[str, Any]]]] = {
    "llama": ("llama", _llama),
    "mistral": ("mistral", _mistral),
    "mixtral": ("mixtral", _mixtral),
    "gemma": ("gemma", _gemma),
    "gemma2": ("gemma2", _gemma2),
    "gpt2": ("gpt2", _gpt2),
    "gpt_neox": ("gpt-neox", _gpt_neox),
    "cohere": ("cohere", _cohere),
    "dbrx": ("dbrx", _dbrx),
    "qwen2": ("qwen2", _qwen2),
    "qwen3": ("qwen3", _qwen3),
    "bloom": ("bloom", _bloom),
    "phi3": ("phi3", _phi3),
}


def spec_fields_from_hf(cfg: Config) -> dict[str, Any]:
    """ModelSpec fields from a parsed config.json (not yet validated)."""
    model_type = cfg.get("model_type")
    if model_type not in MAPPERS:
        raise LLMBudgetError(
            f"unsupported model_type {model_type!r} in config.json; supported: {', '.join(sorted(MAPPERS))}"
        )
    family, mapper = MAPPERS[model_type]
    fields = mapper(cfg)
    fields["family"] = family
    name = cfg.get("_name_or_path")
    if isinstance(name, str) and name:
        fields.setdefault("display_name", name)
    return {k: v for k, v in fields.items() if v is not None}


def read_hf_config(path: str | Path) -> Config:
    """Parse a config.json, turning I/O and syntax problems into one-line user errors."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LLMBudgetError(f"{p}: no such file") from None
    except OSError as e:
        raise LLMBudgetError(f"{p}: cannot read ({e.strerror})") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise LLMBudgetError(f"{p}:{e.lineno}:{e.colno}: malformed JSON: {e.msg}") from None
    if not isinstance(cfg, dict):
        raise LLMBudgetError(f"{p}: expected a JSON object, got {type(cfg).__name__}")
    return cfg
