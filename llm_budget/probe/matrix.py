"""The calibration matrix: architectures × recipes × optimizers × batch × sequence × checkpointing × attention.

LoRA / QLoRA (lora_cases): the reference Llama-style model with PEFT-style adapters and a bitsandbytes 4-bit stand-in.
Architectures: the reference model's GPT-2 style, Llama style with GQA and a top-2 MoE, and the same three
from transformers (GPT2LMHeadModel, LlamaForCausalLM, MixtralForCausalLM) built small from their real
configuration classes; then the families of issue 10 from transformers (Qwen3-MoE, Qwen2-MoE, DeepSeek-V3,
gpt-oss, Gemma 3, phi, Falcon, GPT-BigCode, StarCoder2, OLMo 2, Llama 4) on the axes the issue names: bf16 mixed and
pure, AdamW, both shapes, with and without full checkpointing, SDPA (gpt-oss: eager, the only attention
transformers gives it). `llm-budget probe --matrix` runs it (on CUDA when there is one, else under fake tensors) and
writes every report; tests/test_probe.py runs a slice of it in CI as the accuracy gate, and
probe-results/ keeps the committed results.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, Optional

from llm_budget.memory import InferSetup, TrainSetup
from llm_budget.model.spec import ModelSpec

BASE = dict(d_embed=256, n_heads=8, n_layers=4, n_vocab=8000, d_mlp=704)
ARCHITECTURES: dict[str, ModelSpec] = {
    # GPT-2 style: LayerNorm, learned positions, biases, tied embeddings, tanh GELU as elementwise ops, dropout 0.1
    "gpt2-style": ModelSpec(
        **{**BASE, "d_mlp": 1024},
        mlp="standard",
        activation="gelu_new",
        norm="layernorm",
        position="learned",
        n_positions=2048,
        attn_qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        tied_embeddings=True,
        dropout=0.1,
    ),
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
FAMILY_RECIPES = ("bf16-mixed", "bf16-pure")
EAGER_ONLY = {"hf-gpt-oss"}
"""transformers refuses SDPA for these classes (gpt-oss's attention sinks)."""


def architectures(with_transformers: bool = True) -> dict[str, tuple[ModelSpec, Optional[dict[str, Any]]]]:
    """Ours (spec, None), and transformers' GPT-2, Llama (GQA) and Mixtral built small from their real
    configuration classes (spec, config) when transformers is installed."""
    out: dict[str, tuple[ModelSpec, Optional[dict[str, Any]]]] = {k: (v, None) for k, v in ARCHITECTURES.items()}
    if with_transformers:
        try:
            from llm_budget.probe.hf import SMALL_CONFIGS, spec_of

            out.update({k: (spec_of(cfg), cfg) for k, cfg in SMALL_CONFIGS.items()})
        except Exception:  # transformers missing: the reference model's matrix only
            pass
    return out


def training_cases(
    device: str = "cpu", *, with_transformers: bool = True
) -> Iterator[tuple[str, ModelSpec, TrainSetup, Optional[dict[str, Any]]]]:
    families = _family_names()
    for (arch, (spec, cfg)), (rname, recipe), opt, (b, s), ckpt, att in itertools.product(
        architectures(with_transformers).items(), RECIPES.items(), OPTIMIZERS, SHAPES, CHECKPOINTING, ATTENTION
    ):
        if arch in families and (rname not in FAMILY_RECIPES or opt != "adamw" or att != "sdpa"):
            continue  # the issue-10 families: bf16 mixed and pure, AdamW, SDPA
        if arch in EAGER_ONLY:
            att = "eager"
        setup = TrainSetup(**recipe, optimizer=opt, batch=b, seq=s, checkpointing=ckpt, attention=att, device=device)  # type: ignore[arg-type]
        yield f"{arch} {rname} {opt} b{b}×s{s} ckpt={ckpt} {att}", spec, setup, cfg


LORA_RECIPES = {
    # PEFT on a bf16 model: FP32 adapters, each adapted input cast to FP32
    "lora-bf16": dict(precision="bf16", lora_rank=8),
    # litgpt bf16-true: everything bf16, q and v adapted, dropout 0.05
    "lora-pure-qv-dropout": dict(precision="bf16", recipe="pure", lora_rank=8, lora_targets="q,v", lora_dropout=0.05),
    # HF Trainer bf16=True on an FP32 model (autocast); full checkpointing is off the matrix (see LORA_SKIPS)
    "lora-mixed": dict(precision="bf16", recipe="mixed", lora_rank=8),
    # QLoRA: the bitsandbytes 4-bit stand-in (probe/model.py Linear4bit), double-quantized, FP32 adapters
    "qlora-nf4-dq": dict(precision="nf4", lora_rank=8, double_quant=True),
}
"""LoRA and QLoRA on the reference Llama-style model (issue 12): the base frozen, adapters as PEFT builds them."""
LORA_SKIPS = {("lora-mixed", "full"), ("qlora-nf4-dq", "full")}
"""Not yet within the gate: autocast LoRA under full checkpointing (+7.7% peak at batch 1 × 128); QLoRA under
non-reentrant full checkpointing (-24% forward: MatMul4Bit keeps A on ctx.tensors, out of reach of checkpoint's
saved-tensor hooks, so every block's inputs stay alive). QLoRA under autocast (--recipe mixed with nf4:
bitsandbytes returns FP32 outputs) is not in the matrix either (-12% forward)."""


def lora_cases(device: str = "cpu") -> Iterator[tuple[str, ModelSpec, TrainSetup]]:
    spec = ARCHITECTURES["llama-gqa"]
    for (rname, recipe), (b, s), ckpt in itertools.product(LORA_RECIPES.items(), SHAPES, CHECKPOINTING):
        if (rname, ckpt) in LORA_SKIPS:
            continue
        setup = TrainSetup(**recipe, batch=b, seq=s, checkpointing=ckpt, device=device)  # type: ignore[arg-type]
        yield f"llama-gqa {rname} adamw b{b}×s{s} ckpt={ckpt} sdpa", spec, setup


def _family_names() -> set[str]:
    try:
        from llm_budget.probe.hf import FAMILY_CONFIGS
    except Exception:  # transformers missing
        return set()
    return set(FAMILY_CONFIGS)


def inference_cases(device: str = "cpu") -> Iterator[tuple[str, ModelSpec, InferSetup]]:
    for (arch, spec), prec, (b, ctx) in itertools.product(
        ARCHITECTURES.items(), ["fp32", "bf16"], [(1, 512), (4, 2048)]
    ):
        yield f"{arch} {prec} b{b}×ctx{ctx}", spec, InferSetup(precision=prec, batch=b, context=ctx, device=device)  # type: ignore[arg-type]


def run_matrix(path: str, tolerance: float, on_case: Optional[Callable[[int, int], None]] = None) -> dict[str, Any]:
    """Probe every case; `on_case(done, total)` after each (a progress bar). The result is what --out writes:
    the path, device and torch version, cases passed, the summary per quantity and every case's report."""
    from llm_budget.probe.run import probe_inference, probe_training, summarize

    dev = "cuda" if path == "cuda" else "cpu"
    train = list(training_cases(dev)) + [(n, sp, st, None) for n, sp, st in lora_cases(dev)]
    infer = list(inference_cases(dev))
    named = []
    for name, spec, setup, cfg in train:
        named.append((name, probe_training(spec, setup, path=path, tolerance=tolerance, hf_config=cfg)))  # type: ignore[arg-type]
        if on_case:
            on_case(len(named), len(train) + len(infer))
    for name, spec, isetup in infer:
        named.append((name, probe_inference(spec, isetup, path=path, tolerance=tolerance)))  # type: ignore[arg-type]
        if on_case:
            on_case(len(named), len(train) + len(infer))
    reports = [r for _, r in named]
    return {
        "path": path,
        "device": reports[0].device if reports else "",
        "torch_version": reports[0].torch_version if reports else "",
        "cases": len(reports),
        "passed": sum(r.passed for r in reports),
        "summary": summarize(reports),
        "reports": [{"case": n, **r.model_dump(mode="json")} for n, r in named],
    }
