"""A plain-PyTorch decoder-only transformer built from a ModelSpec: the probe's reference model.

Written in nanoGPT's spirit: one module per idea, no framework. Its parameters are exactly
the ones the counter counts (tests compare `sum(p.numel())` with `count_params` for every
preset), and the memory accountant's activation inventory describes the tensors its
autograd graph saves. Routing in the mixture-of-experts layer sorts token-expert pairs by
expert (static shapes); expert batch sizes come from the routing on real tensors and are
taken as balanced under fake tensors, where data-dependent sizes cannot be known (the
total number of routed rows, and so the memory, is the same either way).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from llm_budget.errors import LLMBudgetError
from llm_budget.model.spec import Activation, MlpKind, ModelSpec, NormKind, PositionKind, QKNorm


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """OpenAI GPT-2's tanh GELU written as elementwise ops (transformers' NewGELUActivation): each op saves its input."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def _act(kind: Activation):  # type: ignore[no-untyped-def]
    return {
        Activation.gelu: F.gelu,
        Activation.gelu_tanh: lambda x: F.gelu(x, approximate="tanh"),
        Activation.gelu_new: gelu_new,
        Activation.relu: F.relu,
        Activation.silu: F.silu,
    }[kind]


class RMSNorm(nn.Module):
    """Zhang & Sennrich 2019, computed in FP32 as Llama does (transformers' LlamaRMSNorm), on every device alike."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def make_norm(spec: ModelSpec, dim: int) -> nn.Module:
    if spec.norm is NormKind.layernorm:
        return nn.LayerNorm(dim, bias=spec.has_norm_bias)
    if spec.norm is NormKind.rmsnorm:
        return RMSNorm(dim)
    return nn.Identity()


class PerHeadNorm(nn.Module):
    """Normalizes each head over d_head with its own weights, [heads, d_head] (Cohere's QK-norm)."""

    def __init__(self, spec: ModelSpec, heads: int, dh: int) -> None:
        super().__init__()
        self.rms = spec.norm is NormKind.rmsnorm
        self.weight = nn.Parameter(torch.ones(heads, dh))
        self.bias = nn.Parameter(torch.zeros(heads, dh)) if spec.has_norm_bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dh = x.shape[-1:]
        y = F.rms_norm(x, dh) if self.rms else F.layer_norm(x, dh)
        y = y * self.weight
        return y + self.bias if self.bias is not None else y


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding (Su et al. 2021), rotate-half form as in Llama."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class Attention(nn.Module):
    def __init__(self, spec: ModelSpec, attention: str = "sdpa") -> None:
        super().__init__()
        d, h, kv, dh = spec.d_embed, spec.n_heads, spec.kv_heads, spec.head_dim
        self.h, self.kv, self.dh, self.attention = h, kv, dh, attention
        self.q = nn.Linear(d, h * dh, bias=spec.attn_qkv_bias)
        self.k = nn.Linear(d, kv * dh, bias=spec.attn_qkv_bias)
        self.v = nn.Linear(d, kv * dh, bias=spec.attn_qkv_bias)
        self.o = nn.Linear(h * dh, d, bias=spec.attn_out_bias)
        self.dropout = spec.dropout
        self.checkpoint_core = False
        self.q_norm: nn.Module = nn.Identity()
        self.k_norm: nn.Module = nn.Identity()
        if spec.qk_norm is QKNorm.shared:
            self.q_norm, self.k_norm = make_norm(spec, dh), make_norm(spec, dh)
        elif spec.qk_norm is QKNorm.per_head:
            self.q_norm, self.k_norm = PerHeadNorm(spec, h, dh), PerHeadNorm(spec, kv, dh)

    def forward(
        self, x: torch.Tensor, rope: Optional[tuple[torch.Tensor, torch.Tensor]], cache: Optional[LayerCache] = None
    ) -> torch.Tensor:
        b, s, _ = x.shape
        q = self.q_norm(self.q(x).view(b, s, self.h, self.dh)).transpose(1, 2)
        k = self.k_norm(self.k(x).view(b, s, self.kv, self.dh)).transpose(1, 2)
        v = self.v(x).view(b, s, self.kv, self.dh).transpose(1, 2)
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        if cache is not None:  # inference: append to the preallocated cache, attend over everything so far
            start = cache.length
            cache.k[:, :, start : start + s] = k
            cache.v[:, :, start : start + s] = v
            k, v = cache.k[:, :, : start + s], cache.v[:, :, : start + s]
            y = F.scaled_dot_product_attention(q, k, v, is_causal=start == 0 and s > 1, enable_gqa=self.kv != self.h)
            return self.o(y.transpose(1, 2).reshape(b, s, self.h * self.dh))
        if self.checkpoint_core and self.training:
            y = checkpoint(self.core, q, k, v, use_reentrant=False)
        else:
            y = self.core(q, k, v)
        return self.o(y.transpose(1, 2).reshape(b, s, self.h * self.dh))

    def core(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """softmax(q·kᵀ/√d_head)·v with a causal mask; [b, heads, s, d_head] in and out."""
        s = q.shape[2]
        p = self.dropout if self.training else 0.0
        if self.attention == "sdpa":
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p, enable_gqa=self.kv != self.h)
        # eager: the scores and probabilities are materialized (and saved for backward)
        if self.kv != self.h:
            k = k.repeat_interleave(self.h // self.kv, dim=1)
            v = v.repeat_interleave(self.h // self.kv, dim=1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.dh)
        mask = torch.ones(s, s, dtype=torch.bool, device=q.device).triu(1)
        probs = F.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        return F.dropout(probs, p) @ v


class LayerCache:
    """One layer's keys and values, preallocated for `max_len` positions (a static cache: its bytes are
    exactly 2 · batch · kv_heads · max_len · d_head · bytes, the accountant's KV-cache formula)."""

    def __init__(self, b: int, kv: int, max_len: int, dh: int, dtype: torch.dtype, device: torch.device | str) -> None:
        self.k = torch.zeros(b, kv, max_len, dh, dtype=dtype, device=device)
        self.v = torch.zeros(b, kv, max_len, dh, dtype=dtype, device=device)
        self.length = 0


class Mlp(nn.Module):
    def __init__(self, spec: ModelSpec, width: Optional[int] = None) -> None:
        super().__init__()
        d, f = spec.d_embed, width or spec.d_mlp
        self.gated = spec.mlp is MlpKind.gated
        self.act = _act(spec.act)
        self.gate = nn.Linear(d, f, bias=spec.mlp_bias) if self.gated else None
        self.up = nn.Linear(d, f, bias=spec.mlp_bias)
        self.down = nn.Linear(f, d, bias=spec.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is not None:
            return self.down(self.act(self.gate(x)) * self.up(x))
        return self.down(self.act(self.up(x)))


class MoE(nn.Module):
    """Top-k routed experts (Shazeer et al. 2017), dropless, with shapes that do not depend on data."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.k, self.n = spec.active_experts, spec.n_experts
        self.router = nn.Linear(spec.d_embed, spec.n_experts, bias=spec.router_bias)
        self.experts = nn.ModuleList(Mlp(spec, spec.expert_width) for _ in range(spec.n_experts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        t = x.shape[0]
        weights, chosen = torch.topk(F.softmax(self.router(x), dim=-1, dtype=torch.float32), self.k, dim=-1)
        weights = (weights / weights.sum(-1, keepdim=True)).to(x.dtype)
        order = torch.argsort(chosen.flatten(), stable=True)
        rows = x[order // self.k]
        if isinstance(chosen, torch._subclasses.fake_tensor.FakeTensor):
            base, extra = divmod(t * self.k, self.n)
            sizes = [base + (i < extra) for i in range(self.n)]
        else:
            sizes = torch.bincount(chosen.flatten(), minlength=self.n).tolist()
        out = torch.cat([e(chunk) for e, chunk in zip(self.experts, rows.split(sizes), strict=True)])
        out = out * weights.flatten()[order, None]
        y = torch.zeros_like(x).index_add_(0, order // self.k, out)
        return y.view(shape)


class Block(nn.Module):
    def __init__(self, spec: ModelSpec, attention: str) -> None:
        super().__init__()
        self.parallel = spec.norms_per_layer == 1
        self.sandwich = spec.norms_per_layer == 4
        # norms[0] before attention, [1] before the MLP, [2] and [3] after them (Gemma 2's sandwich)
        n_norms = spec.norms_per_layer if spec.norm is not NormKind.none else 0
        self.norms = nn.ModuleList(make_norm(spec, spec.d_embed) for _ in range(n_norms))
        self.attn = Attention(spec, attention)
        self.mlp: nn.Module = MoE(spec) if spec.is_moe else Mlp(spec)
        self.dropout = spec.dropout

    def _norm(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return self.norms[i](x) if i < len(self.norms) else x

    def forward(
        self, x: torch.Tensor, rope: Optional[tuple[torch.Tensor, torch.Tensor]], cache: Optional[LayerCache] = None
    ) -> torch.Tensor:
        p = self.dropout if self.training else 0.0
        if self.parallel:  # Cohere / GPT-J: one norm feeds attention and MLP side by side
            h = self._norm(0, x)
            return x + F.dropout(self.attn(h, rope, cache), p) + F.dropout(self.mlp(h), p)
        # Written as transformers' decoder layers are: the attention output dies with the residual add,
        # so only the block's input (held by the caller), the residual and the normed input stay live.
        x = x + F.dropout(
            self._norm(2, self.attn(self._norm(0, x), rope, cache))
            if self.sandwich
            else self.attn(self._norm(0, x), rope, cache),
            p,
        )
        if self.sandwich:
            return x + F.dropout(self._norm(3, self.mlp(self._norm(1, x))), p)
        return x + F.dropout(self.mlp(self._norm(1, x)), p)


def unsupported(spec: ModelSpec) -> list[str]:
    """What of a spec the reference model does not build (issue 10's architectures): the probe measures those
    through transformers' own class (--hf-model) instead of a model with other tensors. (It rotates whole
    heads and keeps every position in every layer's cache: partial rotary and per-layer windows change no
    parameter, and the accountant follows the reference model's own ops for it.)"""
    checks = {
        "multi-head latent attention": spec.mla is not None,
        "attention sinks": spec.attention_sinks,
        "shared experts": spec.d_shared_mlp is not None,
        "dense and MoE blocks mixed": spec.is_moe and spec.n_moe_layers != spec.n_layers,
        "a measured tensor table": spec.tensors is not None,
    }
    return [name for name, present in checks.items() if present]


class Transformer(nn.Module):
    def __init__(self, spec: ModelSpec, *, attention: str = "sdpa", n_layers: Optional[int] = None) -> None:
        missing = unsupported(spec)
        if missing:
            raise LLMBudgetError(
                f"the probe's reference model does not build {', '.join(missing)} ({spec.label}): "
                "probe transformers' own class with --hf-model config.json"
            )
        super().__init__()
        self.spec = spec
        d = spec.d_embed
        self.embed = nn.Embedding(spec.n_vocab, d)
        self.embed_norm = make_norm(spec, d) if spec.embed_norm else nn.Identity()
        self.pos = (
            nn.Embedding(spec.n_positions, d) if spec.position is PositionKind.learned and spec.n_positions else None
        )
        self.blocks = nn.ModuleList(Block(spec, attention) for _ in range(n_layers or spec.n_layers))
        self.final_norm = make_norm(spec, d) if spec.final_norm else nn.Identity()
        self.unembed = nn.Linear(d, spec.n_vocab, bias=spec.unembed_bias)
        if spec.tied_embeddings:
            self.unembed.weight = self.embed.weight
        self.dropout = spec.dropout
        self.checkpointing = "none"  # "full": recompute each block in backward; "selective": the attention core

    def rope(self, s: int, device: torch.device, dtype: torch.dtype) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
        if self.spec.position is not PositionKind.rotary:
            return None
        dh = self.spec.head_dim
        inv = 1.0 / (10000 ** (torch.arange(0, dh, 2, device=device, dtype=torch.float32) / dh))
        ang = torch.outer(torch.arange(s, device=device, dtype=torch.float32), inv)
        ang = torch.cat((ang, ang), dim=-1)
        return ang.cos().to(dtype), ang.sin().to(dtype)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits, [batch, seq, n_vocab], in the compute dtype."""
        s = tokens.shape[1]
        x = self.embed(tokens)
        if self.pos is not None:
            x = x + self.pos(torch.arange(s, device=tokens.device))
        x = F.dropout(self.embed_norm(x), self.dropout if self.training else 0.0)
        rope = self.rope(s, tokens.device, x.dtype)
        for block in self.blocks:
            block.attn.checkpoint_core = self.checkpointing == "selective"  # type: ignore[union-attr]
            if self.checkpointing == "full" and self.training:
                x = checkpoint(block, x, rope, use_reentrant=False)
            else:
                x = block(x, rope)
        return self.unembed(self.final_norm(x))

    def new_cache(self, batch: int, max_len: int, dtype: torch.dtype, device: torch.device | str) -> list[LayerCache]:
        spec = self.spec
        return [LayerCache(batch, spec.kv_heads, max_len, spec.head_dim, dtype, device) for _ in self.blocks]

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, cache: list[LayerCache]) -> torch.Tensor:
        """Inference: run `tokens` (a prompt, or one new token per sequence) through the model, appending to
        the cache; FP32 logits of the last position only, as generate() keeps them."""
        s = tokens.shape[1]
        start = cache[0].length
        x = self.embed(tokens)
        if self.pos is not None:
            x = x + self.pos(torch.arange(start, start + s, device=tokens.device))
        x = self.embed_norm(x)
        rope = self.rope(start + s, tokens.device, x.dtype)
        if rope is not None:
            rope = (rope[0][start:], rope[1][start:])
        for block, layer_cache in zip(self.blocks, cache, strict=True):
            x = block(x, rope, layer_cache)
        for layer_cache in cache:
            layer_cache.length += s
        return self.unembed(self.final_norm(x[:, -1:])).float()

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy on FP32 logits, as Hugging Face models compute it."""
        logits = self(tokens)
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))


# -- LoRA and a bitsandbytes 4-bit stand-in (issue 12) ---------------------------------------------------------


class LoraLinear(nn.Module):
    """PEFT's LoRA around a frozen linear (peft/tuners/lora/layer.py, Linear.forward): `result = base(x)`, x cast to
    the adapter's dtype (`_cast_input_dtype`, a no-op when they match), `result + lora_B(lora_A(dropout(x))) *
    scaling`, back to the result's dtype. Dropout 0 is nn.Identity (LoraLayer.update_layer)."""

    def __init__(self, base: nn.Module, d_in: int, d_out: int, r: int, dropout: float, dtype: torch.dtype) -> None:
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(d_in, r, bias=False, dtype=dtype)
        self.lora_B = nn.Linear(r, d_out, bias=False, dtype=dtype)
        self.dropout: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base(x)
        xa = x.to(self.lora_A.weight.dtype)
        return (result + self.lora_B(self.lora_A(self.dropout(xa))) * self.scaling).to(result.dtype)


def _dequantize_4bit(packed: torch.Tensor, shape: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
    """bitsandbytes' F.dequantize_4bit allocates one [d_out, d_in] output in the quant state's dtype and its CUDA
    kernel (kDequantizeBlockwise) fills it from the packed nibbles and the absmax: no other allocation. The
    stand-in allocates the same output; the probe measures memory, so the values are left unset."""
    return torch.empty(shape, dtype=dtype, device=packed.device)


class MatMul4Bit(torch.autograd.Function):
    """bitsandbytes' MatMul4Bit (bitsandbytes/autograd/_functions.py): forward `linear(A, dequantize_4bit(B).to(A.dtype).t())`,
    then `if any(ctx.needs_input_grad[:2]): ctx.tensors = (A, B)` (A kept alive on ctx, unused by backward);
    backward dequantizes again for `grad_A = matmul(grad_output, dequantize_4bit(B).to(grad_output.dtype).t())`."""

    @staticmethod
    def forward(ctx, x, packed, absmax, shape):  # type: ignore[no-untyped-def, override]
        ctx.shape = shape
        ctx.packed = packed  # bitsandbytes keeps A and B on ctx, not through save_for_backward
        ctx.A = x if any(ctx.needs_input_grad[:2]) else None
        return F.linear(x, _dequantize_4bit(packed, shape, x.dtype))

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def, override]
        return torch.matmul(grad, _dequantize_4bit(ctx.packed, ctx.shape, grad.dtype)), None, None, None


class Linear4bit(nn.Module):
    """A frozen NF4 linear as bitsandbytes' Linear4bit stores it: N/2 packed bytes and an FP32 absmax per 64 values
    (with double quantization: a uint8 absmax per 64 and an FP32 one per 256 blocks), computing in `compute`."""

    def __init__(self, d_in: int, d_out: int, compute: torch.dtype, *, double_quant: bool = False) -> None:
        super().__init__()
        n, blocks = d_in * d_out, -(-(d_in * d_out) // 64)
        self.shape = (d_out, d_in)
        self.compute = compute
        self.register_buffer("packed", torch.empty(n // 2, dtype=torch.uint8))
        if double_quant:
            self.register_buffer("absmax", torch.empty(blocks, dtype=torch.uint8))
            self.register_buffer("absmax2", torch.empty(-(-blocks // 256), dtype=torch.float32))
        else:
            self.register_buffer("absmax", torch.empty(blocks, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Linear4bit.forward: x.to(compute_dtype), matmul_4bit, the output back to the input's dtype
        out = MatMul4Bit.apply(x.to(self.compute), self.packed, self.absmax, self.shape)
        return out.to(x.dtype)


LORA_NAMES = {"q", "k", "v", "o", "gate", "up", "down"}
"""The reference model's adaptable linears (attribute names of Attention and Mlp, the inventory's names)."""


def add_lora(
    model: Transformer,
    targets: set[str],
    r: int,
    dropout: float,
    adapter_dtype: torch.dtype,
    *,
    quantized: Optional[torch.dtype] = None,
    double_quant: bool = False,
) -> None:
    """Freeze every parameter, make the blocks' linears bitsandbytes 4-bit stand-ins when `quantized` (their compute
    dtype), and wrap the `targets` in LoraLinear (PEFT's get_peft_model; the adapters are the only trainable tensors)."""
    for p in model.parameters():
        p.requires_grad_(False)
    for block in model.blocks:
        for part in (block.attn, block.mlp):
            for name in LORA_NAMES:
                base = getattr(part, name, None)
                if not isinstance(base, nn.Linear):
                    continue
                d_in, d_out = base.in_features, base.out_features
                layer: nn.Module = base
                if quantized is not None:
                    layer = Linear4bit(d_in, d_out, quantized, double_quant=double_quant)
                if name in targets:
                    layer = LoraLinear(layer, d_in, d_out, r, dropout, adapter_dtype)
                setattr(part, name, layer)
