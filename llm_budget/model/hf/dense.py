"""Mappers of more dense decoders: phi-1.5/phi-2, StableLM, Falcon.

Each follows transformers/models/<model_type>/modeling_<model_type>.py (named in FAMILIES) and the defaults of
its configuration_<model_type>.py for keys a config.json leaves out.
"""

from __future__ import annotations

from llm_budget.errors import SpecError
from llm_budget.model.hf.attention import flag, kv_heads, rotary_fraction
from llm_budget.model.hf.keys import Config, Fields, Mapper, activation, dropout, optional, required, tied


def _left_to_transformers(model_type: str, variant: str) -> Exception:
    """A variant of a native family that ModelSpec cannot express: refused as unsupported, so that the
    transformers path (presets.load_hf_config) measures it instead of a wrong native count."""
    from llm_budget.model.hf.registry import UnsupportedModelType  # registry imports this module

    return UnsupportedModelType(f"model_type '{model_type}' with {variant} has no native mapper", model_type)


def _sizes(cfg: Config, kv: int | None) -> Fields:
    """The size keys under their PretrainedConfig names (phi, StableLM); `kv`: the num_key_value_heads default."""
    n_heads = required(cfg, "num_attention_heads")
    out: Fields = dict(
        d_embed=required(cfg, "hidden_size"),
        n_heads=n_heads,
        n_kv_heads=kv_heads(cfg, n_heads, kv),
        n_layers=required(cfg, "num_hidden_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=required(cfg, "intermediate_size"),
        context_window=cfg.get("max_position_embeddings"),
    )
    return out


def phi(cfg: Config) -> Fields:
    """modeling_phi.py (phi-1, phi-1.5, phi-2): one LayerNorm feeding attention and MLP in parallel (PhiDecoderLayer);
    q, k, v and dense with biases; fc1, fc2 with biases (gelu_new); optional LayerNorms over head_dim on q and k
    (`qk_layernorm`); RoPE on partial_rotary_factor of each head (default 0.5); lm_head has a bias."""
    out = _sizes(cfg, None)
    if cfg.get("head_dim"):
        out["d_head"] = cfg["head_dim"]
    return out | dict(
        mlp="standard",
        activation=activation(cfg.get("hidden_act"), "gelu_new"),
        attn_qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        norm="layernorm",
        norms_per_layer=1,
        qk_norm="shared" if flag(cfg, "qk_layernorm", False) else "none",
        position="rotary",
        rotary_fraction=rotary_fraction(cfg, 0.5),
        tied_embeddings=tied(cfg, False),
        unembed_bias=True,
        dropout=dropout(cfg, "resid_pdrop"),
    )


def stablelm(cfg: Config) -> Fields:
    """modeling_stablelm.py: LayerNorms with a shift; q, k, v take `use_qkv_bias`, o_proj has none; a gated MLP
    without biases; one input LayerNorm when `use_parallel_residual`, else two; RoPE on partial_rotary_factor
    (default 0.25); head_dim is hidden_size / num_attention_heads; 32 KV heads by default.

    `qk_layernorm` (StableLM 2 12B) puts a bias-free LayerNorm per head on q and k while the block's LayerNorms
    keep their shift (qk_norm_bias=False).
    """
    qk = flag(cfg, "qk_layernorm", False)
    return _sizes(cfg, 32) | dict(
        qk_norm="per_head" if qk else "none",
        qk_norm_bias=False if qk else None,
        mlp="gated",
        activation=activation(cfg.get("hidden_act"), "silu"),
        attn_qkv_bias=flag(cfg, "use_qkv_bias", False),
        norm="layernorm",
        norms_per_layer=1 if flag(cfg, "use_parallel_residual", False) else 2,
        position="rotary",
        rotary_fraction=rotary_fraction(cfg, 0.25),
        tied_embeddings=tied(cfg, False),
        dropout=dropout(cfg, "hidden_dropout"),
    )


def _falcon_norms(cfg: Config, new_architecture: bool) -> int:
    """FalconDecoderLayer: sequential blocks have input and post-attention LayerNorms; parallel ones have ln_attn
    and ln_mlp when num_ln_in_parallel_attn is 2 (the default under new_decoder_architecture), else one."""
    if not flag(cfg, "parallel_attn", True):
        return 2
    n_ln = optional(cfg, "num_ln_in_parallel_attn", 2 if new_architecture else None)
    return 2 if n_ln == 2 else 1


def falcon(cfg: Config) -> Fields:
    """modeling_falcon.py: one fused query_key_value of (n_heads + 2·kv_heads)·head_dim outputs, where kv_heads is
    num_kv_heads under new_decoder_architecture (Falcon 40B/180B; default num_attention_heads), else 1 under
    multi_query (default true: Falcon 7B) or n_heads; q/k/v, dense and the MLP take `bias` (default false);
    LayerNorms with a shift; ALiBi when `alibi`, else RoPE; d_mlp = ffn_hidden_size or 4·hidden_size; tied lm_head."""
    d = required(cfg, "hidden_size", "n_embed")
    n_heads = required(cfg, "num_attention_heads")
    if d % n_heads:
        raise SpecError(f"config.json: hidden_size={d} is not divisible by num_attention_heads={n_heads}")
    new_architecture = flag(cfg, "new_decoder_architecture", False)
    if new_architecture:
        n_kv = optional(cfg, "num_kv_heads", n_heads)
    else:
        n_kv = 1 if flag(cfg, "multi_query", True) else n_heads
    bias = flag(cfg, "bias", False)
    return dict(
        d_embed=d,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        n_layers=required(cfg, "num_hidden_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=optional(cfg, "ffn_hidden_size", 4 * d),
        mlp="standard",
        activation=activation(cfg.get("activation"), "gelu"),
        attn_qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=bias,
        norm="layernorm",
        norms_per_layer=_falcon_norms(cfg, new_architecture),
        position="alibi" if flag(cfg, "alibi", False) else "rotary",
        context_window=optional(cfg, "max_position_embeddings", 2048),  # FalconConfig's default
        tied_embeddings=tied(cfg, True),
        dropout=dropout(cfg, "hidden_dropout"),
    )


FAMILIES: dict[str, Mapper] = {
    "phi": Mapper("phi", phi, "phi/modeling_phi.py"),
    "stablelm": Mapper("stablelm", stablelm, "stablelm/modeling_stablelm.py"),
    "falcon": Mapper("falcon", falcon, "falcon/modeling_falcon.py"),
}
