"""A fake GitHub REST API at the requests layer (`responses`), for PyGithub and our client.

Fixture `fake_github` (registered as a pytest plugin in tests/conftest.py) answers at
https://api.github.com, the settings' default; `FakeGitHub(rsps, base_url=...)` serves a GitHub
Enterprise-style base such as "https://github.test/api/v3". Typical use:

    def test_review(fake_github):
        fake_github.add_pull("octo/app", 7, files=[file_item("a.py", patch=PATCH)])
        gh = fake_github.client()                    # GitHubClient.from_settings(token, base URL)
        ...                                          # code under test uses gh
        [body] = fake_github.bodies("POST", "/repos/octo/app/pulls/7/reviews")
        assert body["comments"][0] == {"path": "a.py", "body": ..., "line": 3, "side": "RIGHT"}

While the fixture is active, clients built with `GitHubClient.from_settings` do not throttle
writes and record their sleeps in `fake_github.sleeps` instead of sleeping.

It answers like GitHub: paginated lists with `Link` headers (`per_page`, `page`); reviews that
only accept comments on lines of the files' patches (else 422, not saying which comment);
PENDING reviews (no `event`) listed to their author only and blocking any other review by
that author ("one pending review per pull request"); deletion of pending reviews only;
installation tokens for a GitHub App (`POST /app/installations/{id}/access_tokens`), `GET /app`
with the JWT (with `permissions` and `events`), the App's installations (`add_installation`:
`GET /app/installations`, `GET /repos/{o}/{r}/installation`, `GET /installation/repositories`),
`GET /meta` (with `installed_version` when `enterprise_version` is set), `GET /user` with a
token (403 for an App's installation token, as GitHub answers), GraphQL at
`/graphql` or GHES's `/api/graphql` (`tests/fakes/github_graphql.py`), thread replies and
review-comment reactions. Unknown routes answer 404.

Failures to inject:
    fake_github.reject_line("octo/app", 7, "a.py", 12)       # any review with that comment: 422
    fake_github.fail_next("POST", r"/pulls/7/reviews$", 502, perform=True)  # created, then 502
    fake_github.rate_limit_next("POST", r"/reviews$", retry_after=30)       # 403 secondary limit
Every request is recorded in `fake_github.calls` (method, path, query, JSON body, auth).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import responses
from github.Requester import Requester

import reviewer.github.client
from reviewer.core.anchoring import InlineComment, fingerprint_marker
from reviewer.core.findings import Finding, Severity
from reviewer.core.lines import Side
from reviewer.github.client import GitHubClient
from reviewer.settings import Settings
from tests.fakes.github_graphql import FakeGraphQL

DEFAULT_BASE_URL = "https://api.github.com"
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")

Answer = tuple[int, dict[str, str], Any]
# What the App is given unless a test says otherwise: everything the bot needs.
APP_PERMISSIONS = {
    "pull_requests": "write",
    "contents": "read",
    "issues": "write",
    "checks": "write",
    "metadata": "read",
}
APP_EVENTS = (
    "pull_request",
    "issue_comment",
    "pull_request_review_comment",
    "pull_request_review_thread",
)


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # without the base URL's prefix, e.g. /repos/o/r/pulls/1
    query: dict[str, str]
    body: Any
    authorization: str


@dataclass
class Fault:
    method: str
    path_re: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    perform: bool  # do the real work first (GitHub created it, then the answer was lost)
    times: int = 1


@dataclass
class FakePull:
    repo: str
    data: dict[str, Any]
    files: list[dict[str, Any]]
    reviews: list[dict[str, Any]] = field(default_factory=list)
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    issue_comments: list[dict[str, Any]] = field(default_factory=list)
    rejected: set[tuple[str, int]] = field(default_factory=set)
    known_commits: set[str] = field(default_factory=set)
    # GraphQL state, by a thread's first comment id: resolved, resolved_by, outdated.
    threads: dict[int, dict[str, Any]] = field(default_factory=dict)
    minimized: set[int] = field(default_factory=set)
    comment_reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class FakeRepo:
    full_name: str
    pulls: dict[int, FakePull] = field(default_factory=dict)
    contents: dict[tuple[str, str], str] = field(default_factory=dict)
    compares: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    check_runs: list[dict[str, Any]] = field(default_factory=list)  # each with its annotations


def user(login: str, *, bot: bool = False, user_id: int = 1) -> dict[str, Any]:
    return {
        "login": login,
        "id": user_id,
        "type": "Bot" if bot else "User",
        "html_url": f"https://github.com/{login}",
    }


def file_item(
    filename: str,
    *,
    patch: str | None = None,
    status: str = "modified",
    previous_filename: str | None = None,
) -> dict[str, Any]:
    """One item of `GET /pulls/{n}/files` (no `patch` key when GitHub sends none)."""
    lines = (patch or "").split("\n")
    additions = sum(1 for ln in lines if ln.startswith("+"))
    deletions = sum(1 for ln in lines if ln.startswith("-"))
    item: dict[str, Any] = {
        "sha": "1" * 40,
        "filename": filename,
        "status": status,
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
        "blob_url": f"https://github.com/o/r/blob/HEAD/{filename}",
        "raw_url": f"https://github.com/o/r/raw/HEAD/{filename}",
        "contents_url": f"https://api.github.com/repos/o/r/contents/{filename}",
    }
    if patch is not None:
        item["patch"] = patch
    if previous_filename is not None:
        item["previous_filename"] = previous_filename
    return item


def commit(sha: str, parents: tuple[str, ...] = ("0" * 40,)) -> dict[str, Any]:
    """A commit as the compare API lists it."""
    return {"sha": sha, "parents": [{"sha": p} for p in parents], "commit": {"message": "c"}}


# The key of the MAC on hidden markers in tests (REVIEWER_MARKER_KEY of `FakeGitHub.settings`).
MARKER_KEY = b"fake-marker-key-for-tests"


def inline_comment(
    path: str,
    line: int,
    *,
    side: str = "RIGHT",
    start_line: int | None = None,
    text: str | None = None,
    fp: str | None = None,
) -> InlineComment:
    """An anchored comment as anchoring.py makes it (body ends with the fingerprint marker)."""
    finding = Finding(
        path=path,
        line=line,
        start_line=start_line,
        side="LEFT" if side == "LEFT" else "RIGHT",
        severity=Severity.MAJOR,
        category="bug",
        title=f"Problem at {path}:{line}",
        body=text or f"Something is wrong at {path}:{line}.",
    )
    fingerprint = fp or hashlib.sha256(f"{path}:{line}:{side}".encode()).hexdigest()[:16]
    return InlineComment(
        path=path,
        line=line,
        side=Side(side),
        body=f"{finding.body}\n\n{fingerprint_marker(fingerprint, MARKER_KEY)}",
        severity=finding.severity,
        fingerprint=fingerprint,
        finding=finding,
        start_line=start_line,
        start_side=Side(side) if start_line is not None else None,
    )


def commentable(patch: str) -> set[tuple[str, int]]:
    """(side, line) pairs GitHub accepts a comment on, from a file's patch."""
    found: set[tuple[str, int]] = set()
    old = new = 0
    for raw in patch.split("\n"):
        m = _HUNK_RE.match(raw)
        if m:
            old, new = int(m.group(1)), int(m.group(3))
        elif raw.startswith("+"):
            found.add(("RIGHT", new))
            new += 1
        elif raw.startswith("-"):
            found.add(("LEFT", old))
            old += 1
        elif raw.startswith(" ") or raw == "":
            found.add(("RIGHT", new))
            found.add(("LEFT", old))
            old, new = old + 1, new + 1
    return found


