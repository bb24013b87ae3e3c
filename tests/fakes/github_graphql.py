"""GitHub's GraphQL endpoint for the REST fake (`tests/fakes/github_api.py`), on its state.

It answers the four operations the reviewer sends, as GitHub does:
- `viewer { login }`: the token's login as REST spells it (`slug[bot]` for an installation);
- `reviewThreads`: threads built from the pull's review comments (a thread is a first comment
  and its replies, `in_reply_to_id`), with `fullDatabaseId` as a string (a BigInt) and a
  Bot's `author { login }` without the `[bot]` suffix;
- `resolveReviewThread` and `minimizeComment` (classifier OUTDATED), recorded on the pull.

Threads are addressed as `PRRT_<first comment id>`, comments as `PRRC_<id>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.github_api import Answer, FakeGitHub, FakePull


def thread_id(first_comment_id: int) -> str:
    return f"PRRT_{first_comment_id}"


class FakeGraphQL:
    """Answers POST /graphql for a FakeGitHub; every operation is recorded in `operations`."""

    def __init__(self, github: FakeGitHub) -> None:
        self.github = github
        self.operations: list[tuple[str, dict[str, Any]]] = []

    def answer(self, body: Any, auth: str) -> Answer:
        query = str((body or {}).get("query") or "")
        variables = dict((body or {}).get("variables") or {})
        if "viewer" in query:
            self.operations.append(("viewer", variables))
            return 200, {}, {"data": {"viewer": {"login": self.github.viewer_login(auth)}}}
        if "resolveReviewThread" in query:
            self.operations.append(("resolveReviewThread", variables))
            return self._resolve(str(variables["id"]), auth)
        if "minimizeComment" in query:
            self.operations.append(("minimizeComment", variables))
            return self._minimize(str(variables["id"]))
        if "reviewThreads" in query:
            self.operations.append(("reviewThreads", variables))
            return self._threads(variables)
        return 200, {}, {"errors": [{"message": "unknown operation"}]}

    def _find(self, first_id: int) -> FakePull | None:
        for repo in self.github.repos.values():
            for pull in repo.pulls.values():
                if any(c["id"] == first_id for c in pull.review_comments):
                    return pull
        return None

    def _resolve(self, node_id: str, auth: str) -> Answer:
        first = int(node_id.removeprefix("PRRT_"))
        pull = self._find(first)
        if pull is None:
            return _not_found(node_id)
        state = pull.threads.setdefault(first, {})
        state["resolved"] = True
        state["resolved_by"] = self.github.viewer_login(auth)
        thread = {"id": node_id, "isResolved": True}
        return 200, {}, {"data": {"resolveReviewThread": {"thread": thread}}}

    def _minimize(self, node_id: str) -> Answer:
        comment_id = int(node_id.removeprefix("PRRC_"))
        pull = self._find(comment_id)
        if pull is None:
            return _not_found(node_id)
        pull.minimized.add(comment_id)
        answer = {"minimizeComment": {"minimizedComment": {"isMinimized": True}}}
        return 200, {}, {"data": answer}

    def _threads(self, variables: dict[str, Any]) -> Answer:
        repo = f"{variables['owner']}/{variables['name']}"
        pull = self.github.repos[repo].pulls[int(variables["number"])]
        roots = [c for c in pull.review_comments if not c.get("in_reply_to_id")]
        nodes = []
        for root in roots:
            replies = [c for c in pull.review_comments if c.get("in_reply_to_id") == root["id"]]
            state = pull.threads.get(root["id"], {})
            resolver = state.get("resolved_by")
            nodes.append(
                {
                    "id": thread_id(root["id"]),
                    "isResolved": bool(state.get("resolved")),
                    "isOutdated": bool(state.get("outdated")),
                    "path": root.get("path"),
                    "line": root.get("line"),
                    "resolvedBy": {"login": _graphql_login(resolver)} if resolver else None,
                    "comments": {"nodes": [self._comment(pull, c) for c in [root, *replies]]},
                }
            )
        # One page is enough for the tests; pageInfo says so.
        page = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": nodes}
        data = {"repository": {"pullRequest": {"reviewThreads": page}}}
        return 200, {}, {"data": data}

    @staticmethod
    def _comment(pull: FakePull, comment: dict[str, Any]) -> dict[str, Any]:
        author = comment.get("user") or {}
        is_bot = author.get("type") == "Bot"
        return {
            "id": f"PRRC_{comment['id']}",
            "fullDatabaseId": str(comment["id"]),  # a BigInt: GitHub sends a string
            "body": comment.get("body") or "",
            "isMinimized": comment["id"] in pull.minimized,
            "author": {
                "__typename": "Bot" if is_bot else "User",
                "login": _graphql_login(str(author.get("login") or ""))
                if is_bot
                else author.get("login"),
            },
        }


def _graphql_login(login: str) -> str:
    """A Bot's login as GraphQL's `author` spells it: no `[bot]` suffix."""
    return login.removesuffix("[bot]")


def _not_found(node_id: str) -> Answer:
    error = {
        "type": "NOT_FOUND",
        "message": f"Could not resolve to a node with the global id of '{node_id}'",
    }
    return 200, {}, {"data": None, "errors": [error]}
