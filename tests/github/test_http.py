"""Tests for reviewer.github.http: rate-limit waits and user-facing errors from refusals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from reviewer.github.http import (
    SECONDARY_RATE_WAIT_S,
    error_message,
    next_link,
    rate_limit_wait,
    wrap,
)


@dataclass
class Refused:
    status: int
    data: Any = None
    headers: dict[str, str] | None = None
    message: str | None = None


def never(message: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("refusal", "wait"),
    [
        (Refused(403, headers={"Retry-After": "7"}), 7.0),
        (Refused(429, headers={"retry-after": "0"}), 1.0),
        (Refused(403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"}), 31.0),
        (Refused(429), SECONDARY_RATE_WAIT_S),
        (Refused(403, {"message": "You have exceeded a secondary rate limit"}), 60.0),
        (Refused(403, {"message": "Resource not accessible by integration"}), None),
        (Refused(422, headers={"retry-after": "7"}), None),
    ],
)
def test_rate_limit_wait(refusal: Refused, wait: float | None) -> None:
    assert rate_limit_wait(refusal, lambda: 1000.0, never) == wait


def test_a_rate_limit_message_without_the_words_is_recognised_by_the_predicate() -> None:
    refusal = Refused(403, {"message": "Please wait a few minutes before you try again."})
    assert rate_limit_wait(refusal, lambda: 0.0, never) is None
    assert rate_limit_wait(refusal, lambda: 0.0, lambda m: "wait" in m) == SECONDARY_RATE_WAIT_S


def test_wrap_keeps_status_message_and_details_but_not_the_query() -> None:
    refusal = Refused(
        422,
        {"message": "Unprocessable Entity", "errors": ["Line could not be resolved", {"x": 1}]},
    )
    error = wrap(refusal, "POST", "/repos/o/r/pulls/7/reviews?token=secret")

    assert error.message == (
        "GitHub POST /repos/o/r/pulls/7/reviews failed: 422 Unprocessable Entity; "
        "Line could not be resolved; {'x': 1}"
    )
    assert (error.status_code, error.retryable) == (422, False)
    assert wrap(Refused(502), "GET", "/x").retryable
    assert error_message(Refused(404, "not json", message="Not Found")) == "Not Found"


def test_next_link() -> None:
    header = (
        '<https://api.github.com/x?page=2>; rel="next", '
        '<https://api.github.com/x?page=9>; rel="last"'
    )
    assert next_link(header) == "https://api.github.com/x?page=2"
    assert next_link('<https://api.github.com/x?page=1>; rel="prev"') is None
    assert next_link(None) is None