class FakeGitHub:
    """GitHub's REST API as far as the reviewer uses it; state is plain dicts to inspect."""

    def __init__(
        self,
        rsps: responses.RequestsMock,
        base_url: str = DEFAULT_BASE_URL,
        *,
        login: str = "reviewer-bot",
        app_slug: str = "claude-reviewer",
        viewer_bot: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path
        self.login = login
        self.app_slug = app_slug
        self.repos: dict[str, FakeRepo] = {}
        self.calls: list[Call] = []
        self.sleeps: list[float] = []
        self.faults: list[Fault] = []
        self.installation_tokens: dict[str, int] = {}
        # A token that is an installation token of some App (an Actions GITHUB_TOKEN is
        # `github-actions[bot]`): GET /user answers 403, GraphQL `viewer` says who it is.
        self.viewer_bot = viewer_bot
        self.graphql = FakeGraphQL(self)
        # The App's own permissions and events (`GET /app`), its installations
        # (`GET /app/installations`, see `add_installation`), and what `GET /meta` says.
        self.app_permissions: dict[str, str] = dict(APP_PERMISSIONS)
        self.app_events: list[str] = list(APP_EVENTS)
        self.installations: list[dict[str, Any]] = []
        self.enterprise_version: str | None = None
        self._ids = itertools.count(1001)
        parts = urlsplit(self.base_url)
        # PyGithub spells the default port out: https://api.github.com:443/repos/...
        pattern = re.compile(
            re.escape(f"{parts.scheme}://{parts.hostname}")
            + r"(:\d+)?"
            + re.escape(parts.path)
            + r"(/.*)?$"
        )
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            rsps.add_callback(method, pattern, callback=self._dispatch)
        # GraphQL lives beside REST: /graphql, or /api/graphql beside GHES's /api/v3.
        graphql_path = Requester.get_graphql_prefix(parts.path)
        if not graphql_path.startswith(parts.path.rstrip("/") + "/"):
            graphql_url = re.compile(
                re.escape(f"{parts.scheme}://{parts.hostname}")
                + r"(:\d+)?"
                + re.escape(graphql_path)
                + "$"
            )
            rsps.add_callback("POST", graphql_url, callback=self._dispatch_graphql)
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = [
            ("GET", re.compile(r"/user"), self._get_user),
            ("POST", re.compile(r"/graphql"), self._post_graphql),
            (
                "POST",
                re.compile(r"/repos/([^/]+/[^/]+)/pulls/(\d+)/comments/(\d+)/replies"),
                self._post_reply,
            ),
            (
                "GET",
                re.compile(r"/repos/([^/]+/[^/]+)/pulls/comments/(\d+)/reactions"),
                self._get_comment_reactions,
            ),
            ("GET", re.compile(r"/app"), self._get_app),
            ("POST", re.compile(r"/app/installations/(\d+)/access_tokens"), self._post_token),
            ("GET", re.compile(r"/app/installations"), self._get_installations),
            ("GET", re.compile(r"/installation/repositories"), self._get_installation_repos),
            ("GET", re.compile(r"/repos/([^/]+/[^/]+)/installation"), self._get_repo_installation),
            ("GET", re.compile(r"/meta"), self._get_meta),
            ("GET", re.compile(r"/repos/([^/]+/[^/]+)/pulls/(\d+)"), self._get_pull),
            ("GET", re.compile(r"/repos/([^/]+/[^/]+)/pulls/(\d+)/files"), self._get_files),
            ("GET", re.compile(r"/repos/([^/]+/[^/]+)/pulls/(\d+)/reviews"), self._get_reviews),
            ("POST", re.compile(r"/repos/([^/]+/[^/]+)/pulls/(\d+)/reviews"), self._post_review),
            (
                "DELETE",
                re.compile(r"/repos/([^/]+/[^/]+)/pulls/(\d+)/reviews/(\d+)"),
                self._delete_review,
            ),
            ("GET", re.compile(r"/repos/([^/]+/[^/]+)/pulls/(\d+)/comments"), self._get_comments),
            ("GET", re.compile(r"/repos/([^/]+/[^/]+)/compare/(\w+)\.\.\.(\w+)"), self._compare),
            ("GET", re.compile(r"/repos/([^/]+/[^/]+)/contents/(.+)"), self._contents),
            (
                "POST",
                re.compile(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)/reactions"),
                self._post_reaction,
            ),
            (
                "GET",
                re.compile(r"/repos/([^/]+/[^/]+)/collaborators/([^/]+)/permission"),
                self._permission,
            ),
            ("GET", re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments"), self._get_issue_c),
            ("POST", re.compile(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments"), self._post_issue_c),
            ("POST", re.compile(r"/repos/([^/]+/[^/]+)/check-runs"), self._post_check_run),
            ("PATCH", re.compile(r"/repos/([^/]+/[^/]+)/check-runs/(\d+)"), self._patch_check_run),
            (
                "GET",
                re.compile(r"/repos/([^/]+/[^/]+)/commits/(\w+)/check-runs"),
                self._list_check_runs,
            ),
        ]

    # -- set up ----------------------------------------------------------------------------

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos.setdefault(full_name, FakeRepo(full_name))

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        files: list[dict[str, Any]] | None = None,
        head_sha: str = "a" * 40,
        base_sha: str = "b" * 40,
        author: str = "octocat",
        **fields: Any,
    ) -> FakePull:
        """A pull request shaped like GitHub's (see tests/fixtures/webhooks); `fields` override."""
        owner = repo.split("/")[0]
        files = list(files or [])
        data: dict[str, Any] = {
            "url": f"{self.base_url}/repos/{repo}/pulls/{number}",
            "id": 100_000 + number,
            "node_id": f"PR_{number}",
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": f"Change number {number}",
            "user": user(author),
            "body": "What this changes.",
            "draft": False,
            "merged": False,
            "merged_at": None,
            "author_association": "CONTRIBUTOR",
            "head": {
                "label": f"{owner}:feature",
                "ref": "feature",
                "sha": head_sha,
                "user": user(owner),
                "repo": {"full_name": repo, "name": repo.split("/")[1], "fork": False},
            },
            "base": {
                "label": f"{owner}:main",
                "ref": "main",
                "sha": base_sha,
                "user": user(owner),
                "repo": {"full_name": repo, "name": repo.split("/")[1], "fork": False},
            },
            "commits": 1,
            "additions": sum(f["additions"] for f in files),
            "deletions": sum(f["deletions"] for f in files),
            "changed_files": len(files),
        }
        data.update(fields)
        pull = FakePull(repo, data, files, known_commits={data["head"]["sha"]})
        self.repo(repo).pulls[number] = pull
        return pull

    def push(self, repo: str, number: int, head_sha: str, files: list[dict[str, Any]]) -> None:
        """Move the PR's head, as a push (or a force-push) does."""
        pull = self.repo(repo).pulls[number]
        before = {f["filename"]: f.get("patch") for f in pull.files}
        after = {f["filename"]: f.get("patch") for f in files}
        for comment in pull.review_comments:
            # GitHub marks a thread outdated when the code under it changed.
            path = comment.get("path")
            if not comment.get("in_reply_to_id") and before.get(path) != after.get(path):
                pull.threads.setdefault(comment["id"], {})["outdated"] = True
        pull.data["head"]["sha"] = head_sha
        pull.files = list(files)
        pull.data["changed_files"] = len(files)
        pull.known_commits.add(head_sha)

    def add_compare(
        self,
        repo: str,
        base: str,
        head: str,
        *,
        status: str = "ahead",
        commits: list[dict[str, Any]] | None = None,
        files: list[dict[str, Any]] | None = None,
        merge_base: str | None = None,
    ) -> dict[str, Any]:
        commits = commits if commits is not None else [commit(head, (base,))]
        data = {
            "url": f"{self.base_url}/repos/{repo}/compare/{base}...{head}",
            "status": status,
            "ahead_by": len(commits),
            "behind_by": 0 if status == "ahead" else 1,
            "total_commits": len(commits),
            "base_commit": commit(base),
            "merge_base_commit": commit(merge_base or (base if status == "ahead" else "e" * 40)),
            "commits": commits,
            "files": list(files or []),
        }
        self.repo(repo).compares[(base, head)] = data
        return data

    def add_content(self, repo: str, path: str, ref: str, text: str) -> None:
        self.repo(repo).contents[(path, ref)] = text

    def add_installation(
        self,
        account: str,
        *,
        permissions: dict[str, str] | None = None,
        events: list[str] | None = None,
        suspended: bool = False,
        repositories: list[str] | None = None,
    ) -> dict[str, Any]:
        """An installation of the App on `account` (all its repositories unless `repositories`)."""
        item = {
            "id": 500 + len(self.installations) + 1,
            "account": user(account),
            "app_id": 1,
            "app_slug": self.app_slug,
            "target_type": "Organization",
            "permissions": dict(APP_PERMISSIONS if permissions is None else permissions),
            "events": list(APP_EVENTS if events is None else events),
            "repository_selection": "all" if repositories is None else "selected",
            "repositories": list(repositories or []),
            "suspended_at": "2026-01-01T00:00:00Z" if suspended else None,
        }
        self.installations.append(item)
        return item

    def set_permission(self, repo: str, login: str, permission: str) -> None:
        self.repo(repo).permissions[login] = permission

    def add_review(
        self, repo: str, number: int, *, login: str, body: str, commit_id: str
    ) -> dict[str, Any]:
        """A review someone posted earlier (state COMMENTED)."""
        pull = self.repo(repo).pulls[number]
        review = self._new_review(pull, user(login, bot=login.endswith("[bot]")), body, commit_id)
        review["state"] = "COMMENTED"
        pull.reviews.append(review)
        return review

    def add_review_comment(
        self,
        repo: str,
        number: int,
        *,
        login: str,
        body: str,
        path: str,
        line: int,
        in_reply_to: int | None = None,
    ) -> dict[str, Any]:
        pull = self.repo(repo).pulls[number]
        item: dict[str, Any] = {
            "id": next(self._ids),
            "user": user(login, bot=login.endswith("[bot]")),
            "body": body,
            "path": path,
            "line": line,
            "side": "RIGHT",
            "commit_id": pull.data["head"]["sha"],
        }
        if in_reply_to is not None:
            item["in_reply_to_id"] = in_reply_to
        pull.review_comments.append(item)
        return item

    def react_to_review_comment(
        self, repo: str, number: int, comment_id: int, *, login: str, content: str
    ) -> None:
        pull = self.repo(repo).pulls[number]
        reaction = {"id": next(self._ids), "content": content, "user": user(login)}
        pull.comment_reactions.setdefault(comment_id, []).append(reaction)

    def resolve_thread(self, repo: str, number: int, first_comment_id: int, *, by: str) -> None:
        """A person resolves a thread in the web UI."""
        state = self.repo(repo).pulls[number].threads.setdefault(first_comment_id, {})
        state.update(resolved=True, resolved_by=by)

    def viewer_login(self, auth: str) -> str:
        """Who the token is, as GraphQL `viewer { login }` (and REST) spell it."""
        return str(self._author(auth)["login"])

    # -- failures --------------------------------------------------------------------------

    def reject_line(self, repo: str, number: int, path: str, line: int) -> None:
        """Any review carrying a comment on `path`:`line` gets a 422 (which one: unsaid)."""
        self.repo(repo).pulls[number].rejected.add((path, line))

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        perform: bool = False,
        headers: dict[str, str] | None = None,
        message: str = "Server Error",
        times: int = 1,
    ) -> None:
        self.faults.append(
            Fault(
                method,
                re.compile(path_regex),
                status,
                dict(headers or {}),
                {"message": message},
                perform,
                times,
            )
        )

    def rate_limit_next(
        self, method: str, path_regex: str, *, retry_after: int | None = 30, status: int = 403
    ) -> None:
        """A secondary rate limit, with `retry-after` (or without it, as GitHub also does)."""
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        headers["x-ratelimit-remaining"] = "4000"
        self.fail_next(
            method,
            path_regex,
            status,
            headers=headers,
            message="You have exceeded a secondary rate limit. Please wait a few minutes "
            "before you try again.",
        )

    # -- inspect ---------------------------------------------------------------------------

    def bodies(self, method: str, path: str) -> list[Any]:
        """The JSON bodies of every `method` request to `path` (exact path, no query)."""
        return [c.body for c in self.calls if c.method == method and c.path == path]

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        return self.repo(repo).pulls[number].reviews

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "github_token": "ghp_faketoken",
            "github_api_url": self.base_url,
            "marker_key": MARKER_KEY.decode(),
        }
        values.update(overrides)
        return Settings.from_env(None, **values)

    def client(self, **overrides: Any) -> GitHubClient:
        """A token client against this fake; its sleeps land in `self.sleeps`."""
        return GitHubClient.from_settings(self.settings(**overrides), sleep=self.sleeps.append)

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        path = parts.path[len(self._prefix) :] or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body
        body = json.loads(raw) if raw else None
        auth = request.headers.get("Authorization", "")
        self.calls.append(Call(request.method, path, query, body, auth))
        for fault in self.faults:
            if fault.method == request.method and fault.path_re.search(path) and fault.times:
                fault.times -= 1
                if fault.perform:
                    self._route(request.method, path, query, body, auth)
                return (
                    fault.status,
                    {"content-type": "application/json", **fault.headers},
                    (json.dumps(fault.body)),
                )
        status, headers, data = self._route(request.method, path, query, body, auth)
        return status, {"content-type": "application/json", **headers}, json.dumps(data)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any, auth: str) -> Answer:
        for verb, pattern, handler in self._routes:
            m = pattern.fullmatch(path)
            if verb == method and m:
                try:
                    return handler(*m.groups(), query=query, body=body, auth=auth)
                except KeyError:
                    return _not_found()
        return _not_found()

    def _author(self, auth: str) -> dict[str, Any]:
        token = auth.split(" ", 1)[-1]
        if token in self.installation_tokens:
            return user(f"{self.app_slug}[bot]", bot=True, user_id=9)
        if self.viewer_bot is not None:
            return user(self.viewer_bot, bot=True, user_id=11)
        return user(self.login, user_id=7)

    def _page(self, path: str, items: list[Any], query: dict[str, str]) -> Answer:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("next", page + 1), ("last", last)):
            if number <= last and page < last:
                q = urlencode({**query, "per_page": per_page, "page": number})
                links.append(f'<{self.base_url}{path}?{q}>; rel="{rel}"')
        headers = {"link": ", ".join(links)} if links else {}
        return 200, headers, items[(page - 1) * per_page : page * per_page]

    # -- handlers --------------------------------------------------------------------------

    def _get_user(self, *, auth: str, **_: Any) -> Answer:
        if not auth.startswith("token "):
            return 401, {}, {"message": "Requires authentication"}
        if self.viewer_bot is not None or auth.split(" ", 1)[-1] in self.installation_tokens:
            return 403, {}, {"message": "Resource not accessible by integration"}
        return 200, {}, self._author(auth)

    def _post_graphql(self, *, body: Any, auth: str, **_: Any) -> Answer:
        return self.graphql.answer(body, auth)

    def _dispatch_graphql(self, request: Any) -> tuple[int, dict[str, str], str]:
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body
        body = json.loads(raw) if raw else None
        auth = request.headers.get("Authorization", "")
        self.calls.append(Call(request.method, "/graphql", {}, body, auth))
        status, headers, data = self.graphql.answer(body, auth)
        return status, {"content-type": "application/json", **headers}, json.dumps(data)

    def _post_reply(
        self, repo: str, number: str, comment_id: str, *, body: Any, auth: str, **_: Any
    ) -> Answer:
        pull = self._pull(repo, number)
        [first] = [c for c in pull.review_comments if c["id"] == int(comment_id)]
        if first.get("in_reply_to_id"):
            # GitHub: replies to replies are not supported; answer the thread's first comment.
            return _unprocessable("in_reply_to_id must be a top-level comment")
        reply = {
            "id": next(self._ids),
            "user": self._author(auth),
            "body": body["body"],
            "path": first["path"],
            "line": first.get("line"),
            "side": first.get("side", "RIGHT"),
            "commit_id": first.get("commit_id"),
            "in_reply_to_id": first["id"],
        }
        pull.review_comments.append(reply)
        return 201, {}, reply

    def _get_comment_reactions(
        self, repo: str, comment_id: str, *, query: dict[str, str], **_: Any
    ) -> Answer:
        for pull in self.repos[repo].pulls.values():
            if any(c["id"] == int(comment_id) for c in pull.review_comments):
                items = pull.comment_reactions.get(int(comment_id), [])
                return self._page(
                    f"/repos/{repo}/pulls/comments/{comment_id}/reactions", items, query
                )
        return _not_found()

    def _get_app(self, *, auth: str, **_: Any) -> Answer:
        if not auth.startswith("Bearer "):
            return 401, {}, {"message": "A JSON web token could not be decoded"}
        app = {
            "id": 1,
            "slug": self.app_slug,
            "name": "Claude reviewer",
            "permissions": dict(self.app_permissions),
            "events": list(self.app_events),
        }
        return 200, {}, app

    def _get_installations(self, *, auth: str, **_: Any) -> Answer:
        if not auth.startswith("Bearer "):
            return 401, {}, {"message": "A JSON web token could not be decoded"}
        public = [{k: v for k, v in i.items() if k != "repositories"} for i in self.installations]
        return 200, {}, public

    def _get_repo_installation(self, repo: str, *, auth: str, **_: Any) -> Answer:
        if not auth.startswith("Bearer "):
            return 401, {}, {"message": "A JSON web token could not be decoded"}
        owner = repo.split("/")[0]
        for item in self.installations:
            if item["account"]["login"] == owner:
                return 200, {}, {k: v for k, v in item.items() if k != "repositories"}
        return _not_found()

    def _get_installation_repos(self, *, auth: str, **_: Any) -> Answer:
        token = auth.split(" ", 1)[-1]
        if token not in self.installation_tokens:
            return 401, {}, {"message": "Bad credentials"}
        installation_id = self.installation_tokens[token]
        item = next(i for i in self.installations if i["id"] == installation_id)
        names = item["repositories"] or sorted(self.repos)
        repos = [{"full_name": n, "name": n.split("/")[-1]} for n in names]
        return 200, {}, {"total_count": len(repos), "repositories": repos}

    def _get_meta(self, **_: Any) -> Answer:
        meta: dict[str, Any] = {"verifiable_password_authentication": False}
        if self.enterprise_version is not None:
            meta["installed_version"] = self.enterprise_version
        return 200, {}, meta

    def _post_token(self, installation_id: str, *, auth: str, **_: Any) -> Answer:
        if not auth.startswith("Bearer "):
            return 401, {}, {"message": "A JSON web token could not be decoded"}
        token = f"ghs_installation{installation_id}"
        self.installation_tokens[token] = int(installation_id)
        granted = next((i for i in self.installations if i["id"] == int(installation_id)), None)
        answer = {
            "token": token,
            "expires_at": "2099-01-01T00:00:00Z",
            "permissions": granted["permissions"] if granted else {"pull_requests": "write"},
            "repository_selection": "all",
        }
        return 201, {}, answer

    def _pull(self, repo: str, number: str) -> FakePull:
        return self.repos[repo].pulls[int(number)]

    def _get_pull(self, repo: str, number: str, **_: Any) -> Answer:
        return 200, {}, self._pull(repo, number).data

    def _get_files(self, repo: str, number: str, *, query: dict[str, str], **_: Any) -> Answer:
        files = self._pull(repo, number).files[:3000]
        return self._page(f"/repos/{repo}/pulls/{number}/files", files, query)

    def _visible_reviews(self, pull: FakePull, auth: str) -> list[dict[str, Any]]:
        me = self._author(auth)["login"]
        return [r for r in pull.reviews if r["state"] != "PENDING" or r["user"]["login"] == me]

    def _get_reviews(
        self, repo: str, number: str, *, query: dict[str, str], auth: str, **_: Any
    ) -> Answer:
        reviews = self._visible_reviews(self._pull(repo, number), auth)
        return self._page(f"/repos/{repo}/pulls/{number}/reviews", reviews, query)

    def _new_review(
        self, pull: FakePull, author: dict[str, Any], body: str, commit_id: str
    ) -> dict[str, Any]:
        review_id = next(self._ids)
        return {
            "id": review_id,
            "user": author,
            "body": body,
            "state": "PENDING",
            "commit_id": commit_id,
            "html_url": f"https://github.com/{pull.repo}/pull/{pull.data['number']}"
            f"#pullrequestreview-{review_id}",
            "submitted_at": "2026-01-01T00:00:00Z",
            "comments": [],
        }

    def _post_review(self, repo: str, number: str, *, body: Any, auth: str, **_: Any) -> Answer:
        pull = self._pull(repo, number)
        author = self._author(auth)
        if any(
            r["state"] == "PENDING" and r["user"]["login"] == author["login"] for r in pull.reviews
        ):
            return _unprocessable("User can only have one pending review per pull request")
        event = body.get("event")
        if event not in (None, "COMMENT", "REQUEST_CHANGES", "APPROVE"):
            return _unprocessable(f"Unknown event {event!r}")
        if event in ("COMMENT", "REQUEST_CHANGES") and not body.get("body"):
            return _unprocessable("Body is required for this event")
        commit_id = body.get("commit_id") or pull.data["head"]["sha"]
        if commit_id not in pull.known_commits:
            return _unprocessable("No commit found for SHA: " + commit_id)
        if len(body.get("body") or "") >= 65_536:
            return _unprocessable("Body is too long (maximum is 65536 characters)")
        patches = {f["filename"]: commentable(f["patch"]) for f in pull.files if "patch" in f}
        for c in body.get("comments") or []:
            if "position" in c or not self._placeable(c, patches, pull.rejected):
                return _unprocessable("Line could not be resolved")
        review = self._new_review(pull, author, body.get("body") or "", commit_id)
        review["comments"] = list(body.get("comments") or [])
        review["state"] = {
            None: "PENDING",
            "COMMENT": "COMMENTED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
            "APPROVE": "APPROVED",
        }[event]
        if review["state"] == "PENDING":
            del review["submitted_at"]
        else:
            for c in review["comments"]:
                comment = {"id": next(self._ids), "pull_request_review_id": review["id"]}
                comment.update(c, user=author, commit_id=commit_id)
                pull.review_comments.append(comment)
        pull.reviews.append(review)
        return 200, {}, {k: v for k, v in review.items() if k != "comments"}

    @staticmethod
    def _placeable(
        c: dict[str, Any], patches: dict[str, set[tuple[str, int]]], rejected: set[tuple[str, int]]
    ) -> bool:
        lines = patches.get(c.get("path", ""))
        if lines is None or (c.get("path"), c.get("line")) in rejected:
            return False
        if len(c.get("body") or "") >= 65_536 or c.get("side", "RIGHT") not in ("LEFT", "RIGHT"):
            return False
        if (c.get("side", "RIGHT"), c.get("line")) not in lines:
            return False
        if "start_line" in c:
            start = (c.get("start_side", c.get("side", "RIGHT")), c["start_line"])
            return start in lines and c["start_line"] < c["line"]
        return True

    def _delete_review(
        self, repo: str, number: str, review_id: str, *, auth: str, **_: Any
    ) -> Answer:
        pull = self._pull(repo, number)
        for review in self._visible_reviews(pull, auth):
            if review["id"] == int(review_id):
                if review["state"] != "PENDING":
                    return _unprocessable("Can not delete a non-pending pull request review")
                pull.reviews.remove(review)
                return 200, {}, {k: v for k, v in review.items() if k != "comments"}
        return _not_found()

    def _get_comments(self, repo: str, number: str, *, query: dict[str, str], **_: Any) -> Answer:
        items = self._pull(repo, number).review_comments
        return self._page(f"/repos/{repo}/pulls/{number}/comments", items, query)

    def _compare(self, repo: str, base: str, head: str, **_: Any) -> Answer:
        return 200, {}, self.repos[repo].compares[(base, head)]

    def _contents(self, repo: str, path: str, *, query: dict[str, str], **_: Any) -> Answer:
        ref = query.get("ref", "main")
        text = self.repos[repo].contents[(path, ref)]
        encoded = base64.b64encode(text.encode()).decode()
        return (
            200,
            {},
            {
                "type": "file",
                "encoding": "base64",
                "size": len(text.encode()),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)),
            },
        )

    def _post_reaction(
        self, repo: str, comment_id: str, *, body: Any, auth: str, **_: Any
    ) -> Answer:
        reaction = {"id": next(self._ids), "content": body["content"], "user": self._author(auth)}
        self.repo(repo).reactions.setdefault(int(comment_id), []).append(reaction)
        return 201, {}, reaction

    def _permission(self, repo: str, login: str, **_: Any) -> Answer:
        permission = self.repos[repo].permissions[login]
        role = {"admin": "admin", "write": "write", "read": "read", "none": "none"}[permission]
        return 200, {}, {"permission": permission, "role_name": role, "user": user(login)}

    def _get_issue_c(self, repo: str, number: str, *, query: dict[str, str], **_: Any) -> Answer:
        items = self._pull(repo, number).issue_comments
        return self._page(f"/repos/{repo}/issues/{number}/comments", items, query)

    def _post_issue_c(self, repo: str, number: str, *, body: Any, auth: str, **_: Any) -> Answer:
        pull = self._pull(repo, number)
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "body": body["body"],
            "user": self._author(auth),
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
        }
        pull.issue_comments.append(comment)
        return 201, {}, comment

    # -- check runs: GitHub Apps only; at most 50 annotations a request, appended ------------

    def check_runs(self, repo: str) -> list[dict[str, Any]]:
        return self.repo(repo).check_runs

    def _check_run_refusal(self, auth: str, body: Any) -> Answer | None:
        if auth.split(" ", 1)[-1] not in self.installation_tokens:
            return (
                403,
                {},
                {
                    "message": "You must authenticate via a GitHub App.",
                    "documentation_url": "https://docs.github.com/rest/checks/runs#create-a-check-run",
                },
            )
        output = (body or {}).get("output") or {}
        annotations = output.get("annotations") or []
        if len(annotations) > 50:
            return _unprocessable("Only 50 annotations are allowed per request")
        if output and not (output.get("title") and output.get("summary")):
            return _unprocessable("output needs a title and a summary")
        levels = {a.get("annotation_level") for a in annotations}
        if not levels <= {"notice", "warning", "failure"}:
            return _unprocessable(f"annotation_level must be notice, warning or failure: {levels}")
        if (body or {}).get("conclusion") and body.get("status") not in (None, "completed"):
            return _unprocessable("a conclusion needs status completed")
        return None

    def _apply_check_run(self, run: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("name", "head_sha", "external_id", "status", "conclusion"):
            if key in body:
                run[key] = body[key]
        if body.get("conclusion"):
            run["status"] = "completed"
        output = body.get("output")
        if output:
            run["output"].update({k: v for k, v in output.items() if k != "annotations"})
            run["annotations"].extend(output.get("annotations") or [])
            run["output"]["annotations_count"] = len(run["annotations"])

    def _post_check_run(self, repo: str, *, body: Any, auth: str, **_: Any) -> Answer:
        refused = self._check_run_refusal(auth, body)
        if refused is not None:
            return refused
        run: dict[str, Any] = {
            "id": next(self._ids),
            "status": "queued",
            "conclusion": None,
            "external_id": "",
            "output": {"title": None, "summary": None, "annotations_count": 0},
            "annotations": [],
            "app": {"id": 1, "slug": self.app_slug},
        }
        self._apply_check_run(run, body)
        self.repo(repo).check_runs.append(run)
        return 201, {}, {k: v for k, v in run.items() if k != "annotations"}

    def _patch_check_run(self, repo: str, run_id: str, *, body: Any, auth: str, **_: Any) -> Answer:
        refused = self._check_run_refusal(auth, body)
        if refused is not None:
            return refused
        [run] = [r for r in self.repos[repo].check_runs if r["id"] == int(run_id)]
        self._apply_check_run(run, body)
        return 200, {}, {k: v for k, v in run.items() if k != "annotations"}

    def _list_check_runs(
        self, repo: str, sha: str, *, query: dict[str, str], auth: str, **_: Any
    ) -> Answer:
        runs = [
            {k: v for k, v in r.items() if k != "annotations"}
            for r in reversed(self.repos[repo].check_runs)  # newest first, as GitHub lists
            if r["head_sha"] == sha and r["name"] == query.get("check_name", r["name"])
        ]
        status, headers, page = self._page(f"/repos/{repo}/commits/{sha}/check-runs", runs, query)
        return status, headers, {"total_count": len(runs), "check_runs": page}


def _not_found() -> Answer:
    return 404, {}, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


def _unprocessable(error: str) -> Answer:
    return 422, {}, {"message": "Unprocessable Entity", "errors": [error], "status": "422"}


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A FakeGitHub at https://api.github.com; writes unthrottled, sleeps recorded."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeGitHub(rsps)
        monkeypatch.setattr(reviewer.github.client, "WRITE_INTERVAL_S", 0.0)
        monkeypatch.setattr(reviewer.github.client, "DEFAULT_SLEEP", fake.sleeps.append)
        yield fake
