"""Run the review use case the way an entry point does: services opened once from settings."""

from __future__ import annotations

from typing import Any

from reviewer.model import ProgressFn, ReviewRequest, ReviewResult
from reviewer.review.pipeline import run_review
from reviewer.services import open_services
from reviewer.settings import Settings


def review_with(
    request: ReviewRequest,
    settings: Settings,
    *,
    progress: ProgressFn | None = None,
    **clients: Any,
) -> ReviewResult:
    """`run_review` with services opened from `settings` (and any clients handed in)."""
    with open_services(settings, **clients) as services:
        return run_review(request, services, progress=progress)
