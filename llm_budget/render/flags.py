"""Settings -> the command-line options that make them: the one place a calculator's structured change
(`{"precision": "nf4", "lora_rank": 16}`) becomes text a user can paste (`--precision nf4 --lora-rank 16`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Union

Setting = Union[bool, int, float, str]


def as_flags(settings: Mapping[str, Setting]) -> str:
    """`{"lora_rank": 16, "checkpointing": "full"}` -> `--lora-rank 16 --checkpointing full`; a true bool is a bare flag."""
    parts = []
    for name, value in settings.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif value is False:
            parts.append("--no-" + name.replace("_", "-"))
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)
