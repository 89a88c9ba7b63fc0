"""The DBRX mapper: its sizes sit in the nested attn_config and ffn_config of the config.json."""

from __future__ import annotations

from llm_budget.model.hf.keys import Config, Fields, Mapper, optional, required, section, tied


def dbrx(cfg: Config) -> Fields:
    """modeling_dbrx.py: fused Wqkv without bias, bias-free LayerNorms, a router and SwiGLU experts (DbrxFFN).

    Sub-config defaults (configuration_dbrx.py): kv_n_heads 1; ffn_hidden_size 3584, moe_num_experts 4, moe_top_k 1.
    """
    attn = section(cfg, "attn_config")
    ffn = section(cfg, "ffn_config")
    n_heads = required(cfg, "n_heads")
    return dict(
        d_embed=required(cfg, "d_model"),
        n_heads=n_heads,
        n_layers=required(cfg, "n_layers"),
        n_vocab=required(cfg, "vocab_size"),
        d_mlp=optional(ffn, "ffn_hidden_size", 3584),
        n_kv_heads=optional(attn, "kv_n_heads", 1),
        mlp="gated",
        activation="silu",
        norm="layernorm",
        norm_bias=False,
        position="rotary",
        n_experts=optional(ffn, "moe_num_experts", 4),
        n_active_experts=optional(ffn, "moe_top_k", 1),
        context_window=cfg.get("max_seq_len"),
        tied_embeddings=tied(cfg, False),
    )


FAMILIES: dict[str, Mapper] = {
    "dbrx": Mapper("dbrx", dbrx, "dbrx/modeling_dbrx.py"),
}
