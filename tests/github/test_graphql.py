"""The GraphQL client and the review threads against the fake GitHub's GraphQL endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

import reviewer.github.client
from reviewer.core.threads import normal_login, same_login
from reviewer.errors import GitHubError
from tests.fakes.github_api import FakeGitHub

REPO = "octo/app"


@pytest.fixture
def ghes(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeGitHub(rsps, base_url="https://github.test/api/v3")
        monkeypatch.setattr(reviewer.github.client, "WRITE_INTERVAL_S", 0.0)
        yield fake


def test_logins_compare_across_rest_and_graphql_spellings() -> None:
    assert same_login("claude-reviewer[bot]", "Claude-Reviewer")
    assert normal_login("GitHub-Actions[bot]") == "github-actions"
    assert not same_login("claude-reviewer[bot]", "octocat")
    assert not same_login(None, "octocat")


def test_graphql_goes_to_the_enterprise_endpoint_beside_rest(ghes: FakeGitHub) -> None:
    ghes.viewer_bot = "other-app[bot]"
    gh = ghes.client()
    assert gh.graphql().url == "https://github.test/api/graphql"
    assert gh.bot_login() == "other-app[bot]"
    assert ghes.calls[-1].path == "/graphql"
    assert ghes.calls[-1].authorization == "token ghp_faketoken"  # the REST client's auth


def test_graphql_errors_become_github_errors(fake_github: FakeGitHub) -> None:
    gh = fake_github.client()
    with pytest.raises(GitHubError, match="Could not resolve to a node"):
        gh.graphql().resolve_thread("PRRT_404")
    fake_github.fail_next("POST", r"^/graphql$", 502, message="Bad Gateway")
    with pytest.raises(GitHubError) as raised:
        gh.graphql().viewer_login()
    assert raised.value.retryable and raised.value.status_code == 502


def test_threads_list_authors_normalised_and_rest_ids(fake_github: FakeGitHub) -> None:
    fake_github.add_pull(REPO, 7)
    first = fake_github.add_review_comment(
        REPO, 7, login="claude-reviewer[bot]", body="a finding", path="a.py", line=3
    )
    fake_github.add_review_comment(
        REPO, 7, login="octocat", body="why?", path="a.py", line=3, in_reply_to=first["id"]
    )
    threads = fake_github.client().threads(REPO, 7)
    [thread] = threads.all()
    assert thread.thread_id == f"PRRT_{first['id']}" and not thread.is_resolved
    assert thread.first is not None and thread.last is not None
    # GraphQL drops the [bot] suffix of a Bot's author; fullDatabaseId arrives as a string.
    assert (thread.first.author, thread.first.author_is_bot) == ("claude-reviewer", True)
    assert thread.first.comment_id == first["id"]
    assert (thread.last.author, thread.last.author_is_bot) == ("octocat", False)


def test_reply_targets_the_first_comment_and_resolve_and_minimize(
    fake_github: FakeGitHub,
) -> None:
    fake_github.add_pull(REPO, 7)
    first = fake_github.add_review_comment(
        REPO, 7, login="reviewer-bot", body="a finding", path="a.py", line=3
    )
    threads = fake_github.client().threads(REPO, 7)
    reply_id = threads.reply(first["id"], "An answer.")
    [body] = fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/comments/{first['id']}/replies")
    assert body == {"body": "An answer."} and reply_id > first["id"]
    threads.resolve(f"PRRT_{first['id']}")
    threads.minimize(f"PRRC_{first['id']}")
    [thread] = threads.all()
    assert thread.is_resolved and thread.resolved_by == "reviewer-bot"
    assert thread.first is not None and thread.first.minimized
    fake_github.react_to_review_comment(REPO, 7, first["id"], login="Octocat", content="-1")
    fake_github.react_to_review_comment(REPO, 7, first["id"], login="hubot", content="+1")
    assert threads.thumbs_down(first["id"]) == ["octocat"]
