"""Errors a user can cause, and how the CLI reports them.

Every exception here is a user error: the CLI prints its message as one line on
stderr and exits with code 2, never a traceback. Anything else is a bug.
"""

from __future__ import annotations


class LLMBudgetError(Exception):
    """Base class: bad input from the user (a value, a name, a file)."""


class UnknownNameError(LLMBudgetError):
    """A preset, GPU, precision … that does not exist; the message suggests close names."""


class SpecError(LLMBudgetError):
    """A model spec that is invalid or cannot be counted (names the field and value)."""


class UnpublishedModelError(LLMBudgetError):
    """A closed model whose architecture was never published."""


def did_you_mean(
    name: str, known: list[str], *, what: str, listing: str | None = None, limit: int = 3
) -> UnknownNameError:
    """An UnknownNameError naming the closest known names (difflib ratio)."""
    import difflib

    close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=limit, cutoff=0.5)
    lookup = {k.lower(): k for k in known}
    close = [lookup[c] for c in close]
    # Names that contain what was typed (e.g. "llama3" -> "llama3-8b") help too.
    for k in known:
        if name.lower() in k.lower() and k not in close and len(close) < limit:
            close.append(k)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    where = f" (list them with `{listing}`)" if listing else f" (known: {', '.join(known)})"
    return UnknownNameError(f"unknown {what} '{name}'{hint}{where}")
