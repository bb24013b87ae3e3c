"""The ask use case: `/ask <question>` in a pull request's conversation, answered there.

The diff is planned as for a review (filters, chunks within the model's budget). A diff of
one chunk is asked about in one call; a larger one is asked about chunk by chunk (at most
`MAX_PARTS`, the rest named as not read), then one more call merges the partial answers.
Every call is reserved against the budgets and written to the ledger with kind `ask`.
"""

from __future__ import annotations

from dataclasses import dataclass

from reviewer.core.conversation import ask_prompt, combine_prompt
from reviewer.core.render import render_part
from reviewer.core.summary import plural
from reviewer.errors import BudgetExceeded
from reviewer.model import ConversationResult, ConversationStatus, ReviewRequest, ReviewTarget
from reviewer.review.converse import (
    AnswerFailed,
    Asked,
    Conversation,
    check_asker,
    failure_text,
    render_answer,
)
from reviewer.review.pipeline import plan_review
from reviewer.review.ports import ReviewServices

COMMAND = "/ask"
MAX_PARTS = 8


@dataclass(frozen=True)
class AskRequest:
    """An `/ask` comment on a pull request (`issue_comment` created)."""

    repo: str
    pr_number: int
    question: str
    requested_by: str
    requested_by_bot: bool = False
    comment_id: int | None = None
    installation_id: int | None = None
    delivery_id: str | None = None


def question_of(body: str) -> str | None:
    """The question of an `/ask <question>` comment, or None when it is not one."""
    words = body.strip().split(maxsplit=1)
    if not words or words[0] != COMMAND:
        return None
    return words[1].strip() if len(words) > 1 else ""


def answer_question(request: AskRequest, services: ReviewServices) -> ConversationResult:
    """Answer `request` as an issue comment, or ignore it (no spend)."""
    gh = services.pull_requests(request.installation_id)
    repo, number = request.repo, request.pr_number
    asked = check_asker(services, gh, repo, number, request.requested_by, request.requested_by_bot)
    if not isinstance(asked, Asked):
        return asked
    if not request.question.strip():
        url = gh.post_issue_comment(repo, number, "Ask a question after `/ask`.")
        return ConversationResult("refused", "no question", html_url=url)
    if request.comment_id is not None:
        gh.add_reaction(repo, request.comment_id, "eyes")
    diff, notes = gh.get_pull_files_diff(repo, number)
    target = ReviewTarget(
        repo=repo, diff=diff, pr_number=number, head_sha=asked.pull.head_sha,
        title=asked.pull.title, description=asked.pull.body,
    )  # fmt: skip
    plan = plan_review(ReviewRequest(repo, number, model=asked.model), services, target)
    chunks = plan.chunks[:MAX_PARTS]
    left = [path for chunk in plan.chunks[MAX_PARTS:] for path in chunk.files]
    if left:
        notes.append(f"Too large to read whole: {plural(len(left), 'file')} not read.")
    talk = Conversation(services, asked, repo, kind="ask")
    try:
        partials = []
        for chunk in chunks:
            part = (
                f"Part {chunk.index + 1} of {len(chunks)} of the diff." if len(chunks) > 1 else ""
            )
            diff_text = "".join(render_part(p) for p in chunk.parts)
            prompt = ask_prompt(
                repo=repo, title=asked.pull.title, diff=diff_text, question=request.question,
                part=part,
            )  # fmt: skip
            partials.append(talk.ask(prompt, chunk_index=chunk.index))
        if not partials:
            text = "There is no reviewable change in this pull request to answer from."
        elif len(partials) == 1:
            text = partials[0]
        else:
            merge = combine_prompt(question=request.question, partials=partials)
            text = talk.ask(merge, chunk_index=len(chunks))
        body = render_answer(text, notes=notes)
        status: ConversationStatus = "answered"
    except (BudgetExceeded, AnswerFailed) as exc:
        body, status = failure_text(exc), "failed"
    url = gh.post_issue_comment(repo, number, body)
    return ConversationResult(status, html_url=url, cost_usd=talk.cost, calls=talk.calls)
