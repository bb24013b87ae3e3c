"""The pull-request steps before a review: an invalid repository config is said once per head."""

from __future__ import annotations

import pytest

from reviewer.model import ReviewRequest
from reviewer.settings import Settings
from tests.fakes.github_api import MARKER_KEY, FakeGitHub, file_item
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages
from tests.services import review_with

REPO = "octo/app"
BROKEN = "output:\n  max_coments: 5\n"


@pytest.fixture
def settings(fake_github: FakeGitHub, fake_claude: FakeMessages) -> Settings:
    return fake_github.settings(
        anthropic_api_key=FAKE_API_KEY, anthropic_base_url=fake_claude.base_url
    )


def test_an_invalid_config_is_noted_once_per_head(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    files = [file_item("app.py", patch="@@ -1 +1 @@\n-a\n+b")]
    fake_github.add_pull(REPO, 7, files=files, head_sha="a" * 40)
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, BROKEN)
    for _ in range(3):
        result = review_with(ReviewRequest(REPO, 7, trigger="command"), settings)
        assert result.status == "failed" and "max_coments" in (result.reason or "")
    [note] = fake_github.bodies("POST", f"/repos/{REPO}/issues/7/comments")
    assert "configuration is invalid" in note["body"]
    # Someone else quoting the note (marker and all) on a new head does not silence the bot.
    fake_github.add_pull(REPO, 7, files=files, head_sha="c" * 40)
    fake_github.repo(REPO).pulls[7].issue_comments.append(
        {"id": 1, "body": note["body"].replace("a" * 40, "c" * 40), "user": {"login": "mallory"}}
    )
    review_with(ReviewRequest(REPO, 7, trigger="command"), settings)
    assert len(fake_github.bodies("POST", f"/repos/{REPO}/issues/7/comments")) == 2
    assert fake_claude.requests == []


def test_only_the_bots_note_with_the_marker_under_the_key_counts(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    from reviewer.github.payloads import invalid_config_marker

    files = [file_item("app.py", patch="@@ -1 +1 @@\n-a\n+b")]
    fake_github.add_pull(REPO, 7, files=files, head_sha="a" * 40)
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, BROKEN)
    comments = fake_github.repo(REPO).pulls[7].issue_comments
    for n, body in enumerate(
        (
            f"<!-- reviewer:invalid-config {'a' * 40} -->",  # an older version's, without a MAC
            invalid_config_marker("a" * 40, b"another key"),
        )
    ):
        comments.append({"id": 10 + n, "body": body, "user": {"login": "reviewer-bot"}})
    review_with(ReviewRequest(REPO, 7, trigger="command"), settings)
    [note] = fake_github.bodies("POST", f"/repos/{REPO}/issues/7/comments")
    assert note["body"].endswith(invalid_config_marker("a" * 40, MARKER_KEY))
