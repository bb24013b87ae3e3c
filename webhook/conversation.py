"""Run the conversation jobs of the App: a reply in a thread, `/ask`, a thread resolved."""

from __future__ import annotations

from reviewer.model import ConversationResult, ConversationStatus, ReviewResult, Status
from reviewer.review.ask import AskRequest, answer_question
from reviewer.review.history import ThreadEvent, follow_thread
from reviewer.review.ports import ReviewServices
from reviewer.review.reply import ReplyRequest, answer_reply

# A conversation job's outcome, as the job metrics and the delivery store name outcomes.
_STATUS: dict[ConversationStatus, Status] = {
    "answered": "reviewed",
    "dismissed": "reviewed",
    "ignored": "skipped",
    "refused": "refused",
    "failed": "failed",
}


def run_conversation(
    kind: str,
    services: ReviewServices,
    *,
    repo: str,
    pr_number: int,
    installation_id: int,
    login: str | None,
    comment_id: int | None,
    text: str | None,
    in_reply_to: int | None,
    action: str | None,
) -> ReviewResult:
    """Run one conversation job (`kind` reply, ask or thread) and say how it ended."""
    result: ConversationResult
    if kind == "reply":
        assert login is not None and comment_id is not None
        request = ReplyRequest(
            repo, pr_number, comment_id=comment_id, author=login, body=text or "",
            installation_id=installation_id, in_reply_to=in_reply_to,
        )  # fmt: skip
        result = answer_reply(request, services)
    elif kind == "ask":
        assert login is not None
        ask = AskRequest(
            repo, pr_number, question=text or "", requested_by=login, comment_id=comment_id,
            installation_id=installation_id,
        )  # fmt: skip
        result = answer_question(ask, services)
    else:
        event = ThreadEvent(repo, pr_number, action or "", installation_id=installation_id)
        result = follow_thread(event, services)
    reason = f"{kind}: {result.status}" + (f" ({result.reason})" if result.reason else "")
    return ReviewResult(status=_STATUS[result.status], reason=reason, cost_usd=result.cost_usd)
