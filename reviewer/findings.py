"""The finding a model reports, its JSON schema, and validation that drops bad items alone."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    NIT = "nit"

    @property
    def rank(self) -> int:
        """0 for the most severe; sort ascending to put critical first."""
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank <= other.rank


_RANK = {Severity.CRITICAL: 0, Severity.MAJOR: 1, Severity.MINOR: 2, Severity.NIT: 3}

Category = Literal[
    "bug", "security", "performance", "concurrency", "error-handling", "api-misuse",
    "maintainability", "tests", "docs", "style",
]  # fmt: skip


class Finding(BaseModel):
    """One problem the model found, cited by the line numbers rendered in the prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1)
    line: int = Field(ge=1)
    start_line: int | None = Field(default=None, ge=1)
    side: Literal["RIGHT", "LEFT"] = "RIGHT"
    severity: Severity
    category: Category
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1)
    suggestion: str | None = None
