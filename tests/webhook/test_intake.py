"""Odd deliveries: bad fields, deep JSON, form bodies, weak secrets, repeated commands, privacy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from reviewer.errors import ConfigError
from reviewer.settings import Settings
from tests.fakes.github_api import FakeGitHub, file_item
from tests.queues import drop_queue
from tests.webhook.test_app import SECRET, deliver, load, pr_comment, pr_payload, sign
from webhook import metrics
from webhook.app import create_app
from webhook.cli import check_settings
from webhook.jobs import JobQueue, ReviewJob

METRICS_TOKEN = "metrics-token-2b7f-a901"


@pytest.fixture
def queued() -> list[ReviewJob]:
    return []


@pytest.fixture
def client(queued: list[ReviewJob]) -> FlaskClient:
    settings = Settings.from_env(webhook_secret=SECRET, metrics_token=METRICS_TOKEN)
    return create_app(settings, enqueue=queued.append).test_client()


def _set(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return payload


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("pull_request", None, "pull_request is not an object"),
        ("pull_request", "x", "pull_request is not an object"),
        ("pull_request.state", None, "pull_request.state is not a string"),
        ("pull_request.number", "2", "pull_request.number is not a positive integer"),
        ("pull_request.number", True, "pull_request.number is not a positive integer"),
        ("pull_request.number", -2, "pull_request.number is not a positive integer"),
        ("pull_request.number", 2.5, "pull_request.number is not a positive integer"),
        ("pull_request.head", [], "pull_request.head is not an object"),
        ("pull_request.head.sha", 123, "pull_request.head.sha is not a string"),
        ("pull_request.head.sha", "../../etc", "pull_request.head.sha is not a commit SHA"),
        ("repository", None, "repository is not an object"),
        ("repository.full_name", _DELETE, "missing repository.full_name"),
        ("repository.full_name", ["a"], "repository.full_name is not a string"),
        ("repository.full_name", "a/b/../c", "repository.full_name is not owner/name"),
        ("installation.id", "1", "installation.id is not a positive integer"),
        ("installation", None, "missing installation.id: is the webhook set on the GitHub App?"),
        ("action", 5, "action is not a string"),
    ],
)
def test_a_pull_request_with_an_odd_field_is_a_bad_request(
    client: FlaskClient, queued: list[ReviewJob], path: str, value: Any, reason: str
) -> None:
    response = deliver(client, "pull_request", _set(pr_payload("opened"), path, value))
    assert (response.status_code, response.json) == (
        400,
        {"status": "bad_request", "reason": reason},
    )
    assert queued == []


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("comment", None, "comment is not an object"),
        ("comment.user", "octocat", "comment.user is not an object"),
        ("comment.user.type", 1, "comment.user.type is not a string"),
        ("comment.user.login", None, "comment.user.login is not a string"),
        ("comment.body", ["/review"], "comment.body is not a string"),
        ("comment.id", "55", "comment.id is not a positive integer"),
        ("issue", None, "issue is not an object"),
        ("issue.number", None, "issue.number is not a positive integer"),
        ("issue.state", {}, "issue.state is not a string"),
    ],
)
def test_a_comment_with_an_odd_field_is_a_bad_request(
    client: FlaskClient, queued: list[ReviewJob], path: str, value: Any, reason: str
) -> None:
    response = deliver(client, "issue_comment", _set(pr_comment("/review"), path, value))
    assert (response.status_code, response.json) == (
        400,
        {"status": "bad_request", "reason": reason},
    )
    assert queued == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "body is JSON nested too deeply"),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "body is JSON nested too deeply"),
        (b"[1, 2]", "body is not a JSON object"),
        (b"null", "body is not a JSON object"),
        (b'{"number": ' + b"9" * 5000 + b"}", "body is not valid JSON"),
        (b"\xff\xfe{}", "body is not valid JSON"),
    ],
)
def test_odd_json_is_a_bad_request(client: FlaskClient, body: bytes, reason: str) -> None:
    response = deliver(client, "pull_request", body)
    assert (response.status_code, response.json) == (
        400,
        {"status": "bad_request", "reason": reason},
    )


def _form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def _post_form(client: FlaskClient, body: bytes, signature: str, delivery: str = "f-1") -> Any:
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return client.post("/webhook", data=body, headers=headers)


def test_a_form_encoded_delivery_is_accepted(client: FlaskClient, queued: list[ReviewJob]) -> None:
    body = _form(pr_payload("opened"))
    response = _post_form(client, body, sign(body))
    assert response.status_code == 202, response.json
    [job] = queued
    assert (job.repo, job.pr_number, job.delivery_id) == ("Codertocat/Hello-World", 2, "f-1")


def test_a_form_delivery_is_signed_over_its_raw_body(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    payload = pr_payload("opened")
    body = _form(payload)
    # Signed over the JSON inside, as a careless sender might: not what GitHub signs.
    response = _post_form(client, body, sign(json.dumps(payload).encode()))
    assert response.status_code == 401
    assert queued == []


@pytest.mark.parametrize(
    "body",
    [b"payload=%7B&payload=%7B%7D", b"other=1", b"payload=%5B1%5D", b"%zz"],
)
def test_a_bad_form_is_a_bad_request(client: FlaskClient, body: bytes) -> None:
    response = _post_form(client, body, sign(body))
    assert response.status_code == 400
    assert response.json is not None and response.json["status"] == "bad_request"


@pytest.mark.parametrize("secret", ["", "   ", "short-secret", "  padded-15-chars "])
def test_a_weak_webhook_secret_is_refused_at_start_up(secret: str) -> None:
    settings = Settings.from_env(webhook_secret=secret)
    with pytest.raises(ConfigError, match="REVIEWER_WEBHOOK_SECRET"):
        create_app(settings, enqueue=lambda job: None)
    with pytest.raises(ConfigError, match="REVIEWER_WEBHOOK_SECRET"):
        check_settings(settings, web=True)


def test_one_comment_is_acted_on_once_whatever_delivery_carries_it(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    comment = pr_comment("/review")
    first = deliver(client, "issue_comment", comment, delivery=str(uuid.uuid4()))
    again = deliver(client, "issue_comment", comment, delivery=str(uuid.uuid4()))
    assert first.status_code == 202
    assert (again.status_code, again.json) == (
        200,
        {"status": "duplicate", "reason": "this comment was already received"},
    )
    assert len(queued) == 1
    other = pr_comment("/review")
    other["comment"]["id"] += 1
    assert deliver(client, "issue_comment", other).status_code == 202
    assert len(queued) == 2


def test_metrics_and_healthz_name_no_repository_or_spend_without_the_token(
    client: FlaskClient,
) -> None:
    deliver(client, "pull_request", pr_payload("opened"))
    service = client.application.extensions["reviewer"]
    repo = "secret-org/secret-repo"
    service.store.incr(metrics.usage_amounts(repo, {"input_tokens": 900}, Decimal("0.25")))
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": METRICS_TOKEN}):
        text = client.get("/metrics", headers=headers).get_data(as_text=True)
        assert 'reviewer_deliveries_total{event="pull_request",outcome="queued"} 1' in text
        assert repo not in text and "Codertocat" not in text
        assert metrics.COST not in text and metrics.TOKENS not in text
        health = client.get("/healthz", headers=headers)
        assert health.json is not None and set(health.json) <= {"status", "queue", "ledger"}
    detailed = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    text = detailed.get_data(as_text=True)
    assert f'{metrics.COST}{{repo="{repo}"}} 0.25' in text
    assert f'{metrics.TOKENS}{{kind="input_tokens",repo="{repo}"}} 900' in text


# A person without write access asks again and again: one refusal per PR an hour.


@pytest.fixture(params=["sqlite", "redis"])
def refusing_queue(request: pytest.FixtureRequest, fake_github: FakeGitHub) -> Iterator[JobQueue]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    settings = fake_github.settings(anthropic_api_key="sk-ant-test-unused", redis_url=redis_url)
    for number in (7, 8):
        fake_github.add_pull(
            "octo/widgets", number, files=[file_item("a.py", patch="@@ -1 +1 @@\n-a\n+b")]
        )
    fake_github.set_permission("octo/widgets", "reader", "read")
    queue = JobQueue(settings, name=f"t{uuid.uuid4().hex[:12]}", notifier=lambda *a: None)
    yield queue
    drop_queue(queue)


def _command(comment_id: int, pr: int) -> ReviewJob:
    return ReviewJob(
        delivery_id=str(uuid.uuid4()),
        repo="octo/widgets",
        pr_number=pr,
        installation_id=42,
        trigger="command",
        requested_by="reader",
        comment_id=comment_id,
        event="issue_comment",
        command="/review",
    )


def test_a_reader_is_refused_once_per_pull_request_an_hour(
    refusing_queue: JobQueue, fake_github: FakeGitHub
) -> None:
    outcomes = []
    for comment_id, pr in ((101, 7), (102, 7), (103, 7), (104, 8)):
        command = _command(comment_id, pr)
        assert refusing_queue.submit(command)
        outcomes.append(refusing_queue.process(command.to_dict()))
    assert outcomes == ["refused"] * 4
    on_7 = fake_github.bodies("POST", "/repos/octo/widgets/issues/7/comments")
    on_8 = fake_github.bodies("POST", "/repos/octo/widgets/issues/8/comments")
    assert len(on_7) == 1 and len(on_8) == 1
    assert "write access" in on_7[0]["body"]


def test_a_ping_still_pongs_with_the_typed_fields(client: FlaskClient) -> None:
    assert deliver(client, "ping", load("ping")).status_code == 200
