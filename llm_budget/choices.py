"""Every choice a user picks from a list, as an enum: imported by the CLI (typer lists and validates them)
and by the calculators. This module imports nothing of llm_budget, so declaring an option costs no start-up time."""

from __future__ import annotations

from enum import Enum


class Recipe(str, Enum):
    fp32 = "fp32"  # FP32 weights, gradients, optimizer states, activations
    mixed = "mixed"  # 16-bit compute with FP32 master weights (see Convention)
    pure = "pure"  # everything in the 16-bit dtype, optimizer states too
    lora = "lora"  # frozen 16-bit base, trainable low-rank adapters
    qlora = "qlora"  # frozen quantized base (nf4/int4/int8), trainable adapters


class Convention(str, Enum):
    """How mixed precision stores a parameter: the 16 / 18 / 20 bytes-per-parameter confusion."""

    autocast = "autocast"  # torch.autocast / Hugging Face Trainer: FP32 weights 4 + FP32 grads 4 (+2 transient 16-bit copies) + Adam 8
    zero = "zero"  # ZeRO paper: 16-bit weights 2 + 16-bit grads 2 + FP32 master 4 + Adam 8 = 16
    megatron = "megatron"  # Megatron-LM: 16-bit weights 2 + FP32 grads 4 + FP32 master 4 + Adam 8 = 18
    grad_copy = "grad-copy"  # 2 + 2 + FP32 gradient copy 4 + master 4 + Adam 8 = 20
    fsdp = "fsdp"  # FSDP2 MixedPrecisionPolicy: FP32 sharded weights 4 + FP32 grads 4 + Adam 8; compute in 16 bits


class Optimizer(str, Enum):
    adamw = "adamw"
    adam = "adam"
    adamw8bit = "adamw8bit"
    sgd = "sgd"
    sgd_momentum = "sgd-momentum"
    adafactor = "adafactor"
    lion = "lion"


class OptimizerImpl(str, Enum):
    """PyTorch's optimizer implementations differ in step temporaries."""

    foreach = "foreach"  # batched _foreach_ kernels: the CUDA default; ~one extra copy of every parameter
    loop = "for-loop"  # one parameter at a time: the CPU default; ~3× the largest parameter
    fused = "fused"  # one fused kernel: no parameter-sized temporaries


class Checkpointing(str, Enum):
    none = "none"
    selective = "selective"  # recompute the attention core (Korthikanti et al. 2022)
    full = "full"  # keep each block's input, recompute the block in backward (Chen et al. 2016)


class LoraTargets(str, Enum):
    """Named sets of adapted matrices; `--lora-targets q,v` (or module names) lists them one by one."""

    all = "all"  # every linear layer of the blocks (QLoRA's choice)
    all_linear = "all-linear"  # PEFT's name for the same set: every nn.Linear but the output layer
    attention = "attention"  # q, k, v, o
    mlp = "mlp"  # gate, up, down


class LossKind(str, Enum):
    """How the cross-entropy is computed (llm_budget/memory/loss.py)."""

    full = "full"  # the whole batch × seq × vocab logits, upcast to FP32 (transformers' ForCausalLMLoss)
    chunked = "chunked"  # litgpt: 128-token chunks, cross-entropy on the 16-bit logits
    chunked_fp32 = "chunked-fp32"  # torchtune: 8 chunks, each upcast to FP32
    fused = "fused"  # fused linear cross-entropy: the logits never exist whole (Liger)


class Fit(str, Enum):
    """`--fit` choices (the CLI passes `.value`)."""

    approach1 = "approach1"  # Hoffmann et al. 2022 Table 3: D = 20·N, N and D ∝ C^0.5
    approach3 = "approach3"  # Hoffmann et al. 2022 §3.3: the parametric loss, rounded constants
    epoch = "epoch"  # Besiroglu et al. 2024: the parametric loss refitted
