"""A pull request's review threads: list, reply, resolve, hide, and read 👎 reactions.

Listing, resolving and hiding are GraphQL only (`reviewer.github.graphql`); a reply is REST
(`POST /pulls/{n}/comments/{id}/replies`) and must target the thread's first comment.
"""

from __future__ import annotations

from reviewer.core.threads import ReviewThread, normal_login
from reviewer.github import payloads
from reviewer.github.graphql import GraphQLClient
from reviewer.github.probe import Paginate, Request


class ThreadActions:
    """The review threads of one pull request, for one identity."""

    def __init__(
        self,
        graphql: GraphQLClient,
        request: Request,
        paginate: Paginate,
        pulls_url: str,
        repo: str,
        number: int,
    ) -> None:
        self._graphql, self._request, self._paginate = graphql, request, paginate
        self._pulls_url = pulls_url  # /repos/{o}/{r}/pulls
        self.repo, self.number = repo, number

    def all(self) -> list[ReviewThread]:
        """Every review thread, with resolution and comments (GraphQL `reviewThreads`)."""
        return self._graphql.review_threads(self.repo, self.number)

    def resolve(self, thread_id: str) -> None:
        self._graphql.resolve_thread(thread_id)

    def minimize(self, node_id: str) -> None:
        """Hide a comment as OUTDATED."""
        self._graphql.minimize_comment(node_id)

    def reply(self, first_comment_id: int, body: str) -> int:
        """Answer in a thread (to its first comment); return the new comment's id."""
        url = f"{self._pulls_url}/{self.number}/comments/{first_comment_id}/replies"
        _, data = self._request("POST", url, body=payloads.issue_comment_body(body))
        return int(data.get("id") or 0)

    def thumbs_down(self, comment_id: int) -> list[str]:
        """Normalised logins of who reacted 👎 to a review comment."""
        url = f"{self._pulls_url}/comments/{comment_id}/reactions"
        return [
            normal_login(str((r.get("user") or {}).get("login") or ""))
            for r in self._paginate(url)
            if r.get("content") == "-1"
        ]
