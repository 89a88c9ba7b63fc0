"""Hugging Face `config.json` -> ModelSpec fields, offline and without transformers.

    reader.py    read_hf_config(path): a config.json (or a folder holding one) -> dict, one-line errors
    keys.py      the key helpers every mapper shares (required/optional keys, activation names)
    llama.py     mappers of the Llama-style decoders (llama, mistral, mixtral, qwen2, qwen3, phi3, gemma, gemma2, cohere)
    gpt.py       mappers of the GPT-style decoders (gpt2, gpt_neox, bloom)
    dbrx.py      the DBRX mapper (its sizes sit in nested attn_config / ffn_config)
    registry.py  MAPPERS (model_type -> family, mapper, the transformers modeling file it follows)
                 and spec_fields_from_hf(cfg), which dispatches and names the supported types

Adding a family: write one mapper (a function cfg -> ModelSpec fields, written from that
family's modeling file in transformers: which modules exist, which have biases, how many
norms a block has), add one MAPPERS entry naming that file, and add its config.json to
tests/fixtures/hf/ (tests/test_hfconfig.py then holds the mapper to the count transformers
itself gives for the same config, built on PyTorch's meta device).
"""

from llm_budget.model.hf.keys import Config
from llm_budget.model.hf.reader import read_hf_config
from llm_budget.model.hf.registry import MAPPERS, Mapper, spec_fields_from_hf

__all__ = ["MAPPERS", "Config", "Mapper", "read_hf_config", "spec_fields_from_hf"]
