"""The saved-tensor primitives of the activation inventory (activations.py): a saved tensor, the conditions of
a step, and what a norm, a matmul's input and an MLP keep for backward (see activations.py's docstring for the
dtype flow of each recipe)."""

from __future__ import annotations

from typing import Literal, NamedTuple

from llm_budget.model.spec import Activation, MlpKind, ModelSpec, NormKind

Flow = Literal["pure", "autocast"]


def family(spec: ModelSpec) -> str:
    """The spec's family as one spelling: the mappers' names (gpt-oss, qwen3-moe) with underscores, so the
    sets below hold either those or transformers' model_type names."""
    return (spec.family or "").replace("-", "_")


FP32_NORM_PRODUCT = {"gemma", "gemma2", "gemma3_text", "gemma3", "gpt_oss", "olmo2"}
FUSED_QKV = {"gpt2", "falcon", "gpt_bigcode", "gpt_neox", "bloom"}
"""transformers' classes that compute q, k, v with one matmul (c_attn, query_key_value): one autocast copy."""
POST_NORM = {"olmo2"}
"""transformers' blocks that normalize each part's output instead of its input (Olmo2DecoderLayer), with
QK-norms over the whole query and key projections and rotations in FP32."""
"""transformers' RMSNorms that multiply the weight in FP32 and cast after (GemmaRMSNorm, GptOssRMSNorm)."""
AttentionKind = Literal["sdpa", "eager"]
Device = Literal["cuda", "cpu"]


class Saved(NamedTuple):
    name: str
    bytes: int
    why: str
    group: str = ""  # attn_norm | attn | mlp_norm | mlp: the part of the block whose backward frees it


class Step(NamedTuple):
    """Conditions of a training step that decide what is saved."""

    b: int  # micro-batch
    s: int  # sequence length
    flow: Flow
    c: int  # bytes of the compute dtype (2 for bf16/fp16, 4 for fp32)
    attention: AttentionKind = "sdpa"
    device: Device = "cuda"
    impl: Literal["hf", "reference"] = "reference"  # Hugging Face transformers, or the probe's reference model
    window_mask: bool = False  # transformers' SDPA gets an explicit mask (a sliding or chunked layer shorter than s)
    loss: str = "full"  # LossKind's value: "fused" keeps no unembedding input (memory/loss.py)

    @property
    def t(self) -> int:
        return self.b * self.s

    @property
    def r(self) -> int:
        """Bytes per element of the residual stream (FP32 under autocast)."""
        return 4 if self.flow == "autocast" else self.c


def _dropout_mask(st: Step, elements: int, in_bytes: int) -> int:
    """Bytes a dropout keeps for backward: a 1-byte mask on CUDA (native_dropout); on the CPU, a
    scaled noise tensor in the input's dtype (input * noise saves the noise)."""
    return elements * (1 if st.device == "cuda" else in_bytes)


