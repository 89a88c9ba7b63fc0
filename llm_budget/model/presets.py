"""Find and load presets: model YAML files under presets/models/, the lecture's closed models,
and user files given by path. The only module that reads preset files.

Layout (shipped inside the wheel as llm_budget/presets, see pyproject.toml):
    presets/models/<name>.yaml   one ModelSpec per file; the file stem is its name
    presets/closed-models.yaml   models without a published architecture
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llm_budget.errors import LLMBudgetError, SpecError, UnpublishedModelError, did_you_mean
from llm_budget.model.spec import ClosedModel, ModelSpec


def presets_dir() -> Path:
    """presets/ inside the installed package, else the source checkout's top-level presets/."""
    here = Path(__file__).resolve().parents[1]  # the llm_budget package
    for candidate in (here / "presets", here.parent / "presets"):
        if (candidate / "models").is_dir():
            return candidate
    raise LLMBudgetError(f"presets folder not found next to {here} (a broken install?)")


def _load_yaml(path: Path) -> Any:
    """A YAML file through the one safe reader (model/files.py: UTF-8, size, depth, no aliases, core schema)."""
    from llm_budget.model.files import load_yaml

    return load_yaml(path)


def _shown(value: Any) -> str:
    """A rejected value for an error line: huge numbers and long texts shortened (the line stays one line)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
        digits = len(str(abs(value))) if value.bit_length() < 10_000 else int(value.bit_length() * 0.30103) + 1
        return f"a number of {digits:,} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def describe_validation_error(err: ValidationError, origin: str, *, limit: int = 5) -> str:
    """One line naming each bad field and value, e.g. "spec.yaml: n_heads: must be > 0 (got -4)".

    At most `limit` problems are named (then "and N more"), and long keys and values are shortened,
    so a file with thousands of unknown keys still gets one readable line."""
    parts = []
    for e in err.errors():
        field = ".".join(str(x) for x in e["loc"])
        if len(field) > 40:
            field = field[:37] + "…"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown key '{field}'")
        elif field:
            parts.append(f"{field}: {msg} (got {_shown(e.get('input'))})")
        else:
            parts.append(msg)
    if len(parts) > limit:
        parts = [*parts[:limit], f"and {len(parts) - limit:,} more"]
    return f"{origin}: invalid model spec: " + "; ".join(parts)


def spec_from_mapping(data: Any, origin: str) -> ModelSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{origin}: expected a mapping of spec fields, got {type(data).__name__}")
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(describe_validation_error(e, origin)) from None


@cache
def _model_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted((presets_dir() / "models").glob("*.yaml"))}


@cache
def closed_models() -> dict[str, ClosedModel]:
    data = _load_yaml(presets_dir() / "closed-models.yaml") or []
    out = {}
    for entry in data:
        try:
            model = ClosedModel.model_validate(entry)
        except ValidationError as e:  # a broken shipped file is a bug, but report it plainly
            raise SpecError(describe_validation_error(e, "closed-models.yaml")) from None
        out[model.name] = model
    return out


def preset_names() -> list[str]:
    return list(_model_files())


def _aliases() -> dict[str, str]:
    """Loose spellings people type: case-insensitive, '_' or '.' for '-' ('Llama3-8B', 'llama3_8b')."""
    return {_norm(n): n for n in [*preset_names(), *closed_models()]}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(" ", "-")


def _is_path(ref: str) -> bool:
    if ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref:
        return True
    try:
        return Path(ref).is_file()
    except (OSError, ValueError):  # a name too long for a file name, or holding a NUL byte: not a file
        return False


@cache
def load_preset(name: str) -> ModelSpec:
    """A shipped preset by name. Closed models raise UnpublishedModelError."""
    canonical = name if name in _model_files() else _aliases().get(_norm(name))
    if canonical is None:
        raise did_you_mean(name, [*preset_names(), *closed_models()], what="preset", listing="llm-budget presets")
    if canonical in closed_models():
        m = closed_models()[canonical]
        raise UnpublishedModelError(
            f"{m.display_name} ({m.provider}) has no published architecture, so llm-budget will not guess its "
            f"parameters; known: context window {m.context_window:,} tokens, lecture price "
            f"${m.price_per_million_tokens_usd:g}/M tokens. Give the sizes yourself (--d-embed …) to estimate a look-alike."
        )
    path = _model_files()[canonical]
    spec = spec_from_mapping(_preset_fields(_load_yaml(path), path.name), path.name)
    if spec.name != canonical:
        raise SpecError(f"{path.name}: name '{spec.name}' must equal the file name '{canonical}'")
    return spec


PRESET_METADATA = ("name", "display_name", "family", "source", "published_params", "published_rounded", "notes")


def _preset_fields(data: Any, origin: str) -> Any:
    """A preset's ModelSpec fields: written out, or (`hf_config:`) the family's official config.json keys read by
    the same mapper as a user's config.json, with the preset's metadata on top."""
    if not isinstance(data, dict) or "hf_config" not in data:
        return data
    from llm_budget.model.hf import spec_fields_from_hf

    cfg = data["hf_config"]
    if not isinstance(cfg, dict):
        raise SpecError(f"{origin}: hf_config must be a mapping of config.json keys")
    extra = sorted(set(data) - {"hf_config", *PRESET_METADATA})
    if extra:
        raise SpecError(f"{origin}: unknown key '{extra[0]}' next to hf_config (allowed: {', '.join(PRESET_METADATA)})")
    fields = spec_fields_from_hf(cfg)
    fields.update({k: data[k] for k in PRESET_METADATA if k in data})
    return fields


def load_spec_file(path: str | Path) -> ModelSpec:
    """A user's own spec: YAML or JSON with ModelSpec fields, or a Hugging Face config.json."""
    from llm_budget.model.hf import read_hf_config

    p = Path(path)
    if p.suffix == ".json":
        cfg = read_hf_config(p)
        if "model_type" in cfg:
            return _spec_from_hf_config(cfg, str(p))
        return spec_from_mapping(cfg, str(p))
    return spec_from_mapping(_preset_fields(_load_yaml(p), str(p)), str(p))


def resolve(ref: str) -> ModelSpec:
    """A preset name, or a path to a YAML/JSON spec file (wherever a preset name is accepted)."""
    if _is_path(ref):
        return load_spec_file(ref)
    return load_preset(ref)


def load_hf_config(path: str | Path) -> ModelSpec:
    from llm_budget.model.hf import read_hf_config

    return _spec_from_hf_config(read_hf_config(path), str(path))


def _spec_from_hf_config(cfg: dict[str, Any], origin: str) -> ModelSpec:
    """A config.json's spec: its family's native mapper, else transformers' own class measured on the meta
    device (llm_budget/measured; needs torch and transformers, else a one-line error naming the install)."""
    from llm_budget.model.hf import UnsupportedModelType, spec_fields_from_hf

    try:
        fields = spec_fields_from_hf(cfg)
    except UnsupportedModelType as e:
        if not isinstance(e.model_type, str) or not e.model_type:
            raise  # no model_type, or not a name: nothing for transformers to look up
        from llm_budget.measured import spec_from_transformers

        return spec_from_transformers(cfg, origin)
    return spec_from_mapping(fields, origin)


def all_presets() -> list[ModelSpec]:
    return [load_preset(n) for n in preset_names()]
