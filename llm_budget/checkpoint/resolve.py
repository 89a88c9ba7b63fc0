"""`--model NAME` -> the ModelSpec and, for a checkpoint, its tensor table (names.py gives the order).

A config.json becomes a ModelSpec only through model.presets.load_hf_config (the one config reader);
the table stays beside the spec, never inside it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from llm_budget.checkpoint.names import NameKind, parse_model_name
from llm_budget.checkpoint.quantization import QuantScheme, read_scheme
from llm_budget.checkpoint.safetensors import SafetensorsHeader
from llm_budget.checkpoint.table import TensorTable, build_table, loaded_bytes
from llm_budget.checkpoint.weights import CheckpointWeights, compute_dtype
from llm_budget.errors import LLMBudgetError
from llm_budget.model.files import load_json, show_path
from llm_budget.model.spec import ModelSpec

_DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


class ResolvedModel(BaseModel):
    """A model as named: its spec, where it came from, and its checkpoint's table and scheme when it has one."""

    model_config = ConfigDict(frozen=True)

    spec: ModelSpec
    origin: str  # "preset", a folder, or "repo@rev (cache: folder)" / "repo@rev (Hub headers)"
    table: TensorTable | None = None
    scheme: QuantScheme | None = None
    config: dict[str, Any] | None = None

    @property
    def weights(self) -> CheckpointWeights | None:
        """What serving takes from the checkpoint: the table's bytes, else a quantized config's scheme."""
        if self.config is None or (self.table is None and self.scheme is None):
            return None
        compute = compute_dtype(self.config)
        return CheckpointWeights(
            source=self.origin,
            stored_bytes=self.table.total_bytes if self.table is not None else None,
            loaded_bytes=loaded_bytes(self.table, _DTYPE_BYTES[compute]) if self.table is not None else None,
            scheme=self.scheme,
            compute=compute,
        )


def _scheme(config: dict[str, Any], folder: Path | None, origin: str) -> QuantScheme | None:
    """quantization_config, or AutoGPTQ's separate quantize_config.json (older GPTQ repositories)."""
    dtype_bytes = _DTYPE_BYTES[compute_dtype(config)]
    if "quantization_config" not in config and folder is not None and (folder / "quantize_config.json").is_file():
        legacy = load_json(folder / "quantize_config.json")
        if isinstance(legacy, dict):
            config = {"quantization_config": {"quant_method": "gptq", **legacy}}
    return read_scheme(config, origin, dtype_bytes=dtype_bytes)


def _named(spec: ModelSpec, label: str) -> ModelSpec:
    data = spec.model_dump(exclude_none=True)
    data["display_name"] = label
    return ModelSpec.model_validate(data)


def _assemble(
    config: dict[str, Any],
    config_path: Path,
    headers: list[SafetensorsHeader],
    label: str,
    origin: str,
    folder: Path | None,
) -> ResolvedModel:
    from llm_budget.model.presets import load_hf_config

    spec = _named(load_hf_config(config_path), label)
    scheme = _scheme(config, folder, str(config_path))
    table = build_table(headers, scheme, origin) if headers else None
    return ResolvedModel(spec=spec, origin=origin, table=table, scheme=scheme, config=config)


def load_folder(folder: Path, label: str, origin: str | None = None) -> ResolvedModel:
    """A checkpoint folder: config.json (required) and its safetensors headers (if any)."""
    from llm_budget.checkpoint.index import read_folder_headers
    from llm_budget.model.hf import read_hf_config

    config_path = folder / "config.json"
    if not config_path.is_file():
        raise LLMBudgetError(
            f"{show_path(folder)}: no config.json (a checkpoint folder holds config.json and *.safetensors)"
        )
    config = read_hf_config(config_path)
    return _assemble(config, config_path, read_folder_headers(folder), label, origin or str(folder), folder)


def _from_hub(repo_id: str, revision: str | None, label: str, cache_folder: Path) -> ResolvedModel:
    import importlib.util
    import json

    from llm_budget.checkpoint.cache import hub_offline

    where = f"not in the Hugging Face cache ({show_path(cache_folder)})"
    if hub_offline():
        raise LLMBudgetError(f"{label}: {where}, and HF_HUB_OFFLINE=1 forbids the Hub; unset it or download the model")
    if importlib.util.find_spec("huggingface_hub") is None:
        raise LLMBudgetError(
            f"{label}: {where}; to read its config and safetensors headers from the Hub (never the weights), "
            "install the hub extra: pip install 'llm-budget[hub]'"
        )
    from llm_budget.checkpoint.hub import fetch_checkpoint

    config, headers = fetch_checkpoint(repo_id, revision)
    with tempfile.TemporaryDirectory(prefix="llm-budget-") as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        return _assemble(config, path, headers, label, f"{label} (Hub: config and headers)", None)


def resolve_model(text: str) -> ResolvedModel:
    """The model `--model TEXT` names: a path, a preset, a cached Hub ID, or the Hub's config and headers."""
    from llm_budget.checkpoint.cache import cached_snapshot, repo_folder
    from llm_budget.model.presets import resolve

    name = parse_model_name(text)
    if name.kind is NameKind.preset:
        return ResolvedModel(spec=resolve(text), origin="preset")
    if name.kind is NameKind.path:
        assert name.path is not None
        if name.path.is_dir():
            return load_folder(name.path, name.path.resolve().name)
        if name.path.name == "config.json" or name.path.suffix == ".safetensors":  # a file of a checkpoint folder
            return load_folder(name.path.parent, name.path.resolve().parent.name)
        return ResolvedModel(spec=resolve(str(name.path)), origin=str(name.path))
    assert name.repo_id is not None
    snapshot = cached_snapshot(name.repo_id, name.revision)
    if snapshot is not None:
        return load_folder(snapshot, name.label, f"{name.label} (cache: {snapshot})")
    return _from_hub(name.repo_id, name.revision, name.label, repo_folder(name.repo_id))
