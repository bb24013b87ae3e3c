"""The bot knows who it is with every kind of token, so a re-review repeats nothing."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reviewer.model import ReviewRequest
from reviewer.settings import Settings
from tests.fakes.github_api import FakeGitHub, file_item
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, findings_answer
from tests.review.test_pipeline import INJECTION, PATCH
from tests.services import review_with

REPO = "octo/app"


def _settings(fake_github: FakeGitHub, fake_claude: FakeMessages, kind: str) -> Settings:
    values: dict[str, object] = {
        "anthropic_api_key": FAKE_API_KEY,
        "anthropic_base_url": fake_claude.base_url,
        "max_retries": 1,
    }
    if kind == "app":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        values.update(github_token=None, github_app_id="4242", github_private_key=pem)
    elif kind == "actions":
        fake_github.viewer_bot = "github-actions[bot]"
    elif kind == "other_app":  # e.g. a token from actions/create-github-app-token
        fake_github.viewer_bot = "my-review-app[bot]"
    return fake_github.settings(**values)


@pytest.mark.parametrize("kind", ["personal", "app", "actions", "other_app"])
def test_a_re_review_repeats_nothing_whatever_the_token(
    fake_github: FakeGitHub, fake_claude: FakeMessages, kind: str
) -> None:
    settings = _settings(fake_github, fake_claude, kind)
    fake_github.add_pull(REPO, 7, files=[file_item("app/users.py", patch=PATCH)])
    fake_claude.default = findings_answer([INJECTION])
    installation = 42 if kind == "app" else None
    request = ReviewRequest(REPO, 7, trigger="command", installation_id=installation)
    review_with(request, settings)
    second = review_with(request, settings)

    first_body, second_body = fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews")
    assert len(first_body["comments"]) == 1 and second_body["comments"] == []
    assert second.extra["already_posted"] == 1
    # Nobody guessed: /user refused the installation tokens, GraphQL viewer answered.
    asked_viewer = any(name == "viewer" for name, _ in fake_github.graphql.operations)
    assert asked_viewer == (kind in ("actions", "other_app"))
