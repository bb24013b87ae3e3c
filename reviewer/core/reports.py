"""What a review reports per file and per chunk: plain data for summaries and outputs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileReport:
    path: str
    status: str
    reviewed: bool
    reason: str | None
    added: int
    removed: int


@dataclass(frozen=True)
class ChunkReport:
    index: int
    files: tuple[str, ...]
    tokens: int  # estimated input tokens of the call, shared prefix included
    status: str = "planned"  # planned | ok | refused | truncated | error | skipped
    stop_reason: str | None = None
    error: str | None = None
    refusal_category: str | None = None  # stop_details.category of a refused chunk
