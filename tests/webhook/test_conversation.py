"""The App's conversation triggers: replies in review threads, threads resolved, `/ask`."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import webhook.jobs
from reviewer.model import ReviewRequest, ReviewResult
from reviewer.review.ports import ReviewServices
from reviewer.settings import Settings
from tests.queues import consuming, drop_queue
from tests.webhook.test_app import app, client, deliver, load, pr_comment, queued, settings
from tests.webhook.test_jobs import wait_for
from webhook.jobs import JobQueue, ReviewJob

__all__ = ["app", "client", "queued", "settings"]  # fixtures


def review_comment(
    body: str = "Why?", *, user_type: str = "User", action: str = "created", reply_to: Any = 11
) -> dict[str, Any]:
    # Derived fixture: a pull_request_review_comment delivery carries the same pull_request
    # and repository objects as the recorded pull_request one, and the comment.
    payload = load("pull_request.opened")
    payload["action"] = action
    payload["comment"] = {
        "id": 12,
        "body": body,
        "path": "README.md",
        "line": 3,
        "in_reply_to_id": reply_to,
        "user": {"login": "octocat", "type": user_type},
    }
    return payload


def thread_event(action: str, sender_type: str = "User") -> dict[str, Any]:
    payload = load("pull_request.opened")
    payload["action"] = action
    payload["thread"] = {"node_id": "PRRT_1", "comments": []}
    payload["sender"]["type"] = sender_type
    return payload


def test_a_reply_in_a_review_thread_queues_a_reply_job(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    response = deliver(client, "pull_request_review_comment", review_comment("Why is it bad?"))
    assert response.status_code == 202 and response.json["status"] == "queued"
    [job] = queued
    assert (job.kind, job.comment_id, job.in_reply_to, job.text) == (
        "reply",
        12,
        11,
        "Why is it bad?",
    )
    assert job.requested_by == "octocat" and job.installation_id is not None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (review_comment(user_type="Bot"), "comment by a bot"),
        (review_comment(action="edited"), "action 'edited' is not handled"),
    ],
)
def test_review_comments_that_need_no_answer(
    client: FlaskClient, queued: list[ReviewJob], payload: dict[str, Any], reason: str
) -> None:
    response = deliver(client, "pull_request_review_comment", payload)
    assert response.status_code == 202 and reason in response.json["reason"]
    assert queued == []


def test_a_malformed_reply_is_a_bad_request(client: FlaskClient, queued: list[ReviewJob]) -> None:
    response = deliver(client, "pull_request_review_comment", review_comment(reply_to="11"))
    assert response.status_code == 400 and "in_reply_to_id" in response.json["reason"]
    assert queued == []


@pytest.mark.parametrize("action", ["resolved", "unresolved"])
def test_a_thread_resolved_or_unresolved_by_a_person_is_followed(
    client: FlaskClient, queued: list[ReviewJob], action: str
) -> None:
    assert deliver(client, "pull_request_review_thread", thread_event(action)).status_code == 202
    [job] = queued
    assert (job.kind, job.action) == ("thread", action)


def test_the_bot_resolving_its_own_thread_is_ignored(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    deliver(client, "pull_request_review_thread", thread_event("resolved", "Bot"))
    assert queued == []


def test_ask_queues_an_ask_job_with_its_question(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    deliver(client, "issue_comment", pr_comment("/ask what does this change break?"))
    [job] = queued
    assert (job.kind, job.command, job.text) == ("ask", "/ask", "what does this change break?")


def test_a_worker_runs_a_conversation_job_through_its_use_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webhook import conversation

    seen: list[Any] = []

    def fake_reply(request: Any, services: ReviewServices) -> Any:
        seen.append(request)
        from reviewer.model import ConversationResult

        return ConversationResult("answered")

    monkeypatch.setattr(conversation, "answer_reply", fake_reply)
    result = conversation.run_conversation(
        "reply", None, repo="o/r", pr_number=7, installation_id=1,  # type: ignore[arg-type]
        login="octocat", comment_id=12, text="Why?", in_reply_to=11, action=None,
    )  # fmt: skip
    assert isinstance(result, ReviewResult) and result.status == "reviewed"
    [request] = seen
    assert (request.comment_id, request.body, request.in_reply_to) == (12, "Why?", 11)


def test_a_worker_hands_a_conversation_job_to_its_use_case_not_the_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reviews: list[ReviewRequest] = []
    conversations: list[tuple[str, dict[str, Any]]] = []

    def review(request: ReviewRequest, services: ReviewServices) -> ReviewResult:
        reviews.append(request)
        return ReviewResult(status="reviewed")

    def conversation(kind: str, services: ReviewServices, **fields: Any) -> ReviewResult:
        conversations.append((kind, fields))
        return ReviewResult(status="reviewed", reason=f"{kind}: answered")

    monkeypatch.setattr(webhook.jobs, "run_conversation", conversation)
    settings = Settings.from_env({}, data_dir=tmp_path)
    queue = JobQueue(settings, name=f"t{uuid.uuid4().hex[:8]}", runner=review)
    try:
        job = ReviewJob(
            delivery_id="d-reply", repo="octo/app", pr_number=7, installation_id=42,
            trigger="command", requested_by="octocat", comment_id=12, kind="reply",
            text="Why?", in_reply_to=11,
        )  # fmt: skip
        assert queue.submit(job)
        with consuming(queue):
            wait_for(lambda: bool(conversations))
        assert reviews == []
        [(kind, fields)] = conversations
        assert (kind, fields["comment_id"], fields["text"]) == ("reply", 12, "Why?")
    finally:
        drop_queue(queue)
