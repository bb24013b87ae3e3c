"""The "Claude review" check run of a head commit: find it, start it, complete it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Protocol

from reviewer.errors import GitHubError
from reviewer.github import check_payloads
from reviewer.github.http import next_link
from reviewer.model import CheckRunReport

log = logging.getLogger(__name__)


class Request(Protocol):
    """The client's REST call: the (headers, data) GitHub answered; raises GitHubError."""

    def __call__(
        self,
        verb: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], Any]: ...


class CheckRunPublisher:
    """Check runs of one repository through the client's REST calls (GitHub Apps only: a
    personal token is refused with 403, "You must authenticate via a GitHub App")."""

    def __init__(self, request: Request, repo_url: str) -> None:
        self._request = request
        self._repo_url = repo_url  # /repos/{owner}/{name}

    def find(self, *, head_sha: str, key: str | None) -> int | None:
        """The run an earlier attempt of this review (same external id) left unfinished.

        A completed run is not reused: GitHub does not take a completed run back to
        `in_progress`, so a retry after one starts a new run, which then shows as the latest.
        """
        wanted = check_payloads.external_id(key, head_sha)
        for run in self._runs(head_sha):
            if run.get("external_id") == wanted and run.get("status") != "completed":
                return int(run["id"])
        return None

    def start(self, *, head_sha: str, key: str | None) -> int:
        """This review's run, `in_progress`: found again before anything is created.

        A create whose answer was lost (5xx, timeout) is looked for once more before the
        error goes up: a job retry then finds it too, so one review makes one run.
        """
        found = self.find(head_sha=head_sha, key=key)
        if found is not None:
            log.info("reusing check run %s of an earlier attempt", found)
            return found
        body = check_payloads.create_body(head_sha, check_payloads.external_id(key, head_sha))
        try:
            _, data = self._request("POST", f"{self._repo_url}/check-runs", body=body)
        except GitHubError as exc:
            if exc.retryable:
                again = self.find(head_sha=head_sha, key=key)
                if again is not None:
                    return again
            raise
        return int(data["id"])

    def complete(self, check_run_id: int, report: CheckRunReport) -> None:
        """Annotations 50 per request (GitHub appends them), then the conclusion."""
        url = f"{self._repo_url}/check-runs/{check_run_id}"
        for body in check_payloads.complete_bodies(report):
            self._request("PATCH", url, body=body)

    def _runs(self, head_sha: str) -> Iterator[dict[str, Any]]:
        """Every run named "Claude review" on `head_sha` (all of them, not only the latest)."""
        url: str | None = f"{self._repo_url}/commits/{head_sha}/check-runs"
        params: dict[str, Any] | None = {
            "check_name": check_payloads.CHECK_NAME,
            "filter": "all",
            "per_page": 100,
        }
        while url:
            headers, data = self._request("GET", url, params=params)
            params = None  # the next link carries the query
            yield from (data or {}).get("check_runs") or ()
            url = next_link(headers.get("link"))