def _norm(
    spec: ModelSpec, st: Step, width: int, rows: int, tag: str, in_bytes: int, *, separate_weight: bool = False
) -> list[Saved]:
    """Saved tensors of one norm over `width` features for `rows` rows. The output keeps the input's dtype.

    separate_weight: the norm runs without affine weights and a separate `· weight` saves the normalized
    rows (the probe's per-head QK-norm).
    """
    if spec.norm is NormKind.none:
        return []
    if spec.norm is NormKind.layernorm:
        # native_layer_norm saves its input, mean and rstd (FP32 on CUDA; the input's dtype on the CPU).
        stat = 4 if st.device == "cuda" or in_bytes == 4 else in_bytes
        out = [
            Saved(f"{tag}: input", rows * width * in_bytes, "layer_norm saves its input"),
            Saved(f"{tag}: mean, rstd", 2 * rows * stat, "layer_norm saves mean and 1/std per row"),
        ]
        if separate_weight:
            out.append(Saved(f"{tag}: normalized", rows * width * in_bytes, "· weight saves the normalized rows"))
        return out
    # RMSNorm computed in FP32 (transformers' LlamaRMSNorm): x.float() is saved by pow and mul,
    # rsqrt's output by mul; weight · x.to(dtype) saves the normalized input in the input dtype,
    # which is the FP32 product itself when the input was FP32. Gemma's and gpt-oss's norms multiply
    # the weight before casting back: the FP32 normalized x is saved (Gemma: and the FP32 1 + weight).
    fp32_product = st.impl == "hf" and family(spec) in FP32_NORM_PRODUCT
    out = [
        Saved(f"{tag}: x in FP32", rows * width * 4, "pow and mul save the FP32 input"),
        Saved(f"{tag}: rsqrt", rows * 4, "mul saves 1/rms per row"),
        Saved(
            f"{tag}: normalized", rows * width * (4 if fp32_product else in_bytes), "weight · x saves the normalized x"
        ),
    ]
    if fp32_product and family(spec).startswith("gemma"):
        out.append(Saved(f"{tag}: 1 + weight (FP32)", width * 4, "GemmaRMSNorm multiplies by (1 + weight).float()"))
    return out


def _matmul_inputs(st: Step, name: str, elements: int, in_bytes: int, n_matmuls: int) -> list[Saved]:
    """What matmuls save of a shared input: the input once, or under autocast one 16-bit copy per matmul
    (autocast caches casts of leaf weights only, so an activation is cast again by every matmul)."""
    if st.flow == "autocast" and in_bytes != st.c:
        return [
            Saved(
                f"{name} (16-bit copy ×{n_matmuls})",
                n_matmuls * elements * st.c,
                "autocast casts the input once per matmul",
            )
        ]
    return [Saved(name, elements * in_bytes, "saved by the matmul(s) it reads")]


def _mlp(
    spec: ModelSpec,
    st: Step,
    rows: int,
    in_bytes: int,
    tag: str,
    *,
    input_counted: bool = False,
    width: int | None = None,
) -> list[Saved]:
    """An MLP of `width` (default d_mlp) over `rows` token rows; its input has dtype in_bytes (saved here
    unless input_counted)."""
    f, c = width or spec.d_mlp, st.c
    gated = spec.mlp is MlpKind.gated
    out: list[Saved] = []
    if not (input_counted and not (st.flow == "autocast" and in_bytes != c)):
        out += _matmul_inputs(st, f"{tag}: input", rows * spec.d_embed, in_bytes, 2 if gated else 1)
    if spec.act is Activation.gelu_new:
        # 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): pow saves x, tanh its output, the last mul both
        # factors. Under CUDA autocast pow runs in FP32 (it casts x and saves the copy), and everything
        # downstream of it is FP32.
        fp32 = st.flow == "autocast" and st.device == "cuda"
        t_bytes = 4 if fp32 else c
        out += [
            Saved(f"{tag}: act input" + (" (FP32 copy)" if fp32 else ""), rows * f * t_bytes, "pow saves its input"),
            Saved(f"{tag}: tanh", rows * f * t_bytes, "tanh saves its output"),
            Saved(f"{tag}: 0.5·x", rows * f * c, "the last mul saves both factors"),
            Saved(f"{tag}: 1 + tanh", rows * f * t_bytes, "the last mul saves both factors"),
        ]
        act_bytes = t_bytes
    else:
        out.append(Saved(f"{tag}: act input", rows * f * c, f"{spec.act.value} saves its input"))
        act_bytes = c
    if gated:
        out += [
            Saved(f"{tag}: act output", rows * f * act_bytes, "act(gate) · up saves both factors"),
            Saved(f"{tag}: up output", rows * f * c, "act(gate) · up saves both factors"),
        ]
    out += _matmul_inputs(st, f"{tag}: down-projection input", rows * f, act_bytes, 1)
    return out
