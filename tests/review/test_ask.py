"""`/ask` in a pull request's conversation: answered from the diff, chunked when large."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reviewer.model import ConversationResult
from reviewer.review.ask import AskRequest, answer_question, question_of
from reviewer.services import open_services
from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from tests.fakes.github_api import FakeGitHub, file_item
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, message_answer

REPO = "octo/app"


@pytest.fixture
def settings(fake_github: FakeGitHub, fake_claude: FakeMessages) -> Settings:
    return fake_github.settings(
        anthropic_api_key=FAKE_API_KEY, anthropic_base_url=fake_claude.base_url, max_retries=1,
        max_chunk_tokens=2_000,
    )  # fmt: skip


def _patch(n: int) -> str:
    body = "\n".join(f"+line {i} of file {n}: value = compute({i}) * factor" for i in range(60))
    return f"@@ -0,0 +1,60 @@\n{body}"


def _ask(settings: Settings, login: str, question: str = "Is this safe?") -> ConversationResult:
    request = AskRequest(REPO, 7, question=question, requested_by=login, comment_id=55)
    with open_services(settings) as services:
        return answer_question(request, services)


def _ledger_calls(settings: Settings) -> dict[str, int]:
    with Ledger.open(settings.ledger_url) as ledger:
        rows = ledger.report(
            datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC), by="kind"
        )
    return {r.key: r.calls for r in rows}


def _text(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(b["text"] for b in content)


def test_question_of_reads_only_the_ask_command() -> None:
    assert question_of("/ask why this loop?") == "why this loop?"
    assert question_of("/ask") == ""
    assert question_of("/review") is None and question_of("please /ask x") is None


def test_ask_on_a_large_pr_reads_it_in_chunks_and_answers_once(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    files = [file_item(f"src/mod{n}.py", patch=_patch(n), status="added") for n in range(12)]
    fake_github.add_pull(REPO, 7, files=files)
    fake_github.set_permission(REPO, "octocat", "write")
    fake_claude.default = message_answer("Partial: looks fine.")
    result = _ask(settings, "octocat")

    parts = len(fake_claude.requests) - 1
    assert result.status == "answered" and parts > 1  # chunked, then merged
    assert result.calls == parts + 1
    assert "Part 1 of" in _text(fake_claude.requests[0])
    assert "About part 2:" in _text(fake_claude.requests[-1])
    assert all(r["model"] == "claude-haiku-4-5" for r in fake_claude.requests)
    [comment] = fake_github.repo(REPO).pulls[7].issue_comments
    assert comment["body"].startswith("Partial: looks fine.")
    assert _ledger_calls(settings) == {"ask": result.calls}  # every call in the ledger
    assert fake_github.repo(REPO).reactions[55][0]["content"] == "eyes"


def test_ask_from_a_reader_is_ignored_with_no_spend(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    fake_github.add_pull(REPO, 7, files=[file_item("a.py", patch=_patch(1))])
    fake_github.set_permission(REPO, "reader", "read")
    result = _ask(settings, "reader")
    assert result.status == "ignored"
    assert fake_claude.requests == [] and fake_github.repo(REPO).pulls[7].issue_comments == []
    assert _ledger_calls(settings) == {}


def test_the_review_model_answers_when_the_repository_asks_for_it(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    fake_github.add_pull(REPO, 7, files=[file_item("a.py", patch=_patch(1))])
    fake_github.set_permission(REPO, "octocat", "write")
    config = "model:\n  default: claude-sonnet-4-6\nconversation:\n  model: review\n"
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, config)
    fake_claude.default = message_answer("Yes.")
    assert _ask(settings, "octocat").status == "answered"
    assert [r["model"] for r in fake_claude.requests] == ["claude-sonnet-4-6"]
