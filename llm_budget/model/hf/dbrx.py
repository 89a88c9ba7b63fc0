"""The DBRX mapper: its sizes sit in the nested attn_config and ffn_config of the config.json."""

from __future__ import annotations

from llm_budget.model.hf.keys import Config, Fields, Mapper, optional, required, section, tied


def dbrx(cfg: Config) -> Fields:
    """modeling_dbrx.py: fused Wqkv without bias, bias-free LayerNorms, a router and SwiGLU experts (DbrxFFN)."""
    attn = section(cfg, "attn_config")
    ffn = section(cfg, "ffn_config")
    n_heads = required(cfg, "n_heads")
    return dict(
        d_embed=required(cfg, "d_model"),
        n_heads=n_heads,
        n_layers=required(cfg, "n_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=required(ffn, "ffn_hidden_size"),
        n_kv_heads=optional(attn, "kv_n_heads", n_heads),
        mlp="gated",
        activation="silu",
        norm="layernorm",
        norm_bias=False,
        position="rotary",
        n_experts=required(ffn, "moe_num_experts"),
        n_active_experts=required(ffn, "moe_top_k"),
        context_window=cfg.get("max_seq_len"),
        tied_embeddings=tied(cfg, False),
    )


FAMILIES: dict[str, Mapper] = {
    "dbrx": Mapper("dbrx", dbrx, "dbrx/modeling_dbrx.py"),
}
