"""Serving memory: weights (quantization scales included), the KV cache (memory/kv.py), and the
workspace of a prefill forward."""

from __future__ import annotations

from typing import Optional

from llm_budget.defaults import sequence_length
from llm_budget.hardware import Precision, bytes_for, parse_precision
from llm_budget.memory.allocator import rounded, tensor_bytes
from llm_budget.memory.kv import kv_cache_bytes
from llm_budget.memory.prefill import prefill_workspace
from llm_budget.memory.quantization import (
    QUANTIZED_WEIGHTS,
    is_quantized_matrix,
    quantized_weight_bytes,
    scheme_weight_bytes,
)
from llm_budget.memory.report import InferSettings, MemoryLine, MemoryReport, Phase
from llm_budget.memory.setup import InferSetup
from llm_budget.model.inventory import ParamTensor, parameter_tensors
from llm_budget.model.spec import ModelSpec
from llm_budget.refs import cite


def _compute_precision(weights: Precision) -> Precision:
    """What quantized or 16-bit weights compute in: fp32 stays fp32, fp16 stays fp16, the rest bf16."""
    return (
        Precision.fp32
        if weights is Precision.fp32
        else (Precision.fp16 if weights is Precision.fp16 else Precision.bf16)
    )


def _weight_bytes(tensors: list[ParamTensor], setup: InferSetup, c: int) -> int:
    """Stored weights: quantized matrices with their scales, everything else in the compute dtype."""
    p, device = setup.precision, setup.device
    if p not in QUANTIZED_WEIGHTS:
        return tensor_bytes(tensors, c, device)
    return sum(
        (
            quantized_weight_bytes(t, p, double_quant=setup.double_quant)
            if is_quantized_matrix(t)
            else rounded(t.numel * c, device)
        )
        * t.copies
        for t in tensors
    )


def _weights_line(tensors: list[ParamTensor], setup: InferSetup, c: int, n_params: int) -> MemoryLine:
    """The weights: a checkpoint's own bytes when the setup serves it as stored, else the precision's estimate."""
    ck, p = setup.checkpoint if setup.uses_checkpoint else None, setup.precision
    if ck is not None and ck.loaded_bytes is not None:
        weights = ck.loaded_bytes
        name, formula = (
            f"Weights (checkpoint, {ck.label}: its tensor table)",
            "Σ tensors of the safetensors headers: quantized modules as stored (dtype × shape), other floating-point tensors in the compute dtype",
        )
        source = cite("hf-transformers: the checkpoint's safetensors headers")
    elif ck is not None and ck.scheme is not None:
        weights = scheme_weight_bytes(tensors, ck.scheme, c)
        name, formula = f"Weights (checkpoint, {ck.label}: by its scheme)", ck.scheme.formula
        source = cite(f"hf-transformers: {ck.scheme.source}")
    else:
        quantized = p in QUANTIZED_WEIGHTS
        weights = _weight_bytes(tensors, setup, c)
        name = "Weights" + (f" ({p.value}, scales included)" if quantized else f" ({p.value})")
        formula = "N × bytes per value; quantized matrices add their scales (see quantized_weight_bytes)"
        source = cite("dettmers2023: §3") if quantized else cite("rajbhandari2020: §3.1")
    return MemoryLine(
        name=name, bytes=weights, bytes_per_param=round(weights / n_params, 3), formula=formula, source=source
    )


DEFAULT_INFER_SETUP = InferSetup()


