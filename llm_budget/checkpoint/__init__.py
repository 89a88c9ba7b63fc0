"""A model named the way users name it (preset, Hub ID, checkpoint folder) and its checkpoint's tensor table.

names.py         parse `--model`: an existing path, a preset name, or a Hub ID org/name[@rev]
cache.py         the local Hugging Face cache (HF_HUB_CACHE, HF_HOME): refs/, snapshots/; read, never written
safetensors.py   a .safetensors header (8-byte length + JSON), bounded and checked, without torch
index.py         model.safetensors.index.json: which shards, every shard present
"""
