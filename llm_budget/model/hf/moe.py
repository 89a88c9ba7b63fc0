"""Mappers of the mixture-of-experts and latent-attention decoders (Qwen-MoE, DeepSeek, GLM-4.5, gpt-oss, Llama 4, ...)."""

from __future__ import annotations

from llm_budget.model.hf.keys import Config, Fields, Mapper, required
from llm_budget.model.hf.llama import mistral


def mixtral(cfg: Config) -> Fields:
    """modeling_mixtral.py: MixtralSparseMoeBlock is a router Linear(d, E, bias=False) and E SwiGLU experts without biases."""
    return mistral(cfg) | dict(
        n_experts=required(cfg, "num_local_experts"),
        n_active_experts=required(cfg, "num_experts_per_tok"),
    )


FAMILIES: dict[str, Mapper] = {
    "mixtral": Mapper("mixtral", mixtral, "mixtral/modeling_mixtral.py"),
}
