"""A model named the way users name it (preset, Hub ID, checkpoint folder) and its checkpoint's tensor table.

    names.py         parse `--model`: an existing path, a preset name, or a Hub ID org/name[@rev]
    cache.py         the local Hugging Face cache (HF_HUB_CACHE, HF_HOME): refs/, snapshots/; read, never written
    safetensors.py   a .safetensors header (8-byte length + JSON), bounded and checked, without torch
    index.py         model.safetensors.index.json: which shards, every shard present, every tensor where it says
    hub.py           optional (huggingface_hub): config.json, the index and each shard's header by range reads
    quantization.py  quantization_config -> QuantScheme, and the stored bytes of one linear weight in it
    table.py         the tensor table: bytes, stored elements, logical parameters, quantized modules, by counter row
    crosscheck.py    the table's parameters against the exact counter, row by row
    weights.py       CheckpointWeights: what serving takes from a checkpoint (memory/setup.py InferSetup.checkpoint)
    resolve.py       resolve_model(NAME) -> ResolvedModel (spec, table, scheme); the one entry point

Nothing is imported here: `params --preset` must not pay for this package (tests/test_startup.py).
"""
