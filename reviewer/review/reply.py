"""The reply use case: answer a person in one of the bot's review threads.

Someone with write access (or the PR's author, when the repository allows it) replies in a
thread the bot started, or mentions the bot in a review thread: the bot answers in that
thread (to its first comment) with the finding, the code around the line and the thread's
capped history as context. A reply saying the finding is wrong ("false positive", "won't
fix") dismisses it instead: the bot records that and says so, without a model call.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from reviewer.core.conversation import Turn, cap_history, code_window, thread_prompt
from reviewer.core.lifecycle import FindingRecord, says_dismiss, thread_fingerprints
from reviewer.core.threads import ReviewThread, normal_login, same_login
from reviewer.errors import BudgetExceeded
from reviewer.model import ConversationResult, ConversationStatus
from reviewer.review.converse import (
    AnswerFailed,
    Asked,
    Conversation,
    check_asker,
    failure_text,
    render_answer,
)
from reviewer.review.ports import ReviewServices

DISMISSED_NOTE = (
    "Understood: this finding is dismissed and will not be raised again on this code in this "
    "pull request."
)


@dataclass(frozen=True)
class ReplyRequest:
    """A new comment in a review thread (`pull_request_review_comment` created)."""

    repo: str
    pr_number: int
    comment_id: int
    author: str
    body: str
    author_is_bot: bool = False
    installation_id: int | None = None
    in_reply_to: int | None = None  # the thread's first comment, when it is a reply
    delivery_id: str | None = None


def answer_reply(request: ReplyRequest, services: ReviewServices) -> ConversationResult:
    """Answer `request` in its thread, dismiss the finding, or ignore it (no spend)."""
    gh = services.pull_requests(request.installation_id)
    repo, number = request.repo, request.pr_number
    if request.author_is_bot or same_login(request.author, gh.bot_login()):
        return ConversationResult("ignored", "written by a bot")
    threads = gh.threads(repo, number)
    thread = _thread_of(threads.all(), request.comment_id)
    bot = gh.bot_login()
    if thread is None or thread.first is None:
        return ConversationResult("ignored", "not a comment in a review thread")
    fingerprints = thread_fingerprints(thread, bot, services.marker_key)
    if not fingerprints and not _mentions(request.body, bot):
        return ConversationResult("ignored", "not one of the bot's threads, and no mention")
    asked = check_asker(services, gh, repo, number, request.author, request.author_is_bot)
    if not isinstance(asked, Asked):
        return asked
    first = thread.first.comment_id
    if fingerprints and says_dismiss(request.body):
        _dismiss(services, repo, number, thread, fingerprints, normal_login(request.author))
        reply_id = threads.reply(first, DISMISSED_NOTE)
        return ConversationResult("dismissed", "the finding was dismissed", comment_id=reply_id)
    options = asked.config.config.conversation
    turns = [
        Turn(c.author, c.body, c.author_is_bot)
        for c in thread.comments[1:]
        if c.comment_id != request.comment_id
    ]
    history = cap_history(
        turns, recent=options.recent_turns, max_tokens=options.max_history_tokens, model=asked.model
    )
    code = code_window(gh.get_file_text(repo, thread.path, asked.pull.head_sha), thread.line)
    prompt = thread_prompt(
        repo=repo, path=thread.path, line=thread.line, finding=thread.first.body, code=code,
        history=history, question=request.body,
    )  # fmt: skip
    talk = Conversation(services, asked, repo, kind="conversation")
    try:
        text = render_answer(talk.ask(prompt))
        status: ConversationStatus = "answered"
    except (BudgetExceeded, AnswerFailed) as exc:
        text, status = failure_text(exc), "failed"
    reply_id = threads.reply(first, text)
    return ConversationResult(status, comment_id=reply_id, cost_usd=talk.cost, calls=talk.calls)


def _thread_of(threads: list[ReviewThread], comment_id: int) -> ReviewThread | None:
    for thread in threads:
        if any(c.comment_id == comment_id for c in thread.comments):
            return thread
    return None


def _mentions(body: str, bot: str) -> bool:
    name = re.escape(normal_login(bot))
    return re.search(rf"(?<![\w-])@{name}(?:\[bot\])?(?![\w-])", body, re.IGNORECASE) is not None


def _dismiss(
    services: ReviewServices,
    repo: str,
    number: int,
    thread: ReviewThread,
    fingerprints: list[str],
    who: str,
) -> None:
    store = services.findings()
    known = {r.fingerprint: r for r in store.for_pull(repo, number)}
    rows = []
    for fp in fingerprints:
        record = known.get(fp) or FindingRecord(
            repository=repo, pr_number=number, fingerprint=fp, path=thread.path,
            line=thread.line, commit_sha="", thread_id=thread.thread_id,
            comment_id=thread.first.comment_id if thread.first else None,
        )  # fmt: skip
        rows.append(
            dataclasses.replace(
                record,
                status="dismissed",
                status_by=who,
                reason="replied that the finding is wrong or will not be fixed",
            )
        )
    store.save(rows)
