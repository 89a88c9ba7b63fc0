"""One training step before it is sharded: the model states per part, what each block saves, and the
loss buffers. Computed once per model and setup (cached: the fit advisor evaluates many parallel layouts
against one), then laid out on a GPU by timeline.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from llm_budget.choices import Checkpointing, Convention, Recipe
from llm_budget.defaults import sequence_length
from llm_budget.memory.activations import Saved, Step, checkpointed_core_inputs, head_saved, layer_saved
from llm_budget.memory.adapters import adapter_saved, dequantized_weights, first_block_unsaved, frozen_base_saved
from llm_budget.memory.allocator import rounded, tensor_bytes
from llm_budget.memory.backward import BackwardRegion, block_backward_regions
from llm_budget.memory.blocks import EVERY_EXPERT
from llm_budget.memory.loss import LossBuffers, loss_buffers
from llm_budget.memory.quantization import is_quantized_matrix
from llm_budget.memory.rank_activations import RankActivations, activations_on_rank
from llm_budget.memory.recipes import RecipeBytes, is_frozen_base, recipe_bytes
from llm_budget.memory.saved import family
from llm_budget.memory.setup import Parallel, TrainSetup
from llm_budget.memory.states import ModelStates, adapter_tensors, model_states
from llm_budget.model.inventory import ParamTensor, parameter_tensors
from llm_budget.model.spec import ModelSpec


@dataclass(frozen=True)
class AutocastCopies:
    """torch.autocast's 16-bit copies of the matmul weights, cached from their forward to their backward."""

    per_block: int
    outside: int  # the unembedding (and a tied embedding's copy)


