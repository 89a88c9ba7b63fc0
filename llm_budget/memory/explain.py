"""The words of a training report: each component's formula and source, the model-states line, and the
assumptions the numbers rest on. Only text; the numbers come from timeline.py."""

from __future__ import annotations

from llm_budget.choices import Checkpointing, Convention, LossKind, Recipe
from llm_budget.memory.optimizers import OPTIMIZERS, states_text
from llm_budget.memory.report import TRAIN_COMPONENTS, Component, MemoryLine
from llm_budget.memory.setup import Parallel, TrainSetup
from llm_budget.memory.step import UnshardedStep
from llm_budget.refs import cite

LOSS_FORMULAS = {
    LossKind.full: (
        "batch × seq × vocab: 16-bit logits, FP32 copy, log-probabilities and their gradients",
        "hf-transformers",
    ),
    LossKind.chunked: (
        "batch × seq × vocab × 2 (16-bit logits list) + × 2 (16-bit log-probabilities); gradients per 128-token chunk",
        "litgpt: utils.py chunked_cross_entropy",
    ),
    LossKind.chunked_fp32: (
        "batch × seq × vocab × 4 (FP32 log-probabilities); the 16-bit logits until `del logits`; gradients per 1/8 chunk",
        "torchtune: modules/loss/ce_chunked_output_loss.py",
    ),
    LossKind.fused: (
        "grad_input (tokens × d × c) [+ grad_weight] made in forward + one chunk's logits; no batch × seq × vocab tensor",
        "liger: src/liger_kernel/ops/fused_linear_cross_entropy.py",
    ),
}
"""The "Logits and loss" line per way of computing the loss (memory/loss.py)."""


def component_formulas(step: UnshardedStep) -> dict[str, tuple[str, str]]:
    """(formula, source key) of each training component."""
    setup, storage = step.setup, step.storage
    optimizer = OPTIMIZERS[setup.optimizer]
    kind = (
        "quantized base" if step.recipe is Recipe.qlora else ("FP32" if storage.weight == 4 else setup.precision.value)
    )
    return {
        Component.weights: (f"N × {storage.weight} bytes ({kind})", "rajbhandari2020: §3.1"),
        Component.masters: ("N × 4: FP32 copy the optimizer updates", "micikevicius2018: §3.1"),
        Component.adapters: (
            f"Σ r·(d_in + d_out) × {storage.gradient} over adapted matrices, r = {setup.lora_rank}",
            "hu2021: §4.1",
        ),
        Component.copies: ("matmul weights × 2, cast in forward and held until their backward", "pytorch-amp"),
        Component.gradients: (
            f"N × {storage.gradient + storage.extra_gradient} (made as backward reaches each parameter)",
            "rajbhandari2020: §3.1",
        ),
        Component.buckets: (
            "Σ gradients once more: DistributedDataParallel's all-reduce buckets (gradient_as_bucket_view=False, its default)",
            "pytorch-ddp",
        ),
        Component.optimizer: (optimizer.formula.format(w=storage.state), optimizer.source),
        Component.activations: (
            "Σ saved tensors per block (activations.py inventory) × blocks still held at the peak, + embedding/head",
            "korthikanti2022: Table 2 (generalized)",
        ),
        Component.loss: LOSS_FORMULAS[setup.loss],
        Component.temporaries: (
            "the working set of the phase at the peak (gradients in flight, norm or optimizer intermediates)",
            "pytorch-cuda-notes",
        ),
        Component.inputs: ("2 × batch × seq × 8 (int64)", "hf-transformers"),
    }


def component_lines(live: dict[str, int], n_params: int, formulas: dict[str, tuple[str, str]]) -> list[MemoryLine]:
    """The report's lines: each component live at the peak, in report order."""
    out = []
    for name in TRAIN_COMPONENTS:
        n = live.get(name, 0)
        if n:
            formula, source = formulas.get(name, ("", ""))
            per_param = round(n / n_params, 3) if n_params else None
            out.append(
                MemoryLine(
                    name=name,
                    bytes=n,
                    bytes_per_param=per_param,
                    formula=formula,
                    source=cite(source) if source else "",
                )
            )
    return out


def model_states_text(step: UnshardedStep) -> str:
    """The "Model states" line: the recipe's bytes per parameter of each state (recipes.py's description)."""
    setup, storage = step.setup, step.storage
    return storage.description.format(
        weight=storage.weight,
        gradient=storage.gradient,
        master=storage.master,
        extra_gradient=storage.extra_gradient,
        states=states_text(setup.optimizer, storage.state),
        precision=setup.precision.value,
        recipe=step.recipe.value,
    )


