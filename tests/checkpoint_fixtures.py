"""Small checkpoints written at test time: safetensors files (header + zero bytes), folders, a fake HF cache.

The layouts follow real checkpoints (transformers' Llama names); sizes are tiny so files stay a few KB.
"""

from __future__ import annotations

import json
import struct
from math import prod
from pathlib import Path

BITS = {"F32": 32, "F16": 16, "BF16": 16, "I32": 32, "I64": 64, "U8": 8, "I8": 8, "F8_E4M3": 8, "F8_E5M2": 8, "BOOL": 8}

# A tiny Llama: d 64, 4 heads of 16, 2 kv heads, 2 layers, vocab 128, d_mlp 128, untied.
TINY_LLAMA = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 64,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "num_hidden_layers": 2,
    "vocab_size": 128,
    "intermediate_size": 128,
    "max_position_embeddings": 256,
    "hidden_act": "silu",
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
D, H, KV, DH, L, V, F = 64, 4, 2, 16, 2, 128, 128
LINEARS = {  # module -> (d_out, d_in) of nn.Linear's weight
    "self_attn.q_proj": (H * DH, D),
    "self_attn.k_proj": (KV * DH, D),
    "self_attn.v_proj": (KV * DH, D),
    "self_attn.o_proj": (D, H * DH),
    "mlp.gate_proj": (F, D),
    "mlp.up_proj": (F, D),
    "mlp.down_proj": (D, F),
}
TINY_LLAMA_PARAMS = (
    V * D * 2 + L * (sum(o * i for o, i in LINEARS.values()) + 2 * D) + D
)  # embed, lm_head, blocks, norm


def write_safetensors(path: Path, tensors: dict[str, tuple[str, tuple[int, ...]]], metadata: dict | None = None) -> int:
    """Write a valid .safetensors file (zeros as data); returns its size in bytes."""
    header: dict = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        n = -(-prod(shape) * BITS[dtype] // 8)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))
    return 8 + len(raw) + offset


def llama_tensors(dtype: str = "BF16", linear=None) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The tiny Llama's state dict; `linear(module, d_out, d_in)` may replace each block linear's tensors."""
    out: dict[str, tuple[str, tuple[int, ...]]] = {"model.embed_tokens.weight": (dtype, (V, D))}
    for i in range(L):
        p = f"model.layers.{i}."
        for module, (o, n) in LINEARS.items():
            out.update(linear(p + module, o, n) if linear else {p + module + ".weight": (dtype, (o, n))})
        out[p + "input_layernorm.weight"] = (dtype, (D,))
        out[p + "post_attention_layernorm.weight"] = (dtype, (D,))
    out["model.norm.weight"] = (dtype, (D,))
    out["lm_head.weight"] = (dtype, (V, D))
    return out


def write_checkpoint(folder: Path, tensors: dict, config: dict | None = None, *, shards: int = 1) -> Path:
    """config.json plus `tensors` in one model.safetensors or `shards` files with an index."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config or TINY_LLAMA))
    if shards == 1:
        write_safetensors(folder / "model.safetensors", tensors)
        return folder
    names = list(tensors)
    per = -(-len(names) // shards)
    weight_map = {}
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[s * per : (s + 1) * per]}
        write_safetensors(folder / file, part)
        weight_map.update(dict.fromkeys(part, file))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def fake_hub_cache(root: Path, repo_id: str, commit: str, *, refs: dict[str, str] | None = None) -> Path:
    """root/models--org--name with refs pointing at `commit`; returns the (empty) snapshot folder."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for ref, target in (refs if refs is not None else {"main": commit}).items():
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(target)
    return snapshot
