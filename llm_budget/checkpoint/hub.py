"""The optional Hub path: config.json, the safetensors index and each shard's header, never the weights.

Used only when a Hub ID is not in the local cache, `huggingface_hub` is installed (the `hub` extra) and
HF_HUB_OFFLINE is not set. Files come from `<endpoint>/<repo>/resolve/<revision>/<file>` (huggingface_hub
file_download.py, hf_hub_url; HF_ENDPOINT overrides the endpoint). A header is read with two HTTP range
requests (RFC 9110 §14): bytes 0-7 (its length N), then bytes 8..8+N-1. Every body is streamed and the
connection closed once the bytes needed have arrived, so a server that ignores Range still sends no more
than that. Nothing is written: not to the user's cache, not to disk (the caller keeps config.json in a
temporary folder only to parse it with the one config reader).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llm_budget.checkpoint.index import INDEX_FILE, SINGLE_FILE, check_against_index, weight_map
from llm_budget.checkpoint.safetensors import SafetensorsHeader, header_length, parse_header
from llm_budget.errors import LLMBudgetError

MAX_JSON_BYTES = 64 * 2**20  # config.json is KBs; an index is ~100 bytes a tensor (DeepSeek-V3: ~9 MB)
TIMEOUT_S = 20.0
PARALLEL = 8


class _Missing(Exception):
    """The file is not in the repository (HTTP 404)."""


def endpoint() -> str:
    """HF_ENDPOINT at call time (huggingface_hub reads it once, at import), else huggingface_hub's default."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


@contextmanager
def _stream(url: str, headers: dict[str, str]) -> Iterator[tuple[int, Any, Iterator[bytes]]]:
    """(status, headers, body chunks) of a streamed GET through huggingface_hub's session (its proxies, its
    user agent): an httpx client from huggingface_hub 1.0 on, a requests session before."""
    from huggingface_hub import get_session

    session: Any = get_session()
    if hasattr(session, "stream"):  # httpx
        with session.stream("GET", url, headers=headers, timeout=TIMEOUT_S, follow_redirects=True) as r:
            yield r.status_code, r.headers, r.iter_bytes()
    else:  # requests
        r = session.get(url, headers=headers, timeout=TIMEOUT_S, stream=True, allow_redirects=True)
        try:
            yield r.status_code, r.headers, r.iter_content(chunk_size=65536)
        finally:
            r.close()


def _get(repo_id: str, revision: str, filename: str, first: int, last: int | None) -> tuple[bytes, int | None]:
    """Bytes first..last (inclusive; None: to the end, at most MAX_JSON_BYTES) and the file's total size."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint())
    want = (last - first + 1) if last is not None else MAX_JSON_BYTES + 1
    headers = build_hf_headers()
    headers["Range"] = f"bytes={first}-{last if last is not None else ''}"
    data = bytearray()
    with _stream(url, headers) as (status, response_headers, chunks):
        if status == 404:
            raise _Missing(filename)
        if status in (401, 403):
            raise LLMBudgetError(
                f"{repo_id}: {filename} needs access (a gated or private repository): accept its terms and log in "
                "(`hf auth login`) or set HF_TOKEN"
            )
        if status not in (200, 206):
            raise LLMBudgetError(f"{repo_id}: {filename}: HTTP {status} from {endpoint()}")
        skip = first if status == 200 else 0  # the server ignored Range: drop the leading bytes ourselves
        for chunk in chunks:
            data += chunk
            if len(data) >= skip + want:
                break
        total = _total_size(response_headers.get("Content-Range"), response_headers.get("Content-Length"), status)
    data = data[skip : skip + want]
    if last is None and len(data) > MAX_JSON_BYTES:
        raise LLMBudgetError(f"{repo_id}: {filename} is over {MAX_JSON_BYTES // 2**20} MiB, too large for a JSON file")
    return bytes(data), total


def _total_size(content_range: str | None, content_length: str | None, status: int) -> int | None:
    m = re.match(r"bytes \d+-\d+/(\d+)", content_range or "")
    if m:
        return int(m.group(1))
    return int(content_length) if status == 200 and content_length and content_length.isdigit() else None


def _json(repo_id: str, revision: str, filename: str) -> Any:
    raw, _ = _get(repo_id, revision, filename, 0, None)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise LLMBudgetError(f"{repo_id}: {filename} from the Hub is not valid JSON") from None


def _remote_header(repo_id: str, revision: str, filename: str) -> SafetensorsHeader:
    origin = f"{repo_id}@{revision}/{filename}"
    first, size = _get(repo_id, revision, filename, 0, 7)
    n = header_length(first, origin, file_size=size)
    raw, _ = _get(repo_id, revision, filename, 8, 8 + n - 1)
    if len(raw) < n:
        raise LLMBudgetError(f"{origin}: truncated safetensors header ({len(raw):,} of {n:,} bytes)")
    return parse_header(raw, filename, origin=origin, data_size=None if size is None else size - 8 - n)


def _headers(repo_id: str, rev: str, shards: list[str], *, indexed: bool) -> list[SafetensorsHeader]:
    """Every shard's header, PARALLEL requests at a time (a 163-shard model needs 326 small range reads)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(shard: str) -> SafetensorsHeader | None:
        try:
            return _remote_header(repo_id, rev, shard)
        except _Missing:
            if indexed:
                raise LLMBudgetError(f"{repo_id}@{rev}: {INDEX_FILE} names shard {shard}, missing on the Hub") from None
            return None  # no model.safetensors: a repository without safetensors weights

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return [h for h in pool.map(one, shards) if h is not None]


def fetch_checkpoint(repo_id: str, revision: str | None) -> tuple[dict[str, Any], list[SafetensorsHeader]]:
    """config.json and every shard's header of a Hub repository (network errors: one line)."""
    rev = revision or "main"
    try:
        config = _json(repo_id, rev, "config.json")
        if not isinstance(config, dict):
            raise LLMBudgetError(f"{repo_id}: config.json is not a JSON object")
        if "quantization_config" not in config:  # older GPTQ repositories: AutoGPTQ's quantize_config.json
            try:
                legacy = _json(repo_id, rev, "quantize_config.json")
                if isinstance(legacy, dict):
                    config["quantization_config"] = {"quant_method": "gptq", **legacy}
            except _Missing:
                pass
        try:
            wm: dict[str, str] | None = weight_map(_json(repo_id, rev, INDEX_FILE), f"{repo_id}/{INDEX_FILE}")
            shards = sorted(set(wm.values())) if wm else []
        except _Missing:
            wm, shards = None, [SINGLE_FILE]
        headers = _headers(repo_id, rev, shards, indexed=wm is not None)
        check_against_index(headers, wm, f"{repo_id}@{rev}/{INDEX_FILE}")
        return config, headers
    except _Missing as e:
        raise LLMBudgetError(f"{repo_id}@{rev}: no {e} on {endpoint()} (is the name right?)") from None
    except LLMBudgetError:
        raise
    except Exception as e:  # the transport's errors (no network, DNS, TLS, timeouts): one line
        reason = " ".join(str(e).split())[:160] or type(e).__name__
        raise LLMBudgetError(f"{repo_id}@{rev}: could not reach {endpoint()} ({reason})") from None
