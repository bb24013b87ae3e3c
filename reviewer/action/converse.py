"""The Action's conversation events: a reply in a review thread, `/ask`, a thread resolved.

`reviewer action` hands these to the same use cases as the App (`reviewer.review.reply`,
`reviewer.review.ask`, `reviewer.review.history.follow_thread`); the workflow must listen
to `pull_request_review_comment`, `pull_request_review_thread` and `issue_comment`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reviewer.model import ConversationResult
from reviewer.review.ask import AskRequest, answer_question, question_of
from reviewer.review.history import ThreadEvent, follow_thread
from reviewer.review.ports import ReviewServices
from reviewer.review.reply import ReplyRequest, answer_reply

Job = Callable[[ReviewServices], ConversationResult]


def conversation_job(
    event_name: str, payload: Mapping[str, Any], repo: str, *, command: str
) -> Job | str | None:
    """The use case an event asks for; a reason (str) when it is to be ignored; None when
    the event is not a conversation (a review event, or a `/review` comment)."""
    action = payload.get("action")
    sender = payload.get("sender") or {}
    if event_name == "issue_comment":
        comment = payload.get("comment") or {}
        question = question_of(str(comment.get("body") or ""))
        if question is None or command == "/ask":
            return None
        issue = payload.get("issue") or {}
        user = comment.get("user") or {}
        number, login = issue.get("number"), user.get("login")
        if action != "created" or not issue.get("pull_request"):
            return "`/ask` is answered on pull requests, when the comment is created."
        if not isinstance(number, int) or not isinstance(login, str):
            return "the issue_comment event lacks the issue number or the user"
        ask = AskRequest(
            repo, number, question=question, requested_by=login,
            requested_by_bot=user.get("type") == "Bot", comment_id=comment.get("id"),
        )  # fmt: skip
        return lambda services: answer_question(ask, services)
    pull = payload.get("pull_request") or {}
    number = pull.get("number")
    if event_name == "pull_request_review_comment":
        comment = payload.get("comment") or {}
        user = comment.get("user") or {}
        login, comment_id = user.get("login"), comment.get("id")
        if action != "created":
            return f"`pull_request_review_comment` with action `{action}` is not answered."
        if not isinstance(number, int) or not isinstance(comment_id, int) or not login:
            return "the pull_request_review_comment event lacks the PR, the comment or the user"
        reply = ReplyRequest(
            repo, number, comment_id=comment_id, author=str(login),
            body=str(comment.get("body") or ""), author_is_bot=user.get("type") == "Bot",
            in_reply_to=comment.get("in_reply_to_id"),
        )  # fmt: skip
        return lambda services: answer_reply(reply, services)
    if event_name == "pull_request_review_thread":
        if action not in ("resolved", "unresolved") or not isinstance(number, int):
            return f"`pull_request_review_thread` with action `{action}` is not followed."
        if sender.get("type") == "Bot":
            return "The thread was changed by a bot."
        event = ThreadEvent(repo, number, str(action))
        return lambda services: follow_thread(event, services)
    return None
