"""Framework profiles: the defaults a training framework really uses, each read from its code.

presets/frameworks/<name>.yaml holds one profile: `settings` (always), `lora` (when adapters are trained: the
user asks for LoRA, or the profile's recipe is lora/qlora) and `quantized` (a 4/8-bit base). Every value names
the file it was read from. apply_profile fills the options the user did not give; explicit flags win.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, ValidationError

from llm_budget.errors import LLMBudgetError, did_you_mean

FRAMEWORKS = ("hf-trainer", "peft", "litgpt", "torchtune", "torchtitan", "axolotl", "deepspeed")
"""The profiles shipped in presets/frameworks/ (tests/test_frameworks.py checks each against its source)."""

OPTIONS = (
    "recipe", "convention", "optimizer", "optimizer_impl", "checkpointing", "loss", "lora_rank", "lora_targets",
    "lora_dropout", "adapter_precision", "double_quant", "paged_optimizer",
)  # fmt: skip
"""The options a profile may set (TrainSetup's names; the CLI's with dashes)."""

Value = Union[bool, int, float, str]


class ProfileValue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Value
    source: str  # the file (and line) the value was read from


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    settings: dict[str, ProfileValue] = {}
    lora: dict[str, ProfileValue] = {}
    quantized: dict[str, ProfileValue] = {}


class FrameworkSetting(BaseModel):
    """One option a profile set: its value and the code it was read from."""

    model_config = ConfigDict(frozen=True)

    option: str  # the CLI's name, e.g. --lora-targets
    value: Value
    source: str


class FrameworkApplied(BaseModel):
    """What --framework set (the options the user gave are not in it)."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    settings: list[FrameworkSetting]


def _profiles_dir() -> Path:
    from llm_budget.model.presets import presets_dir

    return presets_dir() / "frameworks"


@cache
def load_profile(name: str) -> Profile:
    """The profile of a framework; an unknown name is a one-line error."""
    if name not in FRAMEWORKS:
        raise did_you_mean(name, list(FRAMEWORKS), what="framework")
    from llm_budget.model.files import load_yaml

    try:
        profile = Profile.model_validate(load_yaml(_profiles_dir() / f"{name}.yaml"))
    except ValidationError as e:
        raise LLMBudgetError(f"presets/frameworks/{name}.yaml: {e.errors()[0]['msg']}") from None
    for section in (profile.settings, profile.lora, profile.quantized):
        unknown = set(section) - set(OPTIONS)
        if unknown:
            raise LLMBudgetError(f"presets/frameworks/{name}.yaml sets unknown options: {', '.join(sorted(unknown))}")
    return profile


def apply_profile(name: str, given: dict[str, Any], *, quantized: bool) -> tuple[dict[str, Any], FrameworkApplied]:
    """`given`: option -> value, None where the user gave nothing. Fills those from the profile (settings, then
    lora when adapters are trained, then quantized for a 4/8-bit base) and says what it set."""
    profile = load_profile(name)
    chosen: dict[str, ProfileValue] = dict(profile.settings)
    recipe = given.get("recipe") or (chosen["recipe"].value if "recipe" in chosen else None)
    wants_lora = (
        given.get("lora_rank") is not None or quantized or str(getattr(recipe, "value", recipe)) in ("lora", "qlora")
    )
    if wants_lora:
        chosen.update(profile.lora)
    if quantized:
        chosen.update(profile.quantized)
    out = dict(given)
    applied = []
    for option, pv in chosen.items():
        if given.get(option) is None:
            out[option] = pv.value
            applied.append(FrameworkSetting(option="--" + option.replace("_", "-"), value=pv.value, source=pv.source))
    return out, FrameworkApplied(name=name, title=profile.title, settings=applied)
