"""What the user typed after `--model`: a local path, a shipped preset name, or a Hugging Face Hub ID.

Resolution order (docs/models.md):
    1. an existing path (a checkpoint folder, or a spec/config file): local files win, as in
       transformers' `from_pretrained` (a folder named like a repo is read, not looked up);
    2. a name without "/" is a preset (`llama3-8b`), as `--preset` takes it;
    3. `org/name` or `org/name@rev` is a Hub ID (rev: a branch, tag or 40-hex commit; default `main`).
A text that is none of these (a path that does not exist, a malformed ID) is a one-line error.
"""

from __future__ import annotations

import os
import re
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from llm_budget.errors import LLMBudgetError
from llm_budget.model.files import show_path

# Hub repo names: letters, digits, "-", "_", "." (huggingface_hub/utils/_validators.py, REPO_ID_REGEX),
# at most 96 characters per part; a revision is a branch, tag (may hold "/"), or commit hash.
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_-])?"
_HUB_ID = re.compile(rf"^(?P<repo>{_PART}/{_PART})(?:@(?P<rev>[A-Za-z0-9._/-]{{1,200}}))?$")
COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")
"""A full commit hash: the name of a snapshot folder in the cache (huggingface_hub/file_download.py)."""


class NameKind(str, Enum):
    path = "path"
    preset = "preset"
    hub = "hub"


class ModelName(BaseModel):
    """A parsed `--model` value."""

    model_config = ConfigDict(frozen=True)

    text: str
    kind: NameKind
    repo_id: str | None = None  # hub: "org/name"
    revision: str | None = None  # hub: the part after "@" (None: main)
    path: Path | None = None  # path: the expanded path

    @property
    def label(self) -> str:
        if self.kind is NameKind.hub:
            return f"{self.repo_id}@{self.revision}" if self.revision else str(self.repo_id)
        return self.text


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~", ".\\")) or text in (".", "..") or "\\" in text


def parse_model_name(text: str) -> ModelName:
    """Classify `text` by the resolution order above (nothing is read or downloaded here)."""
    if not text or not text.strip():
        raise LLMBudgetError("--model: empty name; give a preset (llama3-8b), a Hub ID (org/name[@rev]) or a folder")
    try:
        expanded = Path(os.path.expanduser(text))
        exists = expanded.exists()
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system
        expanded, exists = Path(), False
    if exists:
        return ModelName(text=text, kind=NameKind.path, path=expanded)
    if _looks_like_path(text) or text.endswith((".json", ".yaml", ".yml", ".safetensors")):
        raise LLMBudgetError(f"--model {show_path(text)}: no such file or folder")
    if "/" not in text:
        return ModelName(text=text, kind=NameKind.preset)
    m = _HUB_ID.match(text)
    if m is None or ".." in text or "--" in m.group("repo"):
        raise LLMBudgetError(
            f"--model {show_path(text)}: neither an existing folder nor a Hub ID (org/name or org/name@revision)"
        )
    rev = m.group("rev")
    if rev is not None and (rev.startswith("/") or rev.endswith("/") or "//" in rev):
        raise LLMBudgetError(f"--model {show_path(text)}: malformed revision '{rev}'")
    return ModelName(text=text, kind=NameKind.hub, repo_id=m.group("repo"), revision=rev)