def train_assumptions(step: UnshardedStep, parallel: Parallel) -> list[str]:
    """Everything the training numbers assume, most specific first."""
    setup = step.setup
    out: list[str] = []
    if setup.convention is Convention.fsdp or (parallel.zero >= 3 and step.recipe is Recipe.mixed):
        out.append(
            "ZeRO-3 / FSDP mixed precision (FSDP2's MixedPrecisionPolicy): FP32 sharded weights cast to 16 bits as they are gathered, 16-bit compute (no autocast copies), gradients reduced in FP32; two blocks gathered at a time (prefetch)."
        )
    if parallel.is_parallel:
        blocks = -(-step.spec.n_layers // parallel.pp)
        in_flight = min(parallel.pp, parallel.micro_batches or parallel.pp)
        out.append(
            f"One GPU of {parallel.gpus}: tensor parallel {parallel.tp}{' with sequence parallelism' if parallel.sp else ''}, pipeline {parallel.pp}"
            f" ({blocks} blocks per stage, {in_flight} micro-batch(es) in flight on the first), data parallel {parallel.dp} with ZeRO stage {parallel.zero}"
            f" ({parallel.sharding_label}); the rows are the rank that peaks."
        )
    out += _layout_assumptions(parallel)
    if setup.checkpointing is Checkpointing.full:
        out.append(
            "Full activation checkpointing: each block keeps its input; backward recomputes one block at a time."
        )
    elif setup.checkpointing is Checkpointing.selective:
        out.append(
            "Selective checkpointing: the attention core is recomputed in backward (its s² tensors are not kept)."
        )
    if step.storage.flow == "autocast":
        out.append(
            "torch.autocast: FP32 weights and gradients; each matmul weight is cast to 16 bits once per step and the copy lives until its backward."
        )
    return out + _step_assumptions(step)


def _layout_assumptions(parallel: Parallel) -> list[str]:
    out = []
    if parallel.dp > 1 and parallel.zero == 0:
        out.append(
            "DDP (DistributedDataParallel, gradient_as_bucket_view=False: its default): the all-reduce buckets hold a "
            "second copy of every gradient, allocated in the first backward and kept."
        )
    if parallel.shard_group and parallel.shard_group < parallel.dp:
        out.append(
            f"Hybrid sharding (FSDP HYBRID_SHARD / HSDP): states sharded over groups of {parallel.shard_group} GPUs,"
            f" replicated over the {parallel.dp // parallel.shard_group} groups."
        )
    if parallel.offloads_optimizer:
        out.append(
            "Optimizer offloaded (ZeRO-Offload, Ren et al. 2021 §4.1; FSDP CPUOffload): optimizer states, FP32 master "
            "weights and gradients live in host RAM, the step runs on the CPU; each gradient leaves the GPU once made."
        )
    if parallel.offloads_params:
        out.append(
            "Parameters offloaded: the weight shard lives in host RAM; only the blocks gathered for compute are on the GPU."
        )
    if parallel.optimizer_in_backward:
        out.append(
            "Optimizer in backward (register_post_accumulate_grad_hook; torchtune's optimizer_in_bwd): each parameter is "
            "stepped and its gradient freed as backward makes it, so gradients never all exist (no gradient accumulation)."
        )
    return out


def _step_assumptions(step: UnshardedStep) -> list[str]:
    spec, setup = step.spec, step.setup
    out = [
        f"Steady state (second step on): gradients set to None before forward; optimizer states exist; batch {setup.batch} × sequence {step.seq}.",
        (
            "Activations are the tensors a PyTorch autograd graph saves for a model written like Hugging Face's "
            "(FP32 RMSNorm, tanh GELU as elementwise ops for GPT-2, SDPA or eager attention); the loss upcasts the "
            "logits to FP32, and the cross-entropy's backward holds three batch × seq × vocab FP32 buffers."
        ),
        f"Optimizer {setup.optimizer.value}, {setup.resolved_impl.value} implementation.",
    ]
    if setup.attention == "sdpa":
        out.append(
            "Attention through scaled_dot_product_attention (flash / memory-efficient kernels): no s² tensors are kept."
        )
    else:
        out.append(
            "Eager attention: the batch × heads × seq² probabilities are kept for backward (Korthikanti et al.'s 5·a·s/h term)."
        )
    if spec.dropout > 0:
        out.append(f"Dropout {spec.dropout} keeps a mask per dropout (1 byte/element on CUDA).")
    if setup.device == "cuda":
        out.append(
            "Sizes rounded up to the CUDA caching allocator's 512-byte blocks; the CUDA context, cuBLAS workspace and allocator cache are not included (they are not in torch.cuda.max_memory_allocated)."
        )
    if spec.is_moe:
        out.append(
            "Mixture of experts: every expert's weights, gradients and states are resident; activations follow the routed tokens (top-k rows, balanced)."
        )
    if step.recipe in (Recipe.lora, Recipe.qlora):
        out.append(lora_assumption(setup))
    if setup.paged_optimizer:
        o = step.states.optimizer
        paged = o.block * step.spec.n_layers + o.embedding + o.head
        out.append(
            f"Paged optimizer (bitsandbytes): its {paged / 1e9:.2f} GB of states (before any sharding) live in CUDA "
            "unified memory (cudaMallocManaged), outside PyTorch's allocator: not in the peak above nor in "
            "torch.cuda.max_memory_allocated; nvidia-smi shows them while resident, and the driver pages them to "
            "host RAM when the GPU runs short."
        )
    return out


def lora_assumption(setup: TrainSetup) -> str:
    """What the LoRA numbers assume: the adapted modules, the base and adapter dtypes, dropout."""
    targets = setup.lora_targets
    named = targets.value if not isinstance(targets, tuple) else ",".join(targets)
    dropout = (
        f"dropout {setup.lora_dropout} (a copy of each adapted input and its mask, saved per adapter)"
        if setup.lora_dropout
        else "no dropout (PEFT's default 0 is nn.Identity: no copy)"
    )
    return f"LoRA rank {setup.lora_rank} on {named} linear modules of the blocks; {dropout}."
