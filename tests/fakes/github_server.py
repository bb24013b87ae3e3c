"""A fake GitHub REST API on loopback, for the reviewer run in another process.

The `responses` fake (github_api.py) patches `requests` inside the test process; a
subprocess such as `reviewer action` needs a real socket. This one serves, from a small
state the test sets, what the GitHub adapter asks for, and records what it is sent:

    gh = FakeGitHub.start(repo="o/r")
    gh.add_pull(pull_request_json, files=[{"filename": "a.py", "patch": "@@ ..."}])
    gh.permissions["writer"] = "write"
    ... run with GITHUB_API_URL=gh.api_url ...
    assert gh.review_posts[0]["event"] == "COMMENT"

Anything not modelled answers 404 and lands in `unhandled`, so a test can insist on none.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

# What GitHub answers when an Actions GITHUB_TOKEN asks who it is.
NOT_ACCESSIBLE = {
    "message": "Resource not accessible by integration",
    "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
    "status": "403",
}
BOT_LOGIN = "github-actions[bot]"
REVIEW_EVENTS = {"COMMENT": "COMMENTED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}

Handler = Callable[["FakeGitHub", Request, re.Match[str]], Response]
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for `method` and a path regex relative to /repos/{owner}/{name}."""

    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, re.compile(pattern + r"$"), handler))
        return handler

    return register


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=dict(headers or {}),
                    mimetype="application/json")  # fmt: skip


def _not_found() -> Response:
    return _json({"message": "Not Found", "status": "404"}, 404)


@dataclass
class FakeGitHub:
    """The state of one fake repository and everything the client sent it."""

    server: HTTPServer
    repo: str = "Codertocat/Hello-World"
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    contents: dict[str, str] = field(default_factory=dict)  # path → text at any ref
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    review_posts: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    issue_comments: list[dict[str, Any]] = field(default_factory=list)
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    check_run_writes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    authorizations: set[str] = field(default_factory=set)
    unhandled: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1001)
        self.server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)

    @property
    def api_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def add_pull(self, pull_request: Mapping[str, Any], files: list[dict[str, Any]]) -> None:
        """Serve `pull_request` (a REST pull request object) with its changed `files`."""
        number = int(pull_request["number"])
        data = json.loads(json.dumps(pull_request))
        data["changed_files"] = len(files)
        self.pulls[number] = data
        self.files[number] = [dict(f) for f in files]
        self.reviews.setdefault(number, [])

    def posted_reviews(self) -> list[dict[str, Any]]:
        """Submitted (not pending) reviews on every pull request."""
        return [r for rs in self.reviews.values() for r in rs if r["state"] != "PENDING"]

    # -- dispatch --------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.method, request.path))
            if "Authorization" in request.headers:
                self.authorizations.add(request.headers["Authorization"])
            try:
                return self._dispatch(request)
            except Exception as exc:  # a bug in the fake must fail the test, not hang it
                self.errors.append(f"{request.method} {request.path}: {exc!r}")
                return _json({"message": f"fake GitHub error: {exc!r}"}, 500)

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/user" and request.method == "GET":
            return _json(NOT_ACCESSIBLE, 403)
        prefix = f"/repos/{self.repo}"
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            for method, pattern, handler in _ROUTES:
                match = pattern.match(rest)
                if match and method == request.method:
                    return handler(self, request, match)
        self.unhandled.append(f"{request.method} {path}")
        return _not_found()

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        """One page of `items`, with GitHub's `Link: <...>; rel="next"` header."""
        per_page = int(request.args.get("per_page", 30))
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            url = f"{self.api_url}{request.path}?per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{url}>; rel="next"'
        return _json(chunk, headers=headers)

    def _pull(self, match: re.Match[str]) -> dict[str, Any] | None:
        return self.pulls.get(int(match["number"]))


