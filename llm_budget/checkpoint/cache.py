"""The local Hugging Face cache, read offline and never written.

Layout (huggingface_hub/file_download.py, `hf_hub_download`; docs "Manage huggingface_hub cache-system"):
    <cache>/models--<org>--<name>/refs/<branch or tag>      one line: the commit hash it points at
    <cache>/models--<org>--<name>/snapshots/<commit>/...     the files of that commit (symlinks into blobs/)
Where the cache is (huggingface_hub/constants.py): HF_HUB_CACHE, else the legacy HUGGINGFACE_HUB_CACHE,
else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
"""

from __future__ import annotations

import os
from pathlib import Path

from llm_budget.checkpoint.names import COMMIT_HASH

_TRUE = {"1", "on", "yes", "true"}


def hub_cache_dir() -> Path:
    """The cache folder huggingface_hub would use (constants.py: HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.path.expanduser(os.environ[var]))
    if os.environ.get("HF_HOME"):
        return Path(os.path.expanduser(os.environ["HF_HOME"])) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def hub_offline() -> bool:
    """HF_HUB_OFFLINE (or the legacy TRANSFORMERS_OFFLINE) set to a true value (constants.py, _is_true)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def repo_folder(repo_id: str) -> Path:
    """<cache>/models--org--name (file_download.py, repo_folder_name: "/" becomes "--")."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    """The snapshot folder of `repo_id` at `revision` (a ref such as main, or a commit hash), or None.

    A ref is read from refs/<revision>; a 40-hex revision names its snapshot folder directly."""
    repo = repo_folder(repo_id)
    rev = revision or "main"
    commit: str | None = None
    ref = repo / "refs" / rev
    try:
        if ref.is_file():
            commit = ref.read_text(encoding="utf-8", errors="replace").strip()
        elif COMMIT_HASH.match(rev):
            commit = rev
    except OSError:
        return None
    if commit is None or not COMMIT_HASH.match(commit):
        return None
    snapshot = repo / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None
