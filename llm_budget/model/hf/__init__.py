"""Hugging Face `config.json` -> ModelSpec fields, offline and without transformers.

    reader.py    read_hf_config(path): a config.json (or a folder holding one) -> dict, one-line errors
    keys.py      the key helpers every mapper shares (required/optional keys, activation names)
    attention.py shared helpers: KV-head and window defaults, layer patterns, the rotary share
    llama.py     Llama-style decoders: llama, mistral, qwen2, qwen3, phi3, gemma, gemma2, gemma3_text, cohere,
                 cohere2, granite, olmo2
    gpt.py       GPT-style decoders: gpt2, gpt_neox, bloom, gpt_bigcode, starcoder2
    dense.py     phi, stablelm, falcon
    moe.py       mixture-of-experts decoders: mixtral, qwen2_moe, qwen3_moe, phimoe, granitemoe, gpt_oss
    deepseek.py  multi-head latent attention: deepseek_v2, deepseek_v3, glm4_moe
    llama4.py    llama4_text (interleaved MoE, chunked attention)
    dbrx.py      the DBRX mapper (its sizes sit in nested attn_config / ffn_config)
    multimodal.py  configs whose language model sits in text_config (gemma3, llama4, mistral3, llava, qwen2_vl,
                 qwen2_5_vl) and aliases of another family's architecture (kimi_k2 -> deepseek_v3)
    names.py     component_of(name): a Hugging Face parameter / checkpoint tensor name -> the counter's row
    registry.py  MAPPERS (every module's FAMILIES: model_type -> family, mapper, the modeling file it follows)
                 and spec_fields_from_hf(cfg), which dispatches and names the supported types

Adding a family: write one mapper (a function cfg -> ModelSpec fields, written from that
family's modeling file in transformers: which modules exist, which have biases, how many
norms a block has), add one entry to its module's FAMILIES naming that file, and add its config.json to
tests/fixtures/hf/ (tests/test_hfconfig.py then holds the mapper to the count transformers
itself gives for the same config, built on PyTorch's meta device).
"""

from llm_budget.model.hf.keys import Config, Mapper
from llm_budget.model.hf.names import FUSED, component_of
from llm_budget.model.hf.reader import read_hf_config
from llm_budget.model.hf.registry import MAPPERS, UnsupportedModelType, spec_fields_from_hf

__all__ = [
    "FUSED",
    "MAPPERS",
    "Config",
    "component_of",
    "Mapper",
    "UnsupportedModelType",
    "read_hf_config",
    "spec_fields_from_hf",
]
