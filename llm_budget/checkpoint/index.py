"""Which .safetensors files make up a checkpoint folder, and their headers.

A sharded checkpoint names its shards in model.safetensors.index.json (`weight_map`: tensor -> shard file,
transformers/modeling_utils.py, `save_pretrained` with max_shard_size); an unsharded one is model.safetensors.
A shard the index names but the folder lacks, or a tensor the index places in a shard whose header lacks it,
is a one-line error: the checkpoint is incomplete, and its table would be wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llm_budget.checkpoint.safetensors import SafetensorsHeader, read_header
from llm_budget.errors import LLMBudgetError
from llm_budget.model.files import show_path

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
MAX_INDEX_BYTES = 64 * 2**20
"""Largest index read: one line per tensor, so a 90,000-tensor model (DeepSeek-V3) needs ~9 MB, over the
4 MiB that spec and config files get (model/files.py)."""


def parse_index(raw: bytes, origin: str) -> Any:
    """An index's JSON (UTF-8, at most MAX_INDEX_BYTES); errors are one line naming the file."""
    if len(raw) > MAX_INDEX_BYTES:
        raise LLMBudgetError(f"{show_path(origin)}: over {MAX_INDEX_BYTES // 2**20} MiB, too large for a shard index")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise LLMBudgetError(f"{show_path(origin)}: not a JSON shard index (malformed or not UTF-8)") from None


def read_index(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_INDEX_BYTES:
            raise LLMBudgetError(f"{show_path(path)}: {size:,} bytes, too large for a shard index")
        return parse_index(path.read_bytes(), str(path))
    except OSError as e:
        raise LLMBudgetError(f"{show_path(path)}: cannot read ({e.strerror or e})") from None


def weight_map(index: Any, origin: str) -> dict[str, str]:
    """The index's weight_map, checked: tensor name -> shard file name (a plain name, no folders)."""
    wm = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(wm, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in wm.items()):
        raise LLMBudgetError(f"{show_path(origin)}: no weight_map of tensor names to shard files")
    for shard in set(wm.values()):
        if "/" in shard or "\\" in shard or shard in ("", ".", "..") or not shard.endswith(".safetensors"):
            raise LLMBudgetError(
                f"{show_path(origin)}: weight_map names {shard!r}, not a .safetensors file in the folder"
            )
    return wm


def shard_names(folder: Path) -> tuple[list[str], dict[str, str] | None]:
    """The safetensors files of a folder (sorted) and the index's weight_map when there is one."""
    index = folder / INDEX_FILE
    if index.is_file():
        wm = weight_map(read_index(index), str(index))
        return sorted(set(wm.values())), wm
    if (folder / SINGLE_FILE).is_file():
        return [SINGLE_FILE], None
    return sorted(p.name for p in folder.glob("*.safetensors") if p.is_file()), None


def check_against_index(headers: list[SafetensorsHeader], wm: dict[str, str] | None, origin: str) -> None:
    """Every tensor the index places in a shard is in that shard's header."""
    if wm is None:
        return
    present = {(h.file, t.name) for h in headers for t in h.tensors}
    for tensor, shard in wm.items():
        if (shard, tensor) not in present:
            shown = tensor if len(tensor) <= 80 else tensor[:77] + "…"
            raise LLMBudgetError(f"{show_path(origin)}: the index places {shown!r} in {shard}, whose header lacks it")


def read_folder_headers(folder: Path) -> list[SafetensorsHeader]:
    """Headers of every shard of a local checkpoint folder ([] when it holds no .safetensors)."""
    names, wm = shard_names(folder)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise LLMBudgetError(
            f"{show_path(folder / INDEX_FILE)}: names shard {missing[0]}{more}, missing from {show_path(folder)} "
            "(an incomplete download?)"
        )
    headers = [read_header(folder / n) for n in names]
    check_against_index(headers, wm, str(folder / INDEX_FILE))
    return headers
