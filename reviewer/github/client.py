"""The GitHub adapter: fetch a pull request's diff and publish one review (only PyGithub user).

PyGithub gives authentication (a token, or a GitHub App whose installation token it refreshes),
connection handling and its exception tree. Requests go through its `Requester` so that every
body is exactly what `reviewer.github.payloads` built. Retry policy:

- GETs: PyGithub's `GithubRetry`, restricted to GET, retries 5xx and connection errors with
  backoff and waits out rate limits itself.
- Writes are never retried by PyGithub (its default re-sends a POST after a 5xx or a 403, which
  can post a review twice). `_request` retries any request that GitHub refused for a rate
  limit (403/429 with `retry-after`, else at least 60 s; a refused request created nothing),
  with an injectable `sleep` and a cap. A review POST that failed ambiguously (5xx, timeout) is
  retried only after listing the PR's reviews shows that GitHub did not create it anyway.

How long a refusal asks to wait is read in `reviewer.github.http`; a review is posted by
`reviewer.github.publish`, which finds the comments behind a 422 with `reviewer.github.probe`.
"""

from __future__ import annotations

import base64
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import quote

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.Requester import Requester

from reviewer.core import markers
from reviewer.core.diff import PullRequestDiff
from reviewer.core.threads import same_login
from reviewer.errors import ConfigError, GitHubError
from reviewer.github import payloads
from reviewer.github.checks import CheckRunPublisher
from reviewer.github.files import from_github_files
from reviewer.github.graphql import GraphQLClient
from reviewer.github.http import (
    MAX_RATE_LIMIT_WAIT_S,
    RATE_LIMIT_RETRIES,
    SECONDARY_RATE_WAIT_S,
    next_link,
    rate_limit_wait,
    url_path,
    wrap,
)
from reviewer.github.probe import MAX_PROBES
from reviewer.github.publish import ReviewPublisher
from reviewer.github.threads import ThreadActions
from reviewer.model import PullInfo
from reviewer.settings import Settings

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]

MAX_PR_FILES: Final = 3000  # GET /pulls/{n}/files lists at most 3,000 files
COMPARE_MAX_FILES: Final = 300  # the compare API lists at most 300 files
PER_PAGE: Final = 100
TIMEOUT_S: Final = 30
# GitHub asks for at least one second between content-creating requests. The fake GitHub
# fixture sets it to 0 and DEFAULT_SLEEP to a recorder, for clients built by `from_settings`.
WRITE_INTERVAL_S: float = 1.0
DEFAULT_SLEEP: Sleep = time.sleep
WRITE_PERMISSIONS: Final = frozenset({"admin", "write"})
REVIEWS_CACHED: Final = 64  # PRs whose reviews list a long-lived client keeps at most


