"""Find the inline comments GitHub refuses, by testing them in PENDING reviews deleted at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final, Protocol

from reviewer.core.anchoring import InlineComment
from reviewer.errors import GitHubError
from reviewer.github import payloads

MAX_PROBES: Final = 16


class Request(Protocol):
    """The client's REST call: the (headers, data) GitHub answered; raises GitHubError."""

    def __call__(
        self, verb: str, url: str, *, body: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], Any]: ...


Paginate = Callable[[str], Iterator[Any]]


class Prober:
    """Find the comments GitHub refuses, with PENDING reviews deleted right after."""

    def __init__(
        self,
        request: Request,
        paginate: Paginate,
        reviews_url: str,
        commit_id: str,
        budget: int,
    ):
        self._request, self._paginate, self._reviews_url = request, paginate, reviews_url
        self._commit_id = commit_id
        self._budget = budget
        self.used = 0

    def refused(
        self, comments: list[InlineComment], *, known_bad: bool = True
    ) -> list[InlineComment]:
        """The comments of `comments` GitHub refuses; `known_bad`: the set as a whole failed.

        Only a comment refused alone (or left untested when the budget ran out) is returned:
        the "known bad" shortcut skips probing a set, never a single comment.
        """
        if not comments:
            return []
        if len(comments) == 1:
            return [] if self._accepts(comments) else comments
        if not known_bad and self._accepts(comments):
            return []
        mid = len(comments) // 2
        left = self.refused(comments[:mid], known_bad=False)
        return left + self.refused(comments[mid:], known_bad=not left)

    def _accepts(self, comments: list[InlineComment]) -> bool:
        if self.used >= self._budget:
            return False
        self.used += 1
        base = self._reviews_url
        try:
            _, data = self._request(
                "POST", base, body=payloads.probe_body(self._commit_id, comments)
            )
        except GitHubError as exc:
            if exc.status_code == 422:
                return False
            if exc.retryable:  # it may exist: never leave a pending review behind
                delete_probes(self._request, self._paginate, base)
            raise
        self._request("DELETE", f"{base}/{data['id']}")
        return True


def delete_probes(request: Request, paginate: Paginate, reviews_url: str) -> int:
    """Delete our leftover probe reviews (GitHub lists pending reviews to their author only)."""
    stale = [
        r["id"]
        for r in paginate(reviews_url)
        if r.get("state") == "PENDING" and payloads.PROBE_MARKER in (r.get("body") or "")
    ]
    for review_id in stale:
        request("DELETE", f"{reviews_url}/{review_id}")
    return len(stale)