@route("GET", r"/pulls/(?P<number>\d+)")
def _get_pull(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    pull = gh._pull(match)
    return _json(pull) if pull is not None else _not_found()


@route("GET", r"/pulls/(?P<number>\d+)/files")
def _get_files(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    number = int(match["number"])
    return gh._page(request, gh.files[number]) if number in gh.files else _not_found()


@route("GET", r"/pulls/(?P<number>\d+)/reviews")
def _get_reviews(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    return gh._page(request, gh.reviews.get(int(match["number"]), []))


@route("POST", r"/pulls/(?P<number>\d+)/reviews")
def _post_review(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    number = int(match["number"])
    pull = gh._pull(match)
    if pull is None:
        return _not_found()
    body = json.loads(request.get_data(as_text=True))
    gh.review_posts.append(body)
    event = body.get("event")
    if event is not None and event not in REVIEW_EVENTS:
        return _json({"message": "Unprocessable Entity", "errors": ["bad event"]}, 422)
    known = {f["filename"] for f in gh.files.get(number, [])}
    for comment in body.get("comments") or []:
        if comment.get("path") not in known or comment.get("side") not in ("LEFT", "RIGHT"):
            return _json(
                {"message": "Unprocessable Entity", "errors": ["Line could not be resolved"]}, 422
            )
    review_id = next(gh._ids)
    review = {
        "id": review_id,
        "user": {"login": BOT_LOGIN, "type": "Bot"},
        "body": body.get("body") or "",
        "state": REVIEW_EVENTS.get(event, "PENDING"),
        "commit_id": body.get("commit_id") or pull["head"]["sha"],
        "html_url": f"https://github.com/{gh.repo}/pull/{number}#pullrequestreview-{review_id}",
        "comments": body.get("comments") or [],
    }
    gh.reviews.setdefault(number, []).append(review)
    return _json({k: v for k, v in review.items() if k != "comments"})


@route("DELETE", r"/pulls/(?P<number>\d+)/reviews/(?P<review>\d+)")
def _delete_review(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    reviews = gh.reviews.get(int(match["number"]), [])
    for review in reviews:
        if review["id"] == int(match["review"]) and review["state"] == "PENDING":
            reviews.remove(review)
            return _json({k: v for k, v in review.items() if k != "comments"})
    return _json({"message": "Unprocessable Entity"}, 422)


@route("GET", r"/pulls/(?P<number>\d+)/comments")
def _get_review_comments(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    number = int(match["number"])
    comments = [
        {**c, "user": r["user"], "pull_request_review_id": r["id"]}
        for r in gh.reviews.get(number, [])
        if r["state"] != "PENDING"
        for c in r["comments"]
    ]
    return gh._page(request, comments)


@route("GET", r"/compare/(?P<spec>.+)")
def _compare(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    return _not_found()  # no history modelled: the client reviews the whole pull request


@route("GET", r"/contents/(?P<path>.+)")
def _contents(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    path = unquote(match["path"])
    if path not in gh.contents:
        return _not_found()
    raw = gh.contents[path].encode("utf-8")
    return _json(
        {
            "type": "file",
            "path": path,
            "encoding": "base64",
            "size": len(raw),
            "content": base64.b64encode(raw).decode("ascii"),
        }
    )


@route("GET", r"/collaborators/(?P<login>[^/]+)/permission")
def _permission(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    login = unquote(match["login"])
    permission = gh.permissions.get(login)
    if permission is None:
        return _json({"message": f"{login} is not a user"}, 404)
    return _json(
        {
            "permission": permission,
            "role_name": permission,
            "user": {"login": login, "type": "User"},
        }
    )


@route("POST", r"/issues/comments/(?P<comment>\d+)/reactions")
def _reaction(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    body = json.loads(request.get_data(as_text=True))
    gh.reactions.append({"comment_id": int(match["comment"]), **body})
    return _json({"id": next(gh._ids), "content": body.get("content")}, 201)


@route("POST", r"/issues/(?P<number>\d+)/comments")
def _issue_comment(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    body = json.loads(request.get_data(as_text=True))
    comment_id = next(gh._ids)
    url = f"https://github.com/{gh.repo}/pull/{match['number']}#issuecomment-{comment_id}"
    gh.issue_comments.append({"number": int(match["number"]), **body})
    return _json({"id": comment_id, "html_url": url, "body": body.get("body")}, 201)


@route("POST", r"/check-runs")
def _create_check_run(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    body = json.loads(request.get_data(as_text=True))
    gh.check_run_writes.append(("POST", body))
    run = {"id": next(gh._ids), "conclusion": None, **body, "annotations": []}
    run["annotations"] = list((body.get("output") or {}).pop("annotations", []))
    gh.check_runs.append(run)
    return _json({k: v for k, v in run.items() if k != "annotations"}, 201)


@route("PATCH", r"/check-runs/(?P<run>\d+)")
def _update_check_run(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    body = json.loads(request.get_data(as_text=True))
    gh.check_run_writes.append(("PATCH", body))
    [run] = [r for r in gh.check_runs if r["id"] == int(match["run"])]
    output = dict(body.get("output") or {})
    run["annotations"] += output.pop("annotations", [])
    run.update({k: v for k, v in body.items() if k != "output"})
    run.setdefault("output", {}).update(output)
    return _json({k: v for k, v in run.items() if k != "annotations"})


@route("GET", r"/commits/(?P<sha>\w+)/check-runs")
def _list_check_runs(gh: FakeGitHub, request: Request, match: re.Match[str]) -> Response:
    runs = [
        {k: v for k, v in r.items() if k != "annotations"}
        for r in gh.check_runs
        if r["head_sha"] == match["sha"] and r["name"] == request.args.get("check_name")
    ]
    return _json({"total_count": len(runs), "check_runs": runs})


@contextmanager
def serve(repo: str = "Codertocat/Hello-World") -> Iterator[FakeGitHub]:
    """A fake GitHub on its own loopback port, stopped on exit."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield FakeGitHub(server, repo=repo)
    finally:
        server.clear()
        server.stop()


@pytest.fixture
def github_server() -> Iterator[FakeGitHub]:
    """A fake GitHub apart from the fake Messages API (list this module in pytest_plugins)."""
    with serve() as fake:
        yield fake
