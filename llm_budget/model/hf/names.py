"""Hugging Face parameter names -> the counter's rows: the one mapping, for measured models and checkpoints.

transformers and the checkpoints it loads name every tensor by module path, e.g.
`model.layers.0.self_attn.q_proj.weight`. The row is read from the module names along that path, as the
families' modeling files spell them (transformers/models/<type>/modeling_<type>.py): q_proj/k_proj/v_proj
(Llama), c_attn/c_proj/c_fc (GPT-2), query_key_value/dense (GPT-NeoX, Falcon, BLOOM), q_a_proj/kv_b_proj
(DeepSeek's MLA), experts/shared_expert/router (MoE). Fused projections have rows of their own
(FUSED says which rows each one holds); a name no rule knows lands in "Other", never dropped.
"""

from __future__ import annotations

from llm_budget.model.inventory import ComponentName

FUSED: dict[ComponentName, tuple[ComponentName, ...]] = {
    "QKV (fused)": ("Query", "Key", "Value"),
    "Gate+Up (fused)": ("Gate", "Up-projection"),
}
"""Rows of fused tensors, and the separate rows whose sum they equal (c_attn = Query + Key + Value)."""

_EMBEDDING = {"embed_tokens", "wte", "word_embeddings", "embed_in", "tok_embeddings", "wordembeddings"}
_POSITION = {"wpe", "embed_positions", "position_embeddings"}
_HEAD = {"lm_head", "embed_out"}
_ATTENTION = {"self_attn", "attn", "attention", "self_attention", "mixer_attn"}
_MLP = {"mlp", "ffn", "feed_forward", "block_sparse_moe", "moe"}

_BY_MODULE: dict[str, ComponentName] = {
    "q_a_proj": "Query down-projection",
    "q_b_proj": "Query up-projection",
    "kv_a_proj_with_mqa": "KV down-projection",
    "kv_b_proj": "KV up-projection",
    "q_proj": "Query",
    "query": "Query",
    "k_proj": "Key",
    "key": "Key",
    "v_proj": "Value",
    "value": "Value",
    "c_attn": "QKV (fused)",
    "query_key_value": "QKV (fused)",
    "qkv_proj": "QKV (fused)",
    "wqkv": "QKV (fused)",
    "w_pack": "QKV (fused)",
    "o_proj": "Output",
    "out_proj": "Output",
    "wo": "Output",
    "gate_proj": "Gate",
    "w1": "Gate",
    "up_proj": "Up-projection",
    "w3": "Up-projection",
    "fc1": "Up-projection",
    "c_fc": "Up-projection",
    "dense_h_to_4h": "Up-projection",
    "fc_in": "Up-projection",
    "down_proj": "Down-projection",
    "w2": "Down-projection",
    "fc2": "Down-projection",
    "dense_4h_to_h": "Down-projection",
    "fc_out": "Down-projection",
    "gate_up_proj": "Gate+Up (fused)",
    "router": "Router",
}


def _is_norm(module: str) -> bool:
    return "norm" in module or module.startswith("ln_") or module in ("ln", "ln_f")


def component_of(name: str) -> ComponentName:
    """The counter row of one Hugging Face parameter (or checkpoint tensor) name."""
    parts = name.lower().split(".")
    modules = [p for p in parts if not p.isdigit()]
    leaf = modules[-1]
    owners = modules[:-1] if leaf in ("weight", "bias") or leaf.endswith("_bias") else modules
    if owners and _is_norm(owners[-1]):  # the module holding it (DBRX nests attn under norm_attn_norm)
        return "Norms"
    if leaf == "sinks":
        return "Attention sinks"
    if leaf == "bias" or leaf.endswith("_bias"):
        return "Biases"
    owner = owners[-1] if owners else leaf
    if owner in _EMBEDDING:
        return "Embedding"
    if owner in _POSITION:
        return "Position embedding"
    if owner in _HEAD or (owner == "head" and "shared_head" in owners):  # + DeepSeek-V3's MTP output head
        return "Unembedding"
    if any(m in ("shared_expert", "shared_experts", "shared_expert_gate") for m in owners):
        return "Shared experts"
    if "experts" in owners:
        return "Experts"
    if "router" in owners:  # Linear router (gpt-oss, Llama 4) or DBRX's router.layer
        return "Router"
    if owner == "gate" and len(owners) > 1 and owners[-2] in _MLP:  # the MoE router (Qwen-MoE, Mixtral <4.x)
        return "Router"
    return _row_of_module(owner, owners)


def _row_of_module(owner: str, owners: list[str]) -> ComponentName:
    """Projections named by their own module, or by where they sit (GPT-2's c_proj, GPT-NeoX's dense)."""
    if owner in _BY_MODULE:
        return _BY_MODULE[owner]
    parent = owners[-2] if len(owners) > 1 else ""
    if owner in ("c_proj", "dense"):
        if parent in _ATTENTION:
            return "Output"
        if parent in _MLP:
            return "Down-projection"
    return "Other"
