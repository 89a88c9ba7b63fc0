"""The base of every compute result: an immutable pydantic model (results are values, never edited)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)