class GitHubClient:
    """A GitHub REST client for one identity (a token or one App installation)."""

    def __init__(
        self,
        gh: Github,
        *,
        app_auth: Auth.AppAuth | None = None,
        bot_login: str | None = None,
        sleep: Sleep = time.sleep,
        clock: Callable[[], float] = time.time,
        max_rate_limit_wait_s: float = MAX_RATE_LIMIT_WAIT_S,
        max_probes: int = MAX_PROBES,
    ) -> None:
        self._gh = gh
        self._requester: Requester = gh.requester
        self._app_auth = app_auth
        self._bot_login = bot_login
        self._sleep = sleep
        self._clock = clock
        self._max_wait = max_rate_limit_wait_s
        self._max_probes = max_probes
        # Each PR's reviews list, read once per review (see `_reviews_of`).
        self._reviews: dict[str, list[Any]] = {}
        self._reviews_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        installation_id: int | None = None,
        sleep: Sleep | None = None,
        clock: Callable[[], float] = time.time,
    ) -> GitHubClient:
        """A client for `settings.github_api_url`.

        Credentials, first match wins: the App (`github_app_id` + `github_private_key`) when an
        `installation_id` is given, else `github_token`. App credentials without an
        installation id, or no credentials at all, raise ConfigError.
        """
        app_auth: Auth.AppAuth | None = None
        auth: Auth.Auth
        has_app = bool(settings.github_app_id and settings.github_private_key)
        if has_app and installation_id is not None:
            assert settings.github_app_id and settings.github_private_key
            app_auth = Auth.AppAuth(settings.github_app_id, settings.github_private_key)
            auth = app_auth.get_installation_auth(installation_id)
        elif settings.github_token:
            auth = Auth.Token(settings.github_token)
        elif has_app:
            raise ConfigError(
                "a GitHub App needs an installation id (or set GITHUB_TOKEN)",
                key="REVIEWER_GITHUB_APP_ID",
            )
        else:
            raise ConfigError(
                "no GitHub credentials: set GITHUB_TOKEN, or REVIEWER_GITHUB_APP_ID and "
                "REVIEWER_GITHUB_PRIVATE_KEY",
                key="GITHUB_TOKEN",
            )
        gh = Github(
            auth=auth,
            base_url=settings.github_api_url.rstrip("/"),
            timeout=TIMEOUT_S,
            user_agent="reviewer (Claude code review bot)",
            per_page=PER_PAGE,
            retry=_retry_policy(),
            seconds_between_requests=None,
            seconds_between_writes=_write_interval(settings) or None,
        )
        return cls(
            gh,
            app_auth=app_auth,
            bot_login=settings.bot_login,
            sleep=sleep or DEFAULT_SLEEP,
            clock=clock,
        )

    def close(self) -> None:
        """Close the HTTP session (a new request would open another)."""
        self._gh.close()

    # -- fetch -----------------------------------------------------------------------------

    def get_pull(self, repo: str, number: int) -> PullInfo:
        """The pull request's metadata (`GET /repos/{o}/{r}/pulls/{n}`).

        A review starts here, so this also forgets the PR's reviews list read before.
        """
        self._forget_reviews(repo, number)
        _, data = self._request("GET", f"{_repo_url(repo)}/pulls/{number}")
        return PullInfo.from_api(data)

    def head_moved(self, repo: str, number: int, expected_head_sha: str) -> bool:
        """Whether the PR's head is no longer `expected_head_sha` (a newer job reviews it)."""
        return self.get_pull(repo, number).head_sha != expected_head_sha

    def get_pull_files_diff(self, repo: str, number: int) -> tuple[PullRequestDiff, list[str]]:
        """The PR's files with patches (paginated, at most 3,000) and notes on what is missing."""
        files: list[Mapping[str, Any]] = []
        for item in self._paginate(f"{_repo_url(repo)}/pulls/{number}/files"):
            files.append(item)
            if len(files) >= MAX_PR_FILES:
                break
        notes: list[str] = []
        if len(files) >= MAX_PR_FILES:
            missing = self.get_pull(repo, number).changed_files - len(files)
            if missing > 0:
                notes.append(f"GitHub lists at most 3,000 files; {missing} were not fetched")
        return from_github_files(files), notes

    def get_incremental_diff(
        self, repo: str, pull: PullInfo, since_sha: str
    ) -> PullRequestDiff | None:
        """What changed from `since_sha` (the last reviewed head) to the PR's head, or None.

        None means "review the whole PR". The rule: the compare `since...head` is used only
        when it is exactly the author's new commits, that is when
        - `since_sha` is an ancestor of the head (status "ahead"; "diverged", "behind" or a 404
          mean history was rewritten, e.g. a force-push or a rebase onto a new base),
        - none of the new commits is a merge (merging the base branch in, or "Update branch",
          brings in changes that are not the author's and moves the PR's merge base), and
        - the comparison is complete (every commit listed, fewer than 300 files).
        A PR retargeted to another base is an `edited` event, not a push: review it whole.
        """
        if since_sha == pull.head_sha:
            return PullRequestDiff(files=())
        url = f"{_repo_url(repo)}/compare/{quote(since_sha)}...{quote(pull.head_sha)}"
        try:
            _, data = self._request("GET", url)
        except GitHubError as exc:
            if exc.status_code == 404:
                return None
            raise
        status = data.get("status")
        if status == "identical":
            return PullRequestDiff(files=())
        merge_base = (data.get("merge_base_commit") or {}).get("sha")
        if status != "ahead" or merge_base != since_sha:
            return None
        commits = data.get("commits") or []
        if int(data.get("total_commits", len(commits))) > len(commits):
            return None
        if any(len(c.get("parents") or ()) > 1 for c in commits):
            return None
        files = data.get("files") or []
        if len(files) >= COMPARE_MAX_FILES:
            return None
        return from_github_files(files)

    def get_file_text(self, repo: str, path: str, ref: str) -> str | None:
        """The text of `path` at `ref`, or None when there is no such file."""
        url = f"{_repo_url(repo)}/contents/{quote(path.lstrip('/'))}"
        try:
            _, data = self._request("GET", url, params={"ref": ref})
        except GitHubError as exc:
            if exc.status_code == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("type") != "file":
            return None  # a directory, a symlink or a submodule
        if data.get("encoding") != "base64":
            raise GitHubError(f"{path} at {ref} is too large to read through the contents API")
        raw = base64.b64decode(data.get("content") or "")
        return raw.decode("utf-8", errors="replace")

    # -- publish ---------------------------------------------------------------------------

    def publisher(self, repo: str, number: int, marker_key: bytes) -> ReviewPublisher:
        """The review publisher of one pull request (see `reviewer.github.publish`)."""
        return ReviewPublisher(
            self._request,
            self._paginate,
            self._sleep,
            f"{_repo_url(repo)}/pulls/{number}/reviews",
            functools.partial(self.post_issue_comment, repo, number),
            self._max_probes,
            bot_login=self.bot_login,
            marker_key=marker_key,
            listed=functools.partial(self._reviews_of, repo, number),
            forget=functools.partial(self._forget_reviews, repo, number),
        )

    def check_runs(self, repo: str) -> CheckRunPublisher:
        """The "Claude review" check runs of one repository (see `reviewer.github.checks`)."""
        return CheckRunPublisher(self._request, _repo_url(repo))

    def _reviews_of(self, repo: str, number: int) -> list[Any]:
        """The PR's reviews (`GET .../pulls/{n}/reviews`), read once per review.

        The idempotency check, the last reviewed head and the earlier fingerprints all read
        this list before anything is posted: one request (per page) serves them. `get_pull`
        (where every review starts) and publishing forget it, so a review never sees the
        list an earlier review read, and nothing after a write reads a stale one.
        """
        url = f"{_repo_url(repo)}/pulls/{number}/reviews"
        with self._reviews_lock:
            cached = self._reviews.get(url)
        if cached is None:
            cached = list(self._paginate(url))
            with self._reviews_lock:
                self._reviews[url] = cached
                while len(self._reviews) > REVIEWS_CACHED:
                    del self._reviews[next(iter(self._reviews))]
        return cached

    def _forget_reviews(self, repo: str, number: int) -> None:
        with self._reviews_lock:
            self._reviews.pop(f"{_repo_url(repo)}/pulls/{number}/reviews", None)

    # -- dedup -----------------------------------------------------------------------------

    def bot_login(self) -> str:
        """The login the bot posts as: settings.bot_login, the token's user, or "<slug>[bot]"."""
        if self._bot_login is None:
            self._bot_login = self._discover_login()
        return self._bot_login

    def _discover_login(self) -> str:
        """Who the token is, asked the way its kind can answer; never a guess.

        An App's JWT: `GET /app` gives the slug (its bot posts as `slug[bot]`). A personal
        token: `GET /user`. A token that may not read `/user` (403: an Actions `GITHUB_TOKEN`,
        or another App's installation token made in a workflow) is asked through GraphQL
        `viewer`, which answers for every kind with the login REST shows (`name[bot]`).
        """
        if self._app_auth is not None:
            # GET /app takes the App's JWT, not the installation token.
            app_requester = self._requester.withAuth(self._app_auth)
            try:
                _, app = app_requester.requestJsonAndCheck("GET", "/app")
            except GithubException as exc:
                raise wrap(exc, "GET", "/app") from exc
            return f"{app['slug']}[bot]"
        try:
            _, user = self._request("GET", "/user")
        except GitHubError as exc:
            if exc.status_code not in (401, 403):
                raise
            try:
                return self.graphql().viewer_login()
            except GitHubError as viewer_exc:
                raise GitHubError(
                    "cannot tell which account this GitHub token posts as (GET /user and "
                    f"GraphQL viewer both refused: {viewer_exc.message}); set "
                    "REVIEWER_BOT_LOGIN",
                    status_code=viewer_exc.status_code,
                    retryable=viewer_exc.retryable,
                ) from viewer_exc
        return str(user["login"])

    def graphql(self) -> GraphQLClient:
        """GraphQL over this client's session and auth (see `reviewer.github.graphql`)."""
        return GraphQLClient(self._requester)

    def threads(self, repo: str, number: int) -> ThreadActions:
        """The review threads of one pull request (see `reviewer.github.threads`)."""
        return ThreadActions(
            self.graphql(), self._request, self._paginate, f"{_repo_url(repo)}/pulls", repo, number
        )

    def previous_fingerprints(
        self, repo: str, number: int, bot_login: str | None = None, *, marker_key: bytes
    ) -> set[str]:
        """Fingerprints of what the bot already said: its review comments and review bodies.

        Only markers in the bot's own comments whose MAC verifies under `marker_key` count.
        """
        bot = bot_login or self.bot_login()
        found: set[str] = set()
        base = f"{_repo_url(repo)}/pulls/{number}"
        for item in self._paginate(f"{base}/comments"):
            if same_login((item.get("user") or {}).get("login"), bot):
                body = item.get("body") or ""
                found |= markers.trusted_values(marker_key, markers.FINGERPRINT, body)
        for review in self._reviews_of(repo, number):
            if same_login((review.get("user") or {}).get("login"), bot):
                body = review.get("body") or ""
                found |= markers.trusted_values(marker_key, markers.FINGERPRINT, body)
        return found

    def last_reviewed_head(
        self, repo: str, number: int, bot_login: str | None = None, *, marker_key: bytes
    ) -> str | None:
        """The commit of the bot's newest submitted review whose marker's MAC verifies."""
        bot = bot_login or self.bot_login()
        newest: tuple[int, str] | None = None
        for review in self._reviews_of(repo, number):
            ours = same_login((review.get("user") or {}).get("login"), bot)
            body = review.get("body") or ""
            marked = markers.trusted_values(marker_key, markers.REVIEW, body)
            if (
                not (ours and marked and review.get("commit_id"))
                or review.get("state") == "PENDING"
            ):
                continue
            if newest is None or int(review["id"]) > newest[0]:
                newest = (int(review["id"]), str(review["commit_id"]))
        return newest[1] if newest else None

    # -- commands --------------------------------------------------------------------------

    def add_reaction(self, repo: str, comment_id: int, content: str = "eyes") -> None:
        """React to an issue comment (acknowledges a command)."""
        url = f"{_repo_url(repo)}/issues/comments/{comment_id}/reactions"
        self._request("POST", url, body=payloads.reaction_body(content))

    def permission(self, repo: str, login: str) -> str:
        """The user's permission on the repo: admin, write, read or none (404 → none)."""
        url = f"{_repo_url(repo)}/collaborators/{quote(login)}/permission"
        try:
            _, data = self._request("GET", url)
        except GitHubError as exc:
            if exc.status_code == 404:
                return "none"
            raise
        return str(data.get("permission") or "none")

    def may_trigger(self, repo: str, login: str, *, is_bot: bool) -> bool:
        """Whether `login` may ask for a review: never the bot itself nor a bot; else write+."""
        if same_login(login, self.bot_login()) or is_bot or login.endswith("[bot]"):
            return False
        return self.permission(repo, login) in WRITE_PERMISSIONS

    def has_bot_comment(self, repo: str, number: int, marker: str) -> bool:
        """Whether the bot (only the bot) already left a conversation comment holding `marker`.

        `marker` is a MAC'd marker (reviewer.core.markers): only its exact text counts.
        """
        bot = self.bot_login()
        for item in self._paginate(f"{_repo_url(repo)}/issues/{number}/comments"):
            ours = same_login((item.get("user") or {}).get("login"), bot)
            if ours and marker in (item.get("body") or ""):
                return True
        return False

    def post_issue_comment(self, repo: str, number: int, body: str) -> str:
        """Post a conversation comment on the PR; returns its html_url."""
        url = f"{_repo_url(repo)}/issues/{number}/comments"
        _, data = self._request("POST", url, body=payloads.issue_comment_body(body))
        return str(data.get("html_url", ""))

    # -- transport -------------------------------------------------------------------------

    def _request(
        self,
        verb: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], Any]:
        """One REST call; waits out rate limits (a refused request created nothing)."""
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                return self._requester.requestJsonAndCheck(verb, url, parameters=params, input=body)
            except GithubException as exc:
                wait = rate_limit_wait(exc, self._clock, Requester.isRateLimitError)
                if wait is None or attempt == RATE_LIMIT_RETRIES or wait > self._max_wait:
                    raise wrap(exc, verb, url) from exc
            except requests.RequestException as exc:
                raise GitHubError(
                    f"GitHub {verb} {url_path(url)} failed: {type(exc).__name__}", retryable=True
                ) from exc
            log.warning("GitHub rate limit on %s %s: waiting %.0f s", verb, url_path(url), wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _paginate(self, url: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, following the `Link: rel="next"` headers."""
        next_url: str | None = url
        query: dict[str, Any] | None = {"per_page": PER_PAGE, **(params or {})}
        while next_url:
            headers, data = self._request("GET", next_url, params=query)
            query = None  # the next link carries the query
            yield from data or ()
            next_url = next_link(headers.get("link"))


def _write_interval(settings: Settings) -> float:
    """Seconds PyGithub leaves between two writes: the operator's, else GitHub's guidance."""
    chosen = settings.github_write_interval_s
    return WRITE_INTERVAL_S if chosen is None else chosen


def _retry_policy() -> GithubRetry:
    """Retry GETs only (5xx, connection errors, rate limits); never a write."""
    return GithubRetry(
        total=3,
        backoff_factor=0.5,
        status_forcelist=[500, 502, 503, 504],
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
        secondary_rate_wait=SECONDARY_RATE_WAIT_S,
        max_rate_limit_wait=MAX_RATE_LIMIT_WAIT_S,
    )


def _repo_url(repo: str) -> str:
    owner, sep, name = repo.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ConfigError(f"not a repository name (owner/name): {repo!r}", key="repo")
    return f"/repos/{quote(owner)}/{quote(name)}"
