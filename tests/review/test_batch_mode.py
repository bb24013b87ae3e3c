"""Which reviews go as a Message Batch, and the job key a rerun finds again."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from reviewer.config.repo import load_repo_config
from reviewer.core.diff import parse_diff
from reviewer.model import ReviewRequest, ReviewTarget
from reviewer.review.batch_mode import batch_key, choose_mode, request_from_json, request_json
from reviewer.review.fetch import hours_since
from reviewer.review.pipeline import plan_review
from reviewer.services import Services
from reviewer.settings import Settings
from tests.paths import SAMPLE_DIFF

AUTO = "review:\n  mode: auto\n  batch_min_lines: 5000\n  batch_min_age_hours: 24\n"


def _mode(
    config: str = AUTO,
    *,
    settings: Settings | None = None,
    request: ReviewRequest | None = None,
    **target: object,
) -> str:
    settings = settings or Settings.from_env({})
    request = request or ReviewRequest("octo/app", pr_number=1, trigger="auto")
    base = ReviewTarget(
        repo="octo/app",
        diff=parse_diff(SAMPLE_DIFF.read_text()),
        pr_number=1,
        repo_config=load_repo_config(config, source="reviewer.yml"),
    )
    full = dataclasses.replace(base, **target)  # type: ignore[arg-type]
    plan = plan_review(request, Services(settings), full)
    return choose_mode(request, settings, plan, full)


def test_realtime_is_the_default_and_batch_when_the_repository_says_so() -> None:
    assert _mode("") == "realtime"
    assert _mode("review:\n  mode: batch\n") == "batch"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({}, "realtime"),
        ({"draft": True}, "batch"),
        ({"rereview": True, "age_hours": 30.0}, "batch"),
        ({"rereview": True, "age_hours": 2.0}, "realtime"),
        ({"rereview": False, "age_hours": 30.0}, "realtime"),
    ],
)
def test_auto_batches_what_nobody_waits_for(target: dict[str, object], expected: str) -> None:
    assert _mode(**target) == expected


def test_auto_batches_a_large_pull_request() -> None:
    assert _mode(AUTO.replace("5000", "3")) == "batch"


def test_auto_answers_a_command_in_real_time() -> None:
    command = ReviewRequest("octo/app", pr_number=1, trigger="command")
    assert _mode(request=command, draft=True) == "realtime"


def test_the_operator_and_the_request_override_the_repository() -> None:
    forced = Settings.from_env({"REVIEWER_REVIEW_MODE": "realtime"})
    assert _mode("review:\n  mode: batch\n", settings=forced) == "realtime"
    asked = ReviewRequest("octo/app", pr_number=1, mode="batch")
    assert _mode("", settings=forced, request=asked) == "batch"


def test_the_key_is_stable_per_delivery_and_the_request_round_trips() -> None:
    request = ReviewRequest("octo/app", pr_number=3, delivery_id="d-1", trigger="auto")
    assert batch_key(request) == batch_key(dataclasses.replace(request, post=False))
    assert batch_key(request) != batch_key(dataclasses.replace(request, delivery_id="d-2"))
    assert len(batch_key(request)) + len("-c9999-h010-r2") <= 64
    assert request_from_json(request_json(request)) == request


def test_hours_since_reads_api_timestamps() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert hours_since("2026-11-30T00:00:00Z", now) == 12.0
    assert hours_since("", now) is None
