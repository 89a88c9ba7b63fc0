"""The one reader of spec, preset and config files: every file llm-budget parses goes through here.

A file someone hands us may be anything, so reading it is bounded before it is parsed:

- only a regular file is read (a directory, FIFO, device such as /dev/zero or a socket is refused after
  a `stat`, before it is opened, so nothing blocks or reads forever); symlinks are followed, loops refused;
- at most MAX_FILE_BYTES (model configs are a few KB; the largest shipped file, gpus.yaml, ~60 KB);
- UTF-8 only (a UTF-8 byte-order mark is skipped): UTF-16, Latin-1 or binary get one line saying so;
- at most MAX_DEPTH levels of nesting (a spec is 1 level, a config.json 2-3, gpus.yaml 3), checked on the
  token stream before any parser recurses;
- numbers: integers of more than MAX_EXPONENT + 1 digits and non-finite floats (NaN, Infinity, 1e999) are
  refused while parsing, with the command line's wording ("must be at most 1e30"), so no huge value reaches
  int() or float arithmetic; ModelSpec then holds each size to units.MAX_QUANTITY.

YAML is read with libyaml's safe loader (pure-Python SafeLoader without it) and a core schema in the spirit
of YAML 1.2 instead of YAML 1.1's implicit coercions: `1:30` is the string "1:30", not 90 (sexagesimal);
`on`, `yes`, `off`, `no` are strings, only true/false are booleans; `017` is 17, not octal 15; `2024-01-01`
is a string, not a date; no merge keys. Anchors may be set, but aliases (`*name`) are refused on the event
stream before anything is built: a 1 KB file of nested aliases (a "billion laughs") expands to billions of
nodes, and specs have no use for them.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from llm_budget.errors import LLMBudgetError
from llm_budget.units import MAX_EXPONENT, MiB

MAX_FILE_BYTES = 4 * MiB
"""Largest spec, preset or config file read (about a thousand times a real config.json)."""
MAX_DEPTH = 32
"""Deepest nesting of lists and mappings in a file (real ones nest 1-3 levels)."""
_MAX_INT_DIGITS = MAX_EXPONENT + 1  # 10**30 has 31 digits; anything longer is over units.MAX_QUANTITY


def show_path(path: str | Path) -> str:
    """A path as one printable line (a file name may hold a newline or control characters)."""
    text = str(path)
    return text if text.isprintable() else ascii(text)


def _refuse(path: str | Path, problem: str) -> LLMBudgetError:
    return LLMBudgetError(f"{show_path(path)}: {problem}")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES; anything else is one-line LLMBudgetError."""
    limit = f"at most {MAX_FILE_BYTES // MiB} MiB"
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(path, f"is {_kind(st.st_mode)}, not a file")
        if st.st_size > MAX_FILE_BYTES:
            raise _refuse(path, f"{st.st_size:,} bytes is too large for a spec or config file ({limit})")
        # O_NONBLOCK: should the path have been swapped for a FIFO since the stat, open() still returns.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise _refuse(path, "is not a regular file")
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _refuse(path, "no such file") from None
    except OSError as e:
        raise _refuse(path, f"cannot read ({e.strerror or e})") from None
    except ValueError:  # an embedded NUL byte in the path
        raise _refuse(path, "cannot read (not a valid path)") from None
    if len(data) > MAX_FILE_BYTES:
        raise _refuse(path, f"too large for a spec or config file ({limit})")
    return data


def read_text(path: str | Path) -> str:
    """A file's text, which must be UTF-8 (a UTF-8 byte-order mark is skipped)."""
    data = read_bytes(path)
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    nul = data.find(b"\x00")
    if nul >= 0:  # valid UTF-8, but never in YAML or JSON text: UTF-16 or UTF-32 without a byte-order mark, or binary
        raise _refuse(path, f"not UTF-8 text (a NUL byte at offset {nul}: UTF-16 or binary?); save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        looks = ", a UTF-16 byte-order mark" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else ""
        raise _refuse(
            path, f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}{looks}); save it as UTF-8"
        ) from None


def _too_deep(path: str | Path, where: str = "") -> LLMBudgetError:
    return _refuse(f"{show_path(path)}{where}", f"nested deeper than {MAX_DEPTH} levels (the limit for these files)")


def _number_too_long(path: str | Path, digits: str, where: str = "") -> LLMBudgetError:
    n = len(digits.lstrip("+-"))
    shown = digits if n <= 20 else f"{digits[:12]}…"
    return _refuse(f"{show_path(path)}{where}", f"the number {shown} ({n:,} digits) must be at most 1e{MAX_EXPONENT}")


