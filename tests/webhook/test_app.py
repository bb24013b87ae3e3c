"""The webhook endpoint, fed the real GitHub payloads with signatures computed here."""

from __future__ import annotations

import copy
import hashlib
import hmac
import io
import json
import logging
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from reviewer.errors import ConfigError
from reviewer.settings import Settings
from tests.paths import WEBHOOKS
from webhook.app import create_app, route, verify_signature
from webhook.jobs import JobQueue, ReviewJob
from webhook.logging import JsonFormatter, RedactingFilter, Redactor, log_context, secret_values

FIXTURES = WEBHOOKS
SECRET = "whsec-test-3f1c9a"
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(
    client: FlaskClient,
    event: str,
    payload: dict[str, Any] | bytes,
    *,
    delivery: str | None = None,
    signature: str | None = "compute",
) -> TestResponse:
    """POST one delivery with the headers GitHub sends."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }
    if signature == "compute":
        headers["X-Hub-Signature-256"] = sign(body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/webhook", data=body, headers=headers)


def pr_payload(action: str, **pr_changes: Any) -> dict[str, Any]:
    # Derived fixture: GitHub sends the same pull_request body for these actions, so the
    # opened delivery with `action` (and any pull_request field) changed stands for them.
    payload = load("pull_request.opened")
    payload["action"] = action
    payload["pull_request"].update(pr_changes)
    return payload


def pr_comment(body: str = "/review please", user_type: str = "User") -> dict[str, Any]:
    # Derived fixture: the recorded comment is on an issue; a PR comment carries
    # issue.pull_request, which is added here.
    payload = load("issue_comment.created")
    number = payload["issue"]["number"]
    base = "https://api.github.com/repos/Codertocat/Hello-World"
    payload["issue"]["pull_request"] = {
        "url": f"{base}/pulls/{number}",
        "html_url": f"https://github.com/Codertocat/Hello-World/pull/{number}",
        "diff_url": f"https://github.com/Codertocat/Hello-World/pull/{number}.diff",
        "patch_url": f"https://github.com/Codertocat/Hello-World/pull/{number}.patch",
    }
    payload["comment"]["body"] = body
    payload["comment"]["user"]["type"] = user_type
    return payload


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env(webhook_secret=SECRET)


@pytest.fixture
def queued() -> list[ReviewJob]:
    return []


@pytest.fixture
def app(settings: Settings, queued: list[ReviewJob]) -> Flask:
    return create_app(settings, enqueue=queued.append)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.mark.parametrize("action", ["opened", "reopened", "synchronize", "ready_for_review"])
def test_pull_request_actions_queue_a_review(
    client: FlaskClient, queued: list[ReviewJob], action: str
) -> None:
    payload = load("pull_request.synchronize") if action == "synchronize" else pr_payload(action)
    response = deliver(client, "pull_request", payload, delivery="d-" + action)
    assert response.status_code == 202
    assert response.json == {
        "status": "queued",
        "reason": "review of Codertocat/Hello-World#2 queued",
        "job_id": "d-" + action,
    }
    [job] = queued
    assert job == ReviewJob(
        delivery_id="d-" + action,
        repo="Codertocat/Hello-World",
        pr_number=2,
        installation_id=1,
        trigger="auto",
        expected_head_sha=payload["pull_request"]["head"]["sha"],
        event="pull_request",
        action=action,
    )
    request = job.to_request()
    assert request.event_action == action
    assert (request.trigger, request.delivery_id, request.installation_id) == (
        "auto",
        "d-" + action,
        1,
    )


def test_draft_pull_request_is_left_to_the_engine(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    # The engine skips drafts unless the operator or the repository's own `review.drafts`
    # asks for them; only the engine reads that file, so the endpoint queues the job.
    response = deliver(client, "pull_request", pr_payload("opened", draft=True))
    assert response.status_code == 202
    assert [job.trigger for job in queued] == ["auto"]


def test_ready_for_review_of_a_former_draft_is_reviewed(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    response = deliver(client, "pull_request", pr_payload("ready_for_review", draft=False))
    assert response.json is not None and response.json["status"] == "queued"
    assert len(queued) == 1


def test_closed_pull_request_is_not_reviewed(client: FlaskClient, queued: list[ReviewJob]) -> None:
    response = deliver(client, "pull_request", load("pull_request.closed"))
    assert (response.status_code, response.json) == (
        202,
        {"status": "ignored", "reason": "pull_request action 'closed' is not reviewed"},
    )
    # A synchronize that races a close still finds the PR closed.
    closed = pr_payload("synchronize", state="closed")
    assert deliver(client, "pull_request", closed).json == {
        "status": "ignored",
        "reason": "the pull request is closed",
    }
    assert queued == []


def test_comment_on_an_issue_is_ignored(client: FlaskClient, queued: list[ReviewJob]) -> None:
    payload = load("issue_comment.created")
    payload["comment"]["body"] = "/review"
    response = deliver(client, "issue_comment", payload)
    assert (response.status_code, response.json) == (
        202,
        {"status": "ignored", "reason": "comment on an issue, not a pull request"},
    )
    assert queued == []


def test_command_on_a_pull_request_queues_a_command_review(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    payload = pr_comment("/review please, focus on errors")
    response = deliver(client, "issue_comment", payload, delivery="cmd-1")
    assert response.status_code == 202
    [job] = queued
    assert job == ReviewJob(
        delivery_id="cmd-1",
        repo="Codertocat/Hello-World",
        pr_number=payload["issue"]["number"],
        installation_id=1,
        trigger="command",
        requested_by="Codertocat",
        comment_id=payload["comment"]["id"],
        event="issue_comment",
        command="/review",
    )


def test_another_slash_command_is_queued_for_the_engine_to_match(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    # Only the worker reads the repository's review.command, so any single /word is queued
    # with that word; the engine drops it unless it is the repository's command.
    deliver(client, "issue_comment", pr_comment("/claude look again"), delivery="cmd-2")
    [job] = queued
    assert (job.command, job.to_request().command) == ("/claude", "/claude")


NOT_A_COMMAND = "comment does not start with /review or another /command"


@pytest.mark.parametrize(
    ("body", "user_type", "reason"),
    [
        ("/review", "Bot", "comment by a bot"),
        ("Looks good to me", "User", NOT_A_COMMAND),
        ("please /review", "User", NOT_A_COMMAND),
        ("/ review", "User", NOT_A_COMMAND),
        ("/" + "x" * 40, "User", NOT_A_COMMAND),
    ],
)
def test_comments_that_do_not_ask_for_a_review(
    client: FlaskClient, queued: list[ReviewJob], body: str, user_type: str, reason: str
) -> None:
    response = deliver(client, "issue_comment", pr_comment(body, user_type))
    assert (response.status_code, response.json) == (202, {"status": "ignored", "reason": reason})
    assert queued == []


def test_edited_comment_is_ignored(client: FlaskClient, queued: list[ReviewJob]) -> None:
    payload = pr_comment()
    payload["action"] = "edited"
    assert deliver(client, "issue_comment", payload).status_code == 202
    assert queued == []


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing X-Hub-Signature-256"),
        ("sha256=" + "0" * 64, "X-Hub-Signature-256 does not match"),
        ("sha1=abc", "X-Hub-Signature-256 does not match"),
        ("compute-wrong-secret", "X-Hub-Signature-256 does not match"),
    ],
)
def test_unsigned_or_wrongly_signed_deliveries_are_refused(
    client: FlaskClient, queued: list[ReviewJob], signature: str | None, reason: str
) -> None:
    payload = pr_payload("opened")
    if signature == "compute-wrong-secret":
        signature = sign(json.dumps(payload).encode(), secret="another-secret")
    response = deliver(client, "pull_request", payload, signature=signature)
    assert (response.status_code, response.json) == (
        401,
        {"status": "unauthorized", "reason": reason},
    )
    assert queued == []


def test_signature_is_checked_before_the_body_is_parsed(client: FlaskClient) -> None:
    response = deliver(client, "pull_request", b"{not json", signature="sha256=" + "1" * 64)
    assert response.status_code == 401


def test_signature_covers_the_exact_bytes(client: FlaskClient, queued: list[ReviewJob]) -> None:
    body = json.dumps(pr_payload("opened")).encode()
    response = deliver(client, "pull_request", body + b" ", signature=sign(body))
    assert response.status_code == 401
    assert queued == []


def test_replayed_delivery_is_acknowledged_once(
    settings: Settings, client: FlaskClient, queued: list[ReviewJob]
) -> None:
    payload = pr_payload("opened")
    first = deliver(client, "pull_request", payload, delivery="replay-1")
    second = deliver(client, "pull_request", payload, delivery="replay-1")
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json == {"status": "duplicate", "reason": "this delivery was already received"}
    assert len(queued) == 1
    # A restarted service (a new app on the same data directory) still remembers it.
    again = create_app(settings, enqueue=queued.append).test_client()
    assert deliver(again, "pull_request", payload, delivery="replay-1").status_code == 200
    assert deliver(again, "pull_request", payload, delivery="replay-2").status_code == 202
    assert [job.delivery_id for job in queued] == ["replay-1", "replay-2"]


def test_oversized_body_is_refused_by_content_length(
    client: FlaskClient, queued: list[ReviewJob]
) -> None:
    body = b"{" + b" " * (25 * 1024 * 1024) + b"}"
    response = deliver(client, "pull_request", body)
    assert (response.status_code, response.json) == (
        413,
        {"status": "too_large", "reason": f"body over {25 * 1024 * 1024} bytes"},
    )
    assert queued == []


def test_oversized_body_without_content_length_is_refused_while_reading(
    queued: list[ReviewJob],
) -> None:
    settings = Settings.from_env(webhook_secret=SECRET, max_body_bytes=1000)
    client = create_app(settings, enqueue=queued.append).test_client()
    body = json.dumps(pr_payload("opened")).encode()
    # A chunked request has no Content-Length; gunicorn marks its input as terminated.
    response = client.post(
        "/webhook",
        input_stream=io.BytesIO(body),
        headers={
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": "chunked-1",
            "X-Hub-Signature-256": sign(body),
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert queued == []


def test_malformed_json_is_a_bad_request(client: FlaskClient, queued: list[ReviewJob]) -> None:
    response = deliver(client, "pull_request", b'{"action": "opened",')
    assert (response.status_code, response.json) == (
        400,
        {"status": "bad_request", "reason": "body is not valid JSON"},
    )
    response = deliver(client, "pull_request", b"[1, 2]")
    assert response.json == {"status": "bad_request", "reason": "body is not a JSON object"}
    assert queued == []


@pytest.mark.parametrize("event", ["pull_request", "issue_comment"])
def test_missing_installation_is_a_bad_request(
    client: FlaskClient, queued: list[ReviewJob], event: str
) -> None:
    payload = pr_payload("opened") if event == "pull_request" else pr_comment()
    del payload["installation"]
    response = deliver(client, event, payload)
    assert response.status_code == 400
    assert response.json == {
        "status": "bad_request",
        "reason": "missing installation.id: is the webhook set on the GitHub App?",
    }
    assert queued == []


def test_missing_field_is_a_bad_request_naming_it(client: FlaskClient) -> None:
    payload = pr_payload("opened")
    del payload["pull_request"]["head"]
    response = deliver(client, "pull_request", payload)
    assert response.json == {"status": "bad_request", "reason": "missing pull_request.head.sha"}


def test_missing_delivery_header_is_a_bad_request(client: FlaskClient) -> None:
    body = json.dumps(pr_payload("opened")).encode()
    response = client.post(
        "/webhook",
        data=body,
        headers={"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": sign(body)},
    )
    assert response.status_code == 400


def test_ping_is_answered(client: FlaskClient) -> None:
    response = deliver(client, "ping", load("ping"))
    assert (response.status_code, response.json) == (200, {"status": "pong", "reason": "pong"})


def test_unhandled_event_is_ignored_with_a_reason(client: FlaskClient) -> None:
    response = deliver(client, "installation", load("installation.created"))
    assert (response.status_code, response.json) == (
        202,
        {"status": "ignored", "reason": "event 'installation' is not handled"},
    )


def test_app_refuses_to_start_without_a_secret() -> None:
    with pytest.raises(ConfigError, match="REVIEWER_WEBHOOK_SECRET") as info:
        create_app(Settings.from_env())
    assert info.value.key == "REVIEWER_WEBHOOK_SECRET"


def test_queue_failure_is_503_and_the_delivery_can_come_again(settings: Settings) -> None:
    accepted: list[ReviewJob] = []

    def broken(job: ReviewJob) -> None:
        raise ConnectionError("queue is down")

    client = create_app(settings, enqueue=broken).test_client()
    payload = pr_payload("opened")
    assert deliver(client, "pull_request", payload, delivery="retry-me").status_code == 503
    client = create_app(settings, enqueue=accepted.append).test_client()
    assert deliver(client, "pull_request", payload, delivery="retry-me").status_code == 202
    assert len(accepted) == 1


def test_default_app_puts_the_job_on_the_sqlite_queue(settings: Settings) -> None:
    queue = JobQueue(settings)
    client = create_app(settings, queue=queue).test_client()
    assert deliver(client, "pull_request", pr_payload("opened"), delivery="q-1").status_code == 202
    assert queue.queued_job_ids() == {"q-1"}
    record = queue.store.get("q-1")
    assert record is not None and record.state == "queued"
    assert settings.queue_path.exists()


def test_route_is_pure_data() -> None:
    settings = Settings.from_env(webhook_secret=SECRET)
    decision = route("pull_request", pr_payload("opened"), "d-1", settings)
    assert (decision.status, decision.outcome) == (202, "queued")
    assert decision.job is not None and decision.job.expected_head_sha == HEAD_SHA


def test_verify_signature() -> None:
    assert verify_signature(SECRET, b"abc", sign(b"abc"))
    assert not verify_signature(SECRET, b"abc", sign(b"abd"))
    assert not verify_signature(SECRET, b"abc", None)
    assert not verify_signature(SECRET, b"abc", sign(b"abc").upper())


def test_healthz_reports_queue_and_ledger(settings: Settings) -> None:
    client = create_app(settings, queue=JobQueue(settings)).test_client()
    response = client.get("/healthz")
    assert (response.status_code, response.json) == (
        200,
        {"status": "ok", "queue": "ok", "ledger": "ok"},
    )


METRICS_TOKEN = "metrics-token-5e1d-0a77"
BEARER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def test_healthz_is_503_when_the_queue_is_unreachable() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    settings = Settings.from_env(
        webhook_secret=SECRET,
        redis_url="redis://:pw-9d2e@127.0.0.1:1/0",
        metrics_token=METRICS_TOKEN,
    )
    client = create_app(settings, enqueue=lambda job: None).test_client()
    anonymous = client.get("/healthz")
    assert (anonymous.status_code, anonymous.json) == (
        503,
        {"status": "unavailable", "queue": "unavailable"},
    )
    response = client.get("/healthz", headers=BEARER)
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["status"] == "unavailable"
    assert response.json["reason"].startswith("queue: ConnectionError")
    assert "pw-9d2e" not in response.get_data(as_text=True)


def test_healthz_is_503_when_the_ledger_is_unreachable() -> None:
    settings = Settings.from_env(
        webhook_secret=SECRET,
        database_url="postgresql+psycopg://u:pw-77@127.0.0.1:1/x",
        metrics_token=METRICS_TOKEN,
    )
    client = create_app(settings, enqueue=lambda job: None).test_client()
    anonymous = client.get("/healthz")
    assert anonymous.status_code == 503
    assert anonymous.json == {"status": "unavailable", "queue": "ok", "ledger": "unavailable"}
    assert "127.0.0.1" not in anonymous.get_data(as_text=True)
    response = client.get("/healthz", headers=BEARER)
    assert response.status_code == 503
    assert response.json is not None and response.json["reason"].startswith("ledger: ")
    assert "pw-77" not in response.get_data(as_text=True)


def test_metrics_count_deliveries_by_event_and_outcome(client: FlaskClient) -> None:
    payload = pr_payload("opened")
    deliver(client, "pull_request", payload, delivery="m-1")
    deliver(client, "pull_request", payload, delivery="m-1")
    deliver(client, "pull_request", payload, signature=None)
    deliver(client, "ping", load("ping"))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    lines = set(text.splitlines())
    assert 'reviewer_deliveries_total{event="pull_request",outcome="queued"} 1' in lines
    assert 'reviewer_deliveries_total{event="pull_request",outcome="duplicate"} 1' in lines
    assert 'reviewer_deliveries_total{event="unverified",outcome="unauthorized"} 1' in lines
    assert 'reviewer_deliveries_total{event="ping",outcome="pong"} 1' in lines
    assert 'reviewer_jobs{state="queued"} 1' in lines
    assert "# TYPE reviewer_review_duration_seconds histogram" in lines
    assert 'reviewer_review_duration_seconds_bucket{le="+Inf"} 0' in lines


def test_deliveries_are_logged_as_json_with_the_delivery_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webhook.app")
    deliver(client, "pull_request", pr_payload("opened"), delivery="log-1")
    [record] = [r for r in caplog.records if r.getMessage().startswith("job queued")]
    line = json.loads(JsonFormatter().format(record))
    assert line["delivery_id"] == "log-1"
    assert (line["repo"], line["pr"], line["job_id"]) == ("Codertocat/Hello-World", 2, "log-1")
    assert set(line) >= {"time", "level", "message"}


def test_log_lines_never_carry_secrets() -> None:
    key = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\n"
    settings = Settings.from_env(
        webhook_secret=SECRET,
        github_private_key=key,
        anthropic_api_key="sk-ant-fake-redact",
        redis_url="redis://:redis-pass-1@127.0.0.1:6379/0",
    )
    redactor = Redactor(secret_values(settings))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(redactor=redactor))
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with log_context(delivery_id="sec-1"):
            logger.warning("secret %s and key %s", SECRET, key)
            logger.warning("headers {'Authorization': 'token ghs_abcdefghijklmnopqrstuvwx'}")
            logger.warning("Authorization: Bearer eyJhbGciOi.payload.sig")
            logger.warning("anthropic sk-ant-fake-redact redis-pass-1")
            try:
                raise RuntimeError(f"failed with {SECRET}")
            except RuntimeError:
                logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    for secret in (SECRET, "MIIEpAIBAAKCAQEA7", "ghs_abcdef", "eyJhbGciOi", "sk-ant", "redis-pass"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 5
    assert all(line["delivery_id"] == "sec-1" for line in lines)
    assert lines[1]["message"] == "headers {'Authorization': '[REDACTED]'}"
    assert lines[2]["message"] == "Authorization: [REDACTED]"
    assert "[REDACTED]" in lines[4]["exception"]


def test_payload_fixtures_are_not_modified_by_tests() -> None:
    before = load("pull_request.opened")
    pr_payload("reopened", draft=True)
    assert load("pull_request.opened") == before == copy.deepcopy(before)
