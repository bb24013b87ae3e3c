"""GitHub's GraphQL API over the REST client's session: threads, resolving, hiding, `viewer`.

Resolving a review thread (`resolveReviewThread`) and hiding a comment (`minimizeComment`)
exist only in GraphQL, and `viewer { login }` is the one question every token kind answers
(a personal token, an Actions `GITHUB_TOKEN`, another App's installation token). Requests
go through PyGithub's `Requester`, so auth, the HTTP session and the endpoint are the REST
client's: `https://api.github.com/graphql`, or `https://HOST/api/graphql` on GitHub
Enterprise Server (whose REST base is `https://HOST/api/v3`). Writes are never retried.
"""

from __future__ import annotations

from typing import Any, Final

import requests
from github import GithubException
from github.Requester import Requester

from reviewer.core.threads import ReviewThread, ThreadComment, normal_login
from reviewer.errors import GitHubError
from reviewer.github.http import wrap

THREADS_PAGE: Final = 50
COMMENTS_PER_THREAD: Final = 100

VIEWER_QUERY: Final = "query { viewer { login } }"

# `databaseId` on review comments is deprecated (32-bit): `fullDatabaseId` is a BigInt,
# sent as a JSON string. A Bot's `author { login }` has no `[bot]` suffix.
THREADS_QUERY: Final = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: THREADS_PAGE, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated path line
          resolvedBy { login }
          comments(first: COMMENTS_PAGE) {
            nodes { id fullDatabaseId body isMinimized author { __typename login } }
          }
        }
      }
    }
  }
}
""".replace("THREADS_PAGE", str(THREADS_PAGE)).replace("COMMENTS_PAGE", str(COMMENTS_PER_THREAD))

RESOLVE_MUTATION: Final = """
mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }
"""

MINIMIZE_MUTATION: Final = """
mutation($id: ID!) {
  minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) {
    minimizedComment { isMinimized }
  }
}
"""


class GraphQLClient:
    """A small GraphQL client for one identity, sharing the REST client's `Requester`."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    @property
    def url(self) -> str:
        """The GraphQL endpoint of the configured API URL (GHES: `/api/graphql`)."""
        return str(self._requester.graphql_url)

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one query or mutation; return its `data` (GitHubError on any error)."""
        body = {"query": query, "variables": variables or {}}
        try:
            _, answer = self._requester.requestJsonAndCheck("POST", self.url, input=body)
        except GithubException as exc:
            raise wrap(exc, "POST", self.url) from exc
        except requests.RequestException as exc:
            raise GitHubError(
                f"GitHub GraphQL failed: {type(exc).__name__}", retryable=True
            ) from exc
        if not isinstance(answer, dict):
            raise GitHubError("GitHub GraphQL answered something that is not a JSON object")
        errors = answer.get("errors")
        if errors:
            first = errors[0] if isinstance(errors, list) and errors else {}
            message = first.get("message") if isinstance(first, dict) else None
            kind = first.get("type") if isinstance(first, dict) else None
            status = {"NOT_FOUND": 404, "FORBIDDEN": 403}.get(str(kind))
            raise GitHubError(
                f"GitHub GraphQL failed: {message or 'unknown error'}", status_code=status
            )
        data = answer.get("data")
        if not isinstance(data, dict):
            raise GitHubError("GitHub GraphQL answered without data")
        return data

    def viewer_login(self) -> str:
        """The token's own login, exactly as GitHub spells it (`name[bot]` for an App)."""
        data = self.execute(VIEWER_QUERY)
        login = (data.get("viewer") or {}).get("login")
        if not isinstance(login, str) or not login:
            raise GitHubError("GitHub GraphQL did not say who the token belongs to")
        return login

    def review_threads(self, repo: str, number: int) -> list[ReviewThread]:
        """Every review thread of the pull request, oldest first."""
        owner, _, name = repo.partition("/")
        threads: list[ReviewThread] = []
        after: str | None = None
        while True:
            variables = {"owner": owner, "name": name, "number": number, "after": after}
            data = self.execute(THREADS_QUERY, variables)
            pull = ((data.get("repository") or {}).get("pullRequest")) or {}
            page = pull.get("reviewThreads") or {}
            threads.extend(_thread(node) for node in page.get("nodes") or ())
            info = page.get("pageInfo") or {}
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not after:
                return threads

    def resolve_thread(self, thread_id: str) -> None:
        """Mark a review thread resolved."""
        self.execute(RESOLVE_MUTATION, {"id": thread_id})

    def minimize_comment(self, node_id: str) -> None:
        """Hide a comment as outdated."""
        self.execute(MINIMIZE_MUTATION, {"id": node_id})


def _thread(node: dict[str, Any]) -> ReviewThread:
    comments = tuple(_comment(c) for c in ((node.get("comments") or {}).get("nodes") or ()) if c)
    resolver = (node.get("resolvedBy") or {}).get("login")
    line = node.get("line")
    return ReviewThread(
        thread_id=str(node.get("id") or ""),
        is_resolved=bool(node.get("isResolved")),
        is_outdated=bool(node.get("isOutdated")),
        path=str(node.get("path") or ""),
        line=int(line) if isinstance(line, int) else None,
        comments=comments,
        resolved_by=normal_login(resolver) if isinstance(resolver, str) else None,
    )


def _comment(node: dict[str, Any]) -> ThreadComment:
    author = node.get("author") or {}  # null for a deleted account ("ghost")
    login = author.get("login")
    return ThreadComment(
        comment_id=int(node.get("fullDatabaseId") or 0),
        node_id=str(node.get("id") or ""),
        author=normal_login(login) if isinstance(login, str) else "ghost",
        author_is_bot=author.get("__typename") == "Bot",
        body=str(node.get("body") or ""),
        minimized=bool(node.get("isMinimized")),
    )