@dataclass(frozen=True)
class UnshardedStep:
    """Everything about one training step that does not depend on how it is sharded."""

    spec: ModelSpec  # with setup.n_layers applied
    setup: TrainSetup  # with Parallel() (see unsharded_setup)
    recipe: Recipe
    storage: RecipeBytes
    seq: int
    n_params: int
    n_trainable: int
    trainable: list[ParamTensor]
    states: ModelStates
    conditions: Step  # what decides which tensors are saved
    per_block: list[Saved]
    head: list[Saved]
    loss: LossBuffers
    copies: AutocastCopies
    _rank_cache: dict[tuple[int, bool], RankActivations] = field(default_factory=dict, compare=False, repr=False)
    _regions_cache: dict[tuple[int, bool, int], dict[str, BackwardRegion]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def frozen_base(self) -> bool:
        return is_frozen_base(self.recipe)

    @property
    def tokens(self) -> int:
        return self.conditions.t

    @property
    def residual_bytes(self) -> int:
        """Bytes per element of the residual stream (FP32 under autocast)."""
        return self.conditions.r

    def activations_on_rank(self, tp: int, sp: bool) -> RankActivations:
        key = (tp, sp)
        if key not in self._rank_cache:
            self._rank_cache[key] = activations_on_rank(
                self.per_block,
                self.head,
                tp,
                sp,
                self.setup.device,
                checkpointed_core_inputs(self.spec, self.conditions),
            )
        return self._rank_cache[key]

    def backward_regions(self, tp: int, sp: bool, zero_shards: int) -> dict[str, BackwardRegion]:
        """A block's backward regions on one rank; zero_shards: the data-parallel ranks gradients are split over (ZeRO-2+)."""
        key = (tp, sp, zero_shards)
        if key not in self._regions_cache:
            gradient_width = self.storage.gradient + self.storage.extra_gradient
            self._regions_cache[key] = block_backward_regions(
                self.spec,
                self.conditions,
                self.per_block,
                self.trainable,
                gradient_width,
                self.setup.device,
                tp=tp,
                sp=sp,
                zero_shards=zero_shards,
                dequantized=dequantized_weights(self.spec, self.setup, self.storage.compute),
            )
        return self._regions_cache[key]


def unsharded_setup(setup: TrainSetup) -> TrainSetup:
    """The sharding-independent part of a setup. Under ZeRO-3/FSDP, mixed precision is FSDP's own policy
    (weights cast as they are gathered, compute in 16 bits), not torch.autocast."""
    update: dict[str, object] = {"parallel": Parallel()}
    if setup.parallel.zero >= 3 and setup.resolved_recipe is Recipe.mixed and setup.convention is Convention.autocast:
        update["convention"] = Convention.fsdp
    return setup.model_copy(update=update)


@lru_cache(maxsize=256)
def unsharded_step(spec: ModelSpec, setup: TrainSetup) -> UnshardedStep:
    """The step of `spec` under `setup` (its parallel layout ignored); cached: clear with unsharded_step.cache_clear()."""
    storage = recipe_bytes(setup)
    seq = sequence_length(setup.seq, spec.context_window)
    if setup.n_layers:
        spec = first_blocks(spec, setup.n_layers)
    tensors = parameter_tensors(spec)
    recipe = setup.resolved_recipe
    frozen = is_frozen_base(recipe)
    trainable = adapter_tensors(spec, setup) if frozen else tensors
    conditions = Step(
        b=setup.batch,
        s=seq,
        flow=storage.flow,
        c=storage.compute,
        attention=setup.attention,
        device=setup.device,
        impl=setup.implementation,
        loss=setup.loss.value,
    )
    per_block, head = layer_saved(spec, conditions), head_saved(spec, conditions)
    if frozen:  # LoRA / QLoRA: what the frozen base does not save, what the adapters do (adapters.py)
        base = frozen_base_saved(spec, setup, conditions, per_block)
        head = frozen_base_saved(spec, setup, conditions, head)
        if setup.checkpointing is not Checkpointing.full:  # a checkpointed block keeps only its input anyway
            head += first_block_unsaved(spec, per_block)
        per_block = base + adapter_saved(spec, setup, conditions)
    return UnshardedStep(
        spec=spec,
        setup=setup,
        recipe=recipe,
        storage=storage,
        seq=seq,
        n_params=sum(t.total for t in tensors),
        n_trainable=sum(t.total for t in trainable),
        trainable=trainable,
        states=model_states(spec, setup, storage, tensors, trainable),
        conditions=conditions,
        per_block=per_block,
        head=head,
        loss=loss_buffers(
            spec,
            conditions,
            setup.loss,
            head_trainable=not is_frozen_base(recipe),
            head_width=storage.gradient,
        ),
        copies=_autocast_copies(spec, setup, storage, tensors),
    )


MOE_ONLY = ("n_experts", "n_active_experts", "router_bias", "d_expert", "d_shared_mlp", "shared_expert_gate")


def first_blocks(spec: ModelSpec, n_layers: int) -> ModelSpec:
    """The model cut to its first n_layers blocks, as transformers builds it with num_hidden_layers = n_layers:
    a layer pattern longer than that is cut too, and blocks that are all dense make a dense model."""
    data = spec.model_dump(exclude_none=True)
    data["n_layers"] = n_layers
    pattern = spec.layer_pattern
    if pattern is not None and len(pattern) > n_layers:
        data["layer_pattern"] = pattern[:n_layers]
    if spec.is_moe and not any(spec.is_moe_layer(i) for i in range(n_layers)):
        for key in (*MOE_ONLY, "first_dense_layers", "moe_every", "dense_layers"):
            data.pop(key, None)
    else:
        data["dense_layers"] = tuple(i for i in spec.dense_layers if i < n_layers)
    return ModelSpec.model_validate(data)


def _autocast_copies(
    spec: ModelSpec, setup: TrainSetup, storage: RecipeBytes, tensors: list[ParamTensor]
) -> AutocastCopies:
    """Under autocast, every matmul weight is cast to 16 bits once per step. transformers runs MoE experts
    through grouped_mm, which autocast leaves in FP32: no copies of theirs (pytorch-amp's op lists)."""
    if storage.flow != "autocast":
        return AutocastCopies(0, 0)
    device, L = setup.device, spec.n_layers
    # Llama 4's experts are batched matmuls (bmm), which autocast does cast (blocks.EVERY_EXPERT)
    hf_experts = setup.implementation == "hf" and spec.is_moe and family(spec) not in EVERY_EXPERT
    # a quantized base (QLoRA) is dequantized for each matmul and not kept (bitsandbytes' MatMul4Bit, adapters.py)
    quantized = setup.resolved_recipe is Recipe.qlora
    matmuls = [
        t
        for t in tensors
        if t.kind == "linear" and not (hf_experts and t.expert) and not (quantized and is_quantized_matrix(t))
    ]
    tied = rounded(spec.n_vocab * spec.d_embed * 2, device) if spec.tied_embeddings else 0
    return AutocastCopies(
        per_block=tensor_bytes([t for t in matmuls if t.layer], 2, device) // L,
        outside=tensor_bytes([t for t in matmuls if not t.layer], 2, device) + tied,
    )