# -- JSON ---------------------------------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _json_depth_ok(text: str) -> bool:
    depth = 0
    for m in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        else:
            depth -= 1
    return True


def load_json(path: str | Path) -> Any:
    """Parse a JSON file within the limits above; syntax errors name file, line and column."""
    text = read_text(path)
    if not _json_depth_ok(text):
        raise _too_deep(path)

    def parse_int(s: str) -> int:
        if len(s.lstrip("-").lstrip("0")) > _MAX_INT_DIGITS:
            raise _number_too_long(path, s)
        return int(s)

    def parse_float(s: str) -> float:
        value = float(s)
        if not math.isfinite(value):
            raise _refuse(path, f"the number {s[:20]} must be finite and at most 1e{MAX_EXPONENT}")
        return value

    def parse_constant(s: str) -> float:
        raise _refuse(path, f"{s} is not a number JSON allows (numbers must be finite)")

    try:
        return json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant)
    except json.JSONDecodeError as e:
        raise _refuse(f"{show_path(path)}:{e.lineno}:{e.colno}", f"malformed JSON: {e.msg}") from None
    except RecursionError:  # pragma: no cover - _json_depth_ok refuses such files first
        raise _too_deep(path) from None


# -- YAML ---------------------------------------------------------------------------------------------------


def _loader() -> Any:
    """A safe loader class with the core schema described in the module docstring (built once)."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml
    from yaml.constructor import ConstructorError, SafeConstructor

    # libyaml's C loader when present: the pure-Python one costs ~10 ms per file at start-up.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class CoreLoader(base):  # type: ignore[misc,valid-type]
        yaml_implicit_resolvers: dict[Any, Any] = {}

    def add(tag: str, pattern: str, first: str) -> None:
        CoreLoader.add_implicit_resolver(tag, re.compile(pattern, re.VERBOSE), [*first])

    add("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
    add("tag:yaml.org,2002:int", r"^[-+]?[0-9][0-9_]*$", "-+0123456789")
    add(
        "tag:yaml.org,2002:float",
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)$""",
        "-+0123456789.",
    )
    CoreLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), [*"~nN", ""])

    def construct_int(loader: Any, node: Any) -> int:
        value = str(loader.construct_scalar(node))
        text = value.replace("_", "")
        if not re.fullmatch(r"[-+]?[0-9]+", text):
            raise ConstructorError(None, None, f"{value!r} is not a decimal integer", node.start_mark)
        if len(text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
            raise _number_too_long(loader.name, text, f":{node.start_mark.line + 1}:{node.start_mark.column + 1}")
        return int(text)

    def construct_float(loader: Any, node: Any) -> float:
        value = float(SafeConstructor.construct_yaml_float(loader, node))
        if not math.isfinite(value):
            raise ConstructorError(None, None, "numbers must be finite", node.start_mark)
        return value

    CoreLoader.add_constructor("tag:yaml.org,2002:int", construct_int)
    CoreLoader.add_constructor("tag:yaml.org,2002:float", construct_float)
    _LOADER = CoreLoader
    return CoreLoader


_LOADER: Any = None


def _check_events(text: str, loader: Any) -> None:
    """Depth and aliases, on libyaml's flat event stream (nothing built, nothing expanded yet)."""
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _DepthError(event.start_mark)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            raise _AliasError(event.start_mark, event.anchor)


class _DepthError(Exception):
    def __init__(self, mark: Any) -> None:
        self.mark = mark


class _AliasError(Exception):
    def __init__(self, mark: Any, anchor: str) -> None:
        self.mark = mark
        self.anchor = anchor


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file within the limits above; errors name file, line and column."""
    import yaml

    text = read_text(path)
    loader = _loader()
    name = show_path(path)

    def at(mark: Any) -> str:
        return f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name

    try:
        _check_events(text, loader)
        # name= so the constructors can name the file in their errors
        instance = loader(text)
        instance.name = name
        try:
            return instance.get_single_data()
        finally:
            instance.dispose()
    except _DepthError as e:
        raise _too_deep(name, at(e.mark).removeprefix(name)) from None
    except _AliasError as e:
        raise LLMBudgetError(
            f"{at(e.mark)}: YAML aliases (*{e.anchor}) are not allowed in these files: "
            "an alias can expand exponentially; write the values out"
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if "nesting depth" in problem:  # libyaml's own limit (1,000 levels) may trip first while scanning ahead
            raise _too_deep(name, at(mark).removeprefix(name)) from None
        raise LLMBudgetError(f"{at(mark)}: malformed YAML: {problem}") from None
    except RecursionError:  # pragma: no cover - _check_events refuses such files first
        raise _too_deep(name) from None
