"""Provisional: a transformers parameter name -> the counter row it is counted in.

To be replaced by llm_budget/model/hf/names.py (component_of) once it is on main.
"""

from __future__ import annotations

from llm_budget.model.inventory import ComponentName

# (a name part, the row): the first whose part appears among the name's dotted parts (or its ending) wins.
_PARTS: tuple[tuple[tuple[str, ...], ComponentName], ...] = (
    (("shared_expert", "shared_experts", "shared_mlp"), "Shared experts"),
    (("experts",), "Experts"),
    (("router", "gate"), "Router"),  # a MoE block's gate is its router (mlp.gate); gate_proj is below
    (("lm_head", "embed_out"), "Unembedding"),
    (("embed_positions", "wpe", "position_embeddings"), "Position embedding"),
    (("embed_tokens", "wte", "word_embeddings", "embed_in", "tok_embeddings"), "Embedding"),
    (("q_proj", "query", "wq"), "Query"),
    (("k_proj", "key", "wk"), "Key"),
    (("v_proj", "value", "wv"), "Value"),
    (("o_proj", "out_proj", "wo", "dense"), "Output"),
    (("gate_proj", "w1"), "Gate"),
    (("up_proj", "fc1", "c_fc", "fc_in", "dense_h_to_4h", "w3"), "Up-projection"),
    (("down_proj", "fc2", "c_proj", "fc_out", "dense_4h_to_h", "w2"), "Down-projection"),
)


def component_of(name: str) -> ComponentName:
    """The counter row of a parameter of transformers' model, e.g. model.layers.0.self_attn.q_proj.weight -> Query."""
    parts = name.split(".")
    if any("norm" in p or p.startswith("ln") for p in parts[:-1]):
        return "Norms"
    for keys, row in _PARTS:
        if any(k in parts for k in keys):
            if parts[-1] == "bias" and row not in ("Experts", "Shared experts"):
                return "Biases"
            return row
    return "Biases" if parts[-1] == "bias" else "Other"
