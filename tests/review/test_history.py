"""Findings over time: new → open → fixed and resolved; dismissed for good; a person's word."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from reviewer.core.lifecycle import FindingRecord
from reviewer.model import ReviewRequest
from reviewer.review.history import ThreadEvent, follow_thread
from reviewer.services import open_services
from reviewer.settings import Settings
from tests.fakes.github_api import FakeGitHub, file_item
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, findings_answer
from tests.review.test_pipeline import INJECTION, PATCH
from tests.services import review_with

REPO = "octo/app"
FIXED_PATCH = PATCH.replace("name = '{name}'\\\"", 'name = ?\\"').replace(
    "conn.execute(sql)", "conn.execute(sql, (name,))"
)


@pytest.fixture
def settings(fake_github: FakeGitHub, fake_claude: FakeMessages) -> Settings:
    return fake_github.settings(
        anthropic_api_key=FAKE_API_KEY, anthropic_base_url=fake_claude.base_url, max_retries=1
    )


def _records(settings: Settings) -> list[FindingRecord]:
    with open_services(settings) as services:
        return services.findings().for_pull(REPO, 7)


def _first_review(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> dict[str, Any]:
    fake_github.add_pull(REPO, 7, files=[file_item("app/users.py", patch=PATCH)])
    fake_claude.enqueue(findings_answer([INJECTION]))
    review_with(ReviewRequest(REPO, 7, trigger="command"), settings)
    [comment] = fake_github.repo(REPO).pulls[7].review_comments
    return comment


def _bodies(fake_github: FakeGitHub) -> list[dict[str, Any]]:
    return list(fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews"))


def _operations(fake_github: FakeGitHub, name: str) -> list[dict[str, Any]]:
    return [v for op, v in fake_github.graphql.operations if op == name]


def test_a_posted_finding_is_recorded_open_with_its_comment_and_thread(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    comment = _first_review(fake_github, fake_claude, settings)
    [record] = _records(settings)
    assert record.status == "open" and record.title == "SQL injection"
    assert (record.path, record.line, record.commit_sha) == ("app/users.py", 3, "a" * 40)
    assert record.comment_id == comment["id"] and record.thread_id == f"PRRT_{comment['id']}"


def test_a_fixed_finding_is_reported_and_its_thread_resolved(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    comment = _first_review(fake_github, fake_claude, settings)
    fake_github.push(REPO, 7, "c" * 40, [file_item("app/users.py", patch=FIXED_PATCH)])
    fake_claude.enqueue(findings_answer([]))
    review_with(ReviewRequest(REPO, 7, trigger="command"), settings)

    second = _bodies(fake_github)[-1]["body"]
    assert "Since the last review: 0 new, 0 still open, 1 fixed, 0 dismissed." in second
    assert "Fixed since the last review" in second
    assert _operations(fake_github, "resolveReviewThread") == [{"id": f"PRRT_{comment['id']}"}]
    assert _operations(fake_github, "minimizeComment") == []  # minimize_fixed is off
    [record] = _records(settings)
    assert record.status == "fixed"


def test_a_finding_raised_again_on_unchanged_code_stays_open(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _first_review(fake_github, fake_claude, settings)
    fake_claude.enqueue(findings_answer([INJECTION]))
    review_with(ReviewRequest(REPO, 7, trigger="command"), settings)
    second = _bodies(fake_github)[-1]
    assert second["comments"] == []
    assert "Since the last review: 0 new, 1 still open, 0 fixed, 0 dismissed." in second["body"]
    assert _operations(fake_github, "resolveReviewThread") == []


@pytest.mark.parametrize("how", ["reply", "thumbs_down", "resolved"])
def test_a_dismissed_finding_is_never_raised_again_on_that_code(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings, how: str
) -> None:
    comment = _first_review(fake_github, fake_claude, settings)
    if how == "reply":
        fake_github.add_review_comment(
            REPO, 7, login="octocat", body="This is a false positive: the input is trusted.",
            path="app/users.py", line=3, in_reply_to=comment["id"],
        )  # fmt: skip
    elif how == "thumbs_down":
        fake_github.react_to_review_comment(REPO, 7, comment["id"], login="octocat", content="-1")
    else:  # resolved by a person, code unchanged
        fake_github.resolve_thread(REPO, 7, comment["id"], by="octocat")
    fake_claude.default = findings_answer([INJECTION])
    for _ in range(2):  # a second and a third review: still never raised again
        review_with(ReviewRequest(REPO, 7, trigger="command"), settings)

    second, third = _bodies(fake_github)[1:]
    assert second["comments"] == [] and third["comments"] == []
    assert "1 dismissed." in second["body"] and "octocat" in second["body"]
    [record] = _records(settings)
    assert (record.status, record.status_by) == ("dismissed", "octocat")


def test_a_persons_last_word_keeps_a_fixed_findings_thread_open(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    comment = _first_review(fake_github, fake_claude, settings)
    fake_github.add_review_comment(
        REPO, 7, login="octocat", body="I changed it, but please check the other caller too.",
        path="app/users.py", line=3, in_reply_to=comment["id"],
    )  # fmt: skip
    fake_github.push(REPO, 7, "c" * 40, [file_item("app/users.py", patch=FIXED_PATCH)])
    fake_claude.enqueue(findings_answer([]))
    review_with(ReviewRequest(REPO, 7, trigger="command"), settings)

    assert "1 fixed" in _bodies(fake_github)[-1]["body"]
    assert _operations(fake_github, "resolveReviewThread") == []
    [record] = _records(settings)
    assert record.status == "fixed"


def test_a_fixed_findings_comment_is_hidden_when_the_repository_asks(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    config = "conversation:\n  minimize_fixed: true\n"
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, config)
    comment = _first_review(fake_github, fake_claude, settings)
    fake_github.push(REPO, 7, "c" * 40, [file_item("app/users.py", patch=FIXED_PATCH)])
    fake_claude.enqueue(findings_answer([]))
    review_with(ReviewRequest(REPO, 7, trigger="command"), settings)
    assert _operations(fake_github, "minimizeComment") == [{"id": f"PRRC_{comment['id']}"}]
    assert comment["id"] in fake_github.repo(REPO).pulls[7].minimized


def test_unresolving_a_thread_opens_its_dismissed_finding_again(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    comment = _first_review(fake_github, fake_claude, settings)
    fake_github.resolve_thread(REPO, 7, comment["id"], by="octocat")
    with open_services(settings) as services:
        resolved = follow_thread(ThreadEvent(REPO, 7, "resolved"), services)
    assert resolved.status == "dismissed"
    assert [r.status for r in _records(settings)] == ["dismissed"]
    fake_github.repo(REPO).pulls[7].threads[comment["id"]]["resolved"] = False
    with open_services(settings) as services:
        follow_thread(ThreadEvent(REPO, 7, "unresolved"), services)
    assert [r.status for r in _records(settings)] == ["open"]


def test_batch_reviews_are_followed_up_like_real_time_ones(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    """A review whose chunks went through a Message Batch records its findings, and a later
    batch review reports what was fixed and resolves its thread, as a real-time one does."""
    settings = dataclasses.replace(settings, batch_poll_s=0.01)
    fake_github.add_pull(REPO, 7, files=[file_item("app/users.py", patch=PATCH)])
    fake_claude.enqueue(findings_answer([INJECTION]))
    first = review_with(ReviewRequest(REPO, 7, trigger="command", mode="batch"), settings)
    assert first.status == "reviewed" and len(fake_claude.batches) == 1
    [comment] = fake_github.repo(REPO).pulls[7].review_comments
    [record] = _records(settings)
    assert (record.status, record.comment_id) == ("open", comment["id"])

    fake_github.push(REPO, 7, "c" * 40, [file_item("app/users.py", patch=FIXED_PATCH)])
    fake_claude.enqueue(findings_answer([]))
    review_with(ReviewRequest(REPO, 7, trigger="command", mode="batch"), settings)

    assert len(fake_claude.batches) == 2
    second = _bodies(fake_github)[-1]["body"]
    assert "Since the last review: 0 new, 0 still open, 1 fixed, 0 dismissed." in second
    assert _operations(fake_github, "resolveReviewThread") == [{"id": f"PRRT_{comment['id']}"}]
    [record] = _records(settings)
    assert record.status == "fixed"
