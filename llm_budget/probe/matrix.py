"""The calibration matrix: architectures × recipes × optimizers × batch × sequence × checkpointing × attention.

`llm-budget probe --matrix` runs it (on CUDA when there is one, else under fake tensors) and
writes every report; tests/test_probe.py runs a slice of it in CI as the accuracy gate, and
probe-results/ keeps the committed results.
"""

from __future__ import annotations

import itertools
from typing import Iterator

from ..memory import InferSetup, TrainSetup
from ..spec import ModelSpec

BASE = dict(d_embed=256, n_heads=8, n_layers=4, n_vocab=8000, d_mlp=704)
ARCHITECTURES: dict[str, ModelSpec] = {
    # GPT-2 style: LayerNorm, learned positions, biases, tied embeddings, tanh GELU as elementwise ops, dropout 0.1
    "gpt2-style": ModelSpec(**{**BASE, "d_mlp": 1024}, mlp="standard", activation="gelu_new", norm="layernorm", position="learned",
                            n_positions=2048, attn_qkv_bias=True, attn_out_bias=True, mlp_bias=True, tied_embeddings=True, dropout=0.1),
    # Llama style: RMSNorm, rotary, SwiGLU, grouped-query attention (4 query heads per KV head)
    "llama-gqa": ModelSpec(**BASE, n_kv_heads=2, mlp="gated"),
    # a small Mixtral-style MoE: 4 experts, top-2
    "moe-top2": ModelSpec(**BASE, n_kv_heads=2, mlp="gated", n_experts=4, n_active_experts=2),
}
RECIPES = {
    "fp32": dict(precision="fp32"),
    "bf16-mixed": dict(precision="bf16"),
    "bf16-pure": dict(precision="bf16", recipe="pure"),
}
OPTIMIZERS = ["adamw", "sgd"]
SHAPES = [(1, 128), (4, 512)]
CHECKPOINTING = ["none", "full"]
ATTENTION = ["sdpa", "eager"]


def training_cases(device: str = "cpu") -> Iterator[tuple[str, ModelSpec, TrainSetup]]:
    for (arch, spec), (rname, recipe), opt, (b, s), ckpt, att in itertools.product(
        ARCHITECTURES.items(), RECIPES.items(), OPTIMIZERS, SHAPES, CHECKPOINTING, ATTENTION
    ):
        setup = TrainSetup(**recipe, optimizer=opt, batch=b, seq=s, checkpointing=ckpt, attention=att, device=device)  # type: ignore[arg-type]
        yield f"{arch} {rname} {opt} b{b}×s{s} ckpt={ckpt} {att}", spec, setup


def inference_cases(device: str = "cpu") -> Iterator[tuple[str, ModelSpec, InferSetup]]:
    for (arch, spec), prec, (b, ctx) in itertools.product(ARCHITECTURES.items(), ["fp32", "bf16"], [(1, 512), (4, 2048)]):
        yield f"{arch} {prec} b{b}×ctx{ctx}", spec, InferSetup(precision=prec, batch=b, context=ctx, device=device)  # type: ignore[arg-type]
