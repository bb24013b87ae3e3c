"""Tests for reviewer.github.publish: posting one review, with recorded request callables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reviewer.core.anchoring import InlineComment, ReviewDraft
from reviewer.errors import GitHubError
from reviewer.github import payloads
from reviewer.github.publish import ReviewPublisher
from tests.fakes.github_api import MARKER_KEY, inline_comment

URL = "/repos/octo/app/pulls/7/reviews"
HEAD = "a" * 40


class FakeReviews:
    """Records every call; a POST fails with the next of `failures`, else creates a review."""

    def __init__(self, failures: tuple[GitHubError, ...] = (), bad: frozenset[int] = frozenset()):
        self.failures, self.bad = list(failures), bad
        self.created: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        self.comments: list[str] = []
        self.sleeps: list[float] = []

    def request(
        self, verb: str, url: str, *, body: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], Any]:
        self.calls.append((verb, url))
        if verb != "POST":
            return {}, None
        assert body is not None
        if any(c["line"] in self.bad for c in body.get("comments") or ()):
            raise GitHubError("422 Unprocessable Entity", status_code=422)
        review = {
            "id": 100 + len(self.calls),
            "commit_id": HEAD,
            "user": {"login": "reviewer-bot"},
            **body,
        }
        if body["body"] != payloads.PROBE_MARKER:
            self.created.append(review)
        if self.failures:  # GitHub created it, but the answer was lost
            raise self.failures.pop(0)
        return {}, {**review, "html_url": f"https://github.test/r/{review['id']}"}

    def paginate(self, url: str) -> Iterator[Any]:
        self.calls.append(("LIST", url))
        yield from self.created

    def publisher(self) -> ReviewPublisher:
        return ReviewPublisher(
            self.request,
            self.paginate,
            self.sleeps.append,
            URL,
            self.comments.append,
            16,
            bot_login=lambda: "reviewer-bot",
            marker_key=MARKER_KEY,
        )


def draft(*lines: int, followups: tuple[str, ...] = ()) -> ReviewDraft:
    comments: tuple[InlineComment, ...] = tuple(inline_comment("src/app.py", n) for n in lines)
    return ReviewDraft(commit_id=HEAD, body="Findings.", comments=comments, followups=followups)


def test_one_post_then_the_followups() -> None:
    fake = FakeReviews()

    result = fake.publisher().publish(draft(1, followups=("A", "B")))

    assert fake.calls == [("POST", URL)]
    assert fake.comments == ["A", "B"]
    assert result.overflow_comments == 2 and not result.reused and len(result.posted) == 1


def test_an_ambiguous_failure_finds_the_review_instead_of_posting_again() -> None:
    fake = FakeReviews(failures=(GitHubError("502", status_code=502, retryable=True),))

    result = fake.publisher().publish(draft(1))

    assert fake.calls == [("POST", URL), ("LIST", URL)]
    assert result.reused and result.review_id == fake.created[0]["id"]
    assert fake.sleeps == [3.0]


def test_a_refused_comment_moves_to_the_body() -> None:
    fake = FakeReviews(bad=frozenset({2}))

    result = fake.publisher().publish(draft(1, 2))

    assert [c.line for c in result.posted] == [1]
    assert [c.line for c in result.moved_to_body] == [2]
    assert result.probes > 0 and len(fake.created) == 1


def test_a_non_retryable_error_is_raised() -> None:
    fake = FakeReviews(failures=(GitHubError("403", status_code=403),))
    with pytest.raises(GitHubError):
        fake.publisher().publish(draft(1))
    assert fake.calls == [("POST", URL)]


def test_find_matches_the_commit_and_the_key() -> None:
    fake = FakeReviews()
    d = ReviewDraft(commit_id=HEAD, body="x", comments=(), key="delivery-1")
    fake.publisher().publish(d)

    publisher, key = fake.publisher(), payloads.delivery_key("delivery-1")
    assert publisher.find(key=key, commit_id=HEAD) is not None
    assert publisher.find(key=payloads.delivery_key("delivery-2"), commit_id=HEAD) is None
    assert publisher.find(key=key, commit_id="b" * 40) is None


def test_find_trusts_only_the_bots_review_under_a_mac_that_verifies() -> None:
    fake = FakeReviews()
    key = payloads.delivery_key("delivery-1")
    for login, marker in (
        ("octocat", payloads.review_marker(key, MARKER_KEY)),  # a copy, by someone else
        ("reviewer-bot", f"<!-- reviewer:review={key} -->"),  # no MAC (an older version)
        ("reviewer-bot", payloads.review_marker(key, b"another key")),
    ):
        fake.created.append({"id": 1, "commit_id": HEAD, "user": {"login": login}, "body": marker})
    assert fake.publisher().find(key=key, commit_id=HEAD) is None
