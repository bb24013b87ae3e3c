"""Tests for reviewer.github.probe: bisection over PENDING reviews, with a recording fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reviewer.core.anchoring import InlineComment
from reviewer.errors import GitHubError
from reviewer.github import payloads
from reviewer.github.probe import Prober, delete_probes
from tests.fakes.github_api import inline_comment

URL = "/repos/octo/app/pulls/7/reviews"


class FakeReviews:
    """Records every call; refuses a probe that holds a comment on a line in `bad`."""

    def __init__(
        self, bad: frozenset[int] = frozenset(), listed: tuple[dict[str, Any], ...] = ()
    ) -> None:
        self.bad, self.listed = bad, listed
        self.calls: list[tuple[str, str]] = []

    def request(
        self, verb: str, url: str, *, body: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], Any]:
        self.calls.append((verb, url))
        if verb == "POST":
            assert body is not None and body["body"] == payloads.PROBE_MARKER
            if any(c["line"] in self.bad for c in body["comments"]):
                raise GitHubError("422 Unprocessable Entity", status_code=422)
            return {}, {"id": 900 + len(self.calls)}
        return {}, None

    def paginate(self, url: str) -> Iterator[Any]:
        self.calls.append(("LIST", url))
        yield from self.listed


def comments(*lines: int) -> list[InlineComment]:
    return [inline_comment("src/app.py", n) for n in lines]


def test_only_the_comment_refused_alone_is_returned() -> None:
    fake = FakeReviews(bad=frozenset({3}))
    prober = Prober(fake.request, fake.paginate, URL, "a" * 40, budget=16)

    refused = prober.refused(comments(1, 2, 3, 4))

    assert [c.line for c in refused] == [3]
    posts = [c for c in fake.calls if c[0] == "POST"]
    deletes = [c for c in fake.calls if c[0] == "DELETE"]
    assert len(posts) == prober.used and len(deletes) == prober.used - 1  # the refused one
    assert all(url.startswith(f"{URL}/") for _, url in deletes)


def test_an_exhausted_budget_refuses_what_is_left_untested() -> None:
    fake = FakeReviews(bad=frozenset({1}))
    prober = Prober(fake.request, fake.paginate, URL, "a" * 40, budget=1)

    refused = prober.refused(comments(1, 2))

    assert [c.line for c in refused] == [1, 2] and prober.used == 1


def test_an_ambiguous_probe_failure_deletes_our_pending_reviews() -> None:
    listed = (
        {"id": 5, "state": "PENDING", "body": payloads.PROBE_MARKER},
        {"id": 6, "state": "PENDING", "body": "someone's draft"},
        {"id": 7, "state": "COMMENTED", "body": payloads.PROBE_MARKER},
    )
    fake = FakeReviews(listed=listed)

    def failing(verb: str, url: str, *, body: dict[str, Any] | None = None) -> Any:
        if verb == "POST":
            raise GitHubError("502", status_code=502, retryable=True)
        return fake.request(verb, url, body=body)

    prober = Prober(failing, fake.paginate, URL, "a" * 40, budget=16)
    with pytest.raises(GitHubError):
        prober.refused(comments(1))

    assert fake.calls == [("LIST", URL), ("DELETE", f"{URL}/5")]


def test_delete_probes_counts_what_it_deleted() -> None:
    fake = FakeReviews(listed=({"id": 5, "state": "PENDING", "body": payloads.PROBE_MARKER},))
    assert delete_probes(fake.request, fake.paginate, URL) == 1
    assert delete_probes(FakeReviews().request, FakeReviews().paginate, URL) == 0
