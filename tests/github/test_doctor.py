"""`reviewer doctor`'s GitHub checks against the fake REST API (PyGithub drives it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import reviewer.github.client
from reviewer.core.checks import Check
from reviewer.github.doctor import GitHubDoctor, missing_events, missing_permissions
from reviewer.settings import Settings
from tests.fakes.github_api import FakeGitHub


@pytest.fixture(scope="module")
def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def ghes(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A GitHub Enterprise Server at https://github.test/api/v3."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeGitHub(rsps, base_url="https://github.test/api/v3")
        monkeypatch.setattr(reviewer.github.client, "WRITE_INTERVAL_S", 0.0)
        yield fake


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def _app_settings(fake: FakeGitHub, pem: str, **overrides: Any) -> Settings:
    values = {"github_token": None, "github_app_id": "4242", "github_private_key": pem}
    return fake.settings(**{**values, **overrides})


def test_a_token_that_works(fake_github: FakeGitHub) -> None:
    checks = _by_name(GitHubDoctor(fake_github.settings()).run())
    assert [c.status for c in checks.values()] == ["ok", "ok", "ok"]
    assert checks["github.api"].found == "https://api.github.com answers (GitHub)"
    assert checks["github.auth"].found == "the token works (user reviewer-bot)"
    assert checks["github.identity"].found == "posts as reviewer-bot"


def test_a_bad_token_fails(fake_github: FakeGitHub) -> None:
    fake_github.fail_next("GET", r"^/user$", 401, message="Bad credentials")
    checks = _by_name(GitHubDoctor(fake_github.settings()).run())
    auth = checks["github.auth"]
    assert auth.status == "fail"
    assert auth.found == "the token was refused: GitHub GET /user failed: 401 Bad credentials"
    assert auth.fix is not None and "GITHUB_TOKEN" in auth.fix


def test_an_actions_token_posts_as_github_actions(fake_github: FakeGitHub) -> None:
    # GET /user answers 403 to an Actions GITHUB_TOKEN; GraphQL `viewer` names it.
    fake_github.viewer_bot = "github-actions[bot]"
    checks = _by_name(GitHubDoctor(fake_github.settings()).run())
    assert checks["github.auth"].status == "ok"
    assert checks["github.identity"].found == "posts as github-actions[bot]"


def test_a_bot_login_that_is_not_the_tokens_fails(fake_github: FakeGitHub) -> None:
    settings = fake_github.settings(bot_login="someone-else")
    check = _by_name(GitHubDoctor(settings).run())["github.identity"]
    assert check.status == "fail"
    assert (
        "REVIEWER_BOT_LOGIN is someone-else but the credentials are reviewer-bot's" in check.found
    )


def test_ghes_says_its_version(ghes: FakeGitHub) -> None:
    ghes.enterprise_version = "3.14.2"
    check = GitHubDoctor(ghes.settings()).api()
    assert check.found == "https://github.test/api/v3 answers (GitHub Enterprise Server 3.14.2)"


def test_an_unreachable_api_url_fails_and_stops_there(fake_github: FakeGitHub) -> None:
    settings = fake_github.settings(github_api_url="https://nowhere.test/api/v3")
    checks = GitHubDoctor(settings).run()
    [api] = checks
    assert api.status == "fail" and api.found.startswith(
        "https://nowhere.test/api/v3: cannot reach"
    )
    assert api.fix is not None and "REVIEWER_GITHUB_API_URL" in api.fix


def test_an_app_with_everything_it_needs(fake_github: FakeGitHub, pem: str) -> None:
    fake_github.add_installation("octo")
    checks = _by_name(GitHubDoctor(_app_settings(fake_github, pem)).run())
    assert {n: c.status for n, c in checks.items()} == {
        "github.api": "ok",
        "github.auth": "ok",
        "github.app": "ok",
        "github.installation.octo": "ok",
        "github.identity": "ok",
    }
    assert checks["github.auth"].found == "the App 'claude-reviewer' (id 1) works"
    assert checks["github.installation.octo"].found == (
        "installation on octo (all repositories): permissions and events complete"
    )
    assert checks["github.identity"].found == "posts as claude-reviewer[bot]"


def test_missing_permissions_and_events_are_named(fake_github: FakeGitHub, pem: str) -> None:
    fake_github.add_installation(
        "octo",
        permissions={"pull_requests": "write", "contents": "read", "checks": "read"},
        events=["pull_request", "issue_comment"],
    )
    check = _by_name(GitHubDoctor(_app_settings(fake_github, pem)).run())[
        "github.installation.octo"
    ]
    assert check.status == "fail"
    assert check.found == (
        "installation on octo: permissions missing: issues: write, checks: write, "
        "metadata: read; events not subscribed: pull_request_review_comment, "
        "pull_request_review_thread"
    )
    assert check.fix is not None and "grant issues: write, checks: write" in check.fix


def test_the_apps_own_settings_are_compared_too(fake_github: FakeGitHub, pem: str) -> None:
    fake_github.app_events = ["pull_request"]
    fake_github.add_installation("octo")
    check = _by_name(GitHubDoctor(_app_settings(fake_github, pem)).run())["github.app"]
    assert check.status == "fail" and "events not subscribed: issue_comment" in check.found


def test_a_403_on_an_app_permission_fails(fake_github: FakeGitHub, pem: str) -> None:
    fake_github.add_installation("octo")
    fake_github.fail_next(
        "GET",
        r"^/installation/repositories$",
        403,
        message="Resource not accessible by integration",
    )
    check = _by_name(GitHubDoctor(_app_settings(fake_github, pem)).run())[
        "github.installation.octo"
    ]
    assert check.status == "fail"
    assert check.found == (
        "installation on octo: GitHub GET /installation/repositories failed: 403 "
        "Resource not accessible by integration"
    )


def test_a_suspended_installation_fails(fake_github: FakeGitHub, pem: str) -> None:
    fake_github.add_installation("octo", suspended=True)
    check = _by_name(GitHubDoctor(_app_settings(fake_github, pem)).run())[
        "github.installation.octo"
    ]
    assert check.status == "fail" and "suspended" in check.found


def test_an_app_installed_nowhere_warns(fake_github: FakeGitHub, pem: str) -> None:
    check = _by_name(GitHubDoctor(_app_settings(fake_github, pem)).run())["github.installations"]
    assert check.status == "warn" and check.found == "the App is installed nowhere yet"


def test_an_app_whose_jwt_github_refuses_fails(fake_github: FakeGitHub, pem: str) -> None:
    fake_github.fail_next("GET", r"^/app$", 401, message="A JSON web token could not be decoded")
    checks = GitHubDoctor(_app_settings(fake_github, pem)).run()
    assert [c.name for c in checks] == ["github.api", "github.auth"]
    assert checks[1].status == "fail" and "401 A JSON web token" in checks[1].found


def test_a_key_that_cannot_sign_fails_without_showing_it(fake_github: FakeGitHub) -> None:
    bad = "-----BEGIN RSA " + "PRIVATE KEY-----\nnot-a-key\n-----END RSA PRIVATE KEY-----\n"
    [_, auth] = GitHubDoctor(_app_settings(fake_github, bad)).run()
    assert auth.status == "fail" and auth.found.startswith("cannot sign the App's JWT")
    assert "not-a-key" not in auth.found


def test_required_permissions_and_events() -> None:
    assert missing_permissions(
        {"pull_requests": "write", "contents": "write", "issues": "write", "checks": "write",
         "metadata": "read"}
    ) == []  # fmt: skip
    assert missing_permissions({"pull_requests": "read", "contents": "admin"}) == [
        "pull_requests: write",
        "issues: write",
        "checks: write",
        "metadata: read",
    ]
    assert missing_events(["pull_request", "issue_comment", "push"]) == [
        "pull_request_review_comment",
        "pull_request_review_thread",
    ]
