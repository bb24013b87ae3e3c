"""The Action's conversation events, run as the composite action runs `reviewer action`."""

from __future__ import annotations

from pathlib import Path

from tests.action.test_run import gh, pr_comment_payload, run_action
from tests.fakes.github_server import FakeGitHub
from tests.fakes.messages_server import FakeMessages, message_answer

__all__ = ["gh"]  # the fixture


def test_ask_from_a_writer_is_answered_in_the_conversation(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    fake_claude.enqueue(message_answer("It only touches the README."))
    payload = pr_comment_payload("/ask what does this change?", login="writer")
    run = run_action(tmp_path, "issue_comment", payload, github=gh, claude=fake_claude)

    assert run.code == 0, run.stdout + run.stderr
    [answer] = gh.issue_comments
    assert answer["body"].startswith("It only touches the README.")
    assert len(fake_claude.requests) == 1 and gh.review_posts == []
    assert "Conversation answered" in run.stdout


def test_ask_from_a_reader_is_ignored_without_calling_claude(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    payload = pr_comment_payload("/ask what does this change?", login="reader")
    run = run_action(tmp_path, "issue_comment", payload, github=gh, claude=fake_claude)

    assert run.code == 0, run.stdout + run.stderr
    assert fake_claude.requests == [] and gh.issue_comments == [] and gh.reactions == []
    assert "Conversation ignored: reader may not ask" in run.stdout
