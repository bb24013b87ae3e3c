"""The one place that wires the stages: request → diff → chunks → Claude → anchors → review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reviewer.results import (
    ChunkReport,
    FileReport,
    ReviewRequest,
    ReviewResult,
    Status,
    Trigger,
)
from reviewer.settings import Settings

__all__ = [
    "ChunkReport",
    "FileReport",
    "ReviewRequest",
    "ReviewResult",
    "Status",
    "Trigger",
    "run_review",
]

ProgressFn = Callable[[str], None]


def run_review(
    request: ReviewRequest,
    settings: Settings,
    *,
    github: Any | None = None,
    anthropic_client: Any | None = None,
    ledger: Any | None = None,
    progress: ProgressFn | None = None,
) -> ReviewResult:
    """Review what `request` names and return what happened; post to GitHub unless dry-run.

    Clients default to ones built from `settings`. Transient failures (GitHub 5xx, Anthropic
    overload after the SDK's own retries) raise a ReviewerError whose `retryable` is true,
    before anything was posted; everything else ends in a ReviewResult.
    """
    raise NotImplementedError