def inference_memory(spec: ModelSpec, setup: InferSetup = DEFAULT_INFER_SETUP) -> MemoryReport:
    """Serving memory: weights (quantization scales included), the KV cache, and the prefill workspace.

    Workspace: the largest set of tensors one block's forward holds at once without gradients
    (residual stream, the norm's FP32 intermediates, the MLP's hidden activations), plus the
    last position's FP32 logits; attention through SDPA keeps no s² matrix.
    A model measured from transformers' own class (spec.tensors) has its report from llm_budget/measured.
    """
    if spec.tensors is not None:
        from llm_budget.measured.inference import measured_inference_memory

        return measured_inference_memory(spec, setup)
    tensors = parameter_tensors(spec)
    n_params = sum(t.total for t in tensors)
    p = setup.precision
    compute = (
        parse_precision(setup.checkpoint.compute)
        if setup.uses_checkpoint and setup.checkpoint
        else _compute_precision(p)
    )
    kv_p = setup.kv_precision or compute
    c = compute.bits // 8
    weights_line = _weights_line(tensors, setup, c, n_params)
    weights = weights_line.bytes
    context = sequence_length(setup.context, spec.context_window)
    prompt = setup.prompt or context
    kv = kv_cache_bytes(spec, batch=setup.batch, tokens=context, precision=kv_p)
    workspace = prefill_workspace(spec, batch=setup.batch, prompt=prompt, c=c)
    lines = [
        weights_line,
        MemoryLine(
            name=f"KV cache ({kv_p.value})",
            bytes=kv,
            bytes_per_param=round(kv / n_params, 3),
            formula=f"2 · {spec.n_layers} layers · {spec.kv_heads} kv heads · {spec.head_dim} · {kv_p.bits // 8 or 0.5} B · batch {setup.batch} · {min(context, spec.sliding_window or context):,} tokens",
            source=cite("kwon2023: §3"),
        ),
        MemoryLine(
            name="Prefill workspace",
            bytes=workspace,
            bytes_per_param=round(workspace / n_params, 3),
            formula=f"one block's live tensors at a {prompt:,}-token prefill × batch {setup.batch}, + last-position logits",
            source=cite("pope2022: §2"),
        ),
    ]
    return MemoryReport(
        mode="infer",
        model=spec.label,
        params=n_params,
        trainable_params=0,
        precision=p.value,
        recipe="inference",
        total_bytes=sum(x.bytes for x in lines),
        components=lines,
        peak_phase="prefill",
        phases=[Phase(name="weights loaded", bytes=weights), Phase(name="prefill", bytes=sum(x.bytes for x in lines))],
        assumptions=_infer_assumptions(spec, setup, context, compute, kv_p),
        settings=InferSettings(
            batch=setup.batch, context=context, prompt=prompt, kv_precision=kv_p, device=setup.device
        ),
    )


def _infer_assumptions(
    spec: ModelSpec, setup: InferSetup, context: int, compute: Precision, kv_p: Precision
) -> list[str]:
    window = spec.sliding_window
    out = [
        f"Serving {setup.batch} sequence(s) of {context:,} tokens (prompt + generated), all held in the KV cache"
        + (f" (capped at the {window:,}-token sliding window)" if window and window < context else "")
        + ".",
        f"Compute in {compute.value}; KV cache in {kv_p.value}.",
        "Workspace: a prefill of the whole prompt at once, attention through SDPA (no s² matrix), logits kept for the last position only.",
    ]
    ck = setup.checkpoint
    if ck is not None and setup.uses_checkpoint:
        how = "summed from its safetensors headers" if ck.from_table else "computed from its quantization_config"
        out.append(f"Weights as the checkpoint stores them ({ck.source}; {ck.label}), {how}.")
        if ck.stored_bytes is not None and ck.loaded_bytes is not None and ck.stored_bytes != ck.loaded_bytes:
            out.append(
                f"The files hold {ck.stored_bytes:,} bytes; unquantized floating-point tensors load in {ck.compute} "
                f"(transformers' dtype='auto': config.json's dtype), {ck.loaded_bytes:,} bytes."
            )
    elif ck is not None:
        out.append(
            f"--precision {setup.precision.value} overrides the checkpoint's own weights ({ck.label}, {ck.source})."
        )
    if setup.precision in QUANTIZED_WEIGHTS and not setup.uses_checkpoint:
        out.append(
            f"{setup.precision.value} applies to the blocks' linear layers; embeddings, norms and the unembedding stay {compute.value} (bitsandbytes' and GPTQ's default)."
        )
    if spec.is_moe:
        out.append("Mixture of experts: all experts' weights are resident; the workspace follows the active experts.")
    return out


def serving_need(spec: Optional[ModelSpec], setup: InferSetup, n_params: int = 0) -> int:
    """Bytes serving needs on one GPU: the whole inference_memory report, or with a bare parameter count (no
    architecture: no KV cache or workspace) the weights alone at the setup's precision. `llm-budget fit`'s
    serving verdict and `compute`'s single-GPU verdict both use it."""
    if spec is not None:
        return inference_memory(spec, setup).total_bytes
    return bytes_for(n_params, setup.precision)
