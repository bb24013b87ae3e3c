"""The App service end to end: signed delivery → queue → worker → engine → one review, spend.

Two ways: in process (Flask test client, a huey consumer in threads, the `responses` fake
GitHub, on SQLite and on Redis), and as a user runs it (`reviewer serve` in a subprocess:
gunicorn and a worker process, against a loopback fake GitHub and the fake Messages API).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer

from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from tests.fakes.github_api import FakeGitHub, file_item
from tests.fakes.github_server import FakeGitHub as LoopbackGitHub
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, findings_answer
from tests.queues import consuming, drop_queue
from webhook.app import create_app
from webhook.jobs import JobOptions, JobQueue

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
SECRET = "whsec-e2e-51b7-0c2f"
REPO = "Codertocat/Hello-World"
PATCH = "\n".join(
    [
        "@@ -1,3 +1,4 @@",
        " import sqlite3",
        "-def find(conn, uid):",
        "+def find(conn, name):",
        "+    return conn.execute(f\"SELECT * FROM u WHERE name = '{name}'\").fetchone()",
        " # end",
    ]
)
INJECTION = {
    "path": "app/users.py",
    "line": 3,
    "side": "RIGHT",
    "severity": "critical",
    "category": "security",
    "title": "SQL injection",
    "body": "User input is formatted into SQL.",
}
USAGE = {"input_tokens": 2100, "output_tokens": 240, "cache_creation_input_tokens": 1500}


def opened_body() -> bytes:
    # The recorded delivery, byte for byte: the signature covers exactly these bytes.
    return (FIXTURES / "pull_request.opened.json").read_bytes()


def headers(body: bytes, delivery: str, event: str = "pull_request") -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + digest,
    }


def pull_request() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(opened_body())["pull_request"]
    return data


@pytest.fixture(scope="module")
def app_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def ledger_totals(settings: Settings) -> tuple[int, dict[str, int]]:
    ledger = Ledger.open(settings.ledger_url)
    try:
        rows = ledger.report(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    finally:
        ledger.close()
    keys = ("input_tokens", "output_tokens", "cache_creation_input_tokens")
    return sum(r.calls for r in rows), {k: sum(getattr(r, k) for r in rows) for k in keys}


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_signed_delivery_becomes_one_posted_review_and_recorded_spend(
    fake_github: FakeGitHub,
    fake_claude: FakeMessages,
    app_key: str,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    head = pull_request()["head"]["sha"]
    fake_github.add_pull(REPO, 2, files=[file_item("app/users.py", patch=PATCH)], head_sha=head)
    fake_claude.enqueue(findings_answer([INJECTION], usage=USAGE))
    settings = fake_github.settings(
        github_token=None,
        github_app_id="1",
        github_private_key=app_key,
        anthropic_api_key=FAKE_API_KEY,
        anthropic_base_url=fake_claude.base_url,
        webhook_secret=SECRET,
        metrics_token="metrics-token-e2e-7c41",
        redis_url=request.getfixturevalue("redis_url") if backend == "redis" else None,
        request_timeout_s=10.0,
    )
    queue = JobQueue(settings, name=f"e2e{uuid.uuid4().hex[:10]}", options=JobOptions())
    client = create_app(settings, queue=queue).test_client()
    try:
        body = opened_body()
        response = client.post("/webhook", data=body, headers=headers(body, "e2e-1"))
        assert response.status_code == 202
        with consuming(queue):
            wait_for(lambda: _state(queue, "e2e-1") == "done")
            replay = client.post("/webhook", data=body, headers=headers(body, "e2e-1"))
            assert replay.json is not None and replay.json["status"] == "duplicate"
            time.sleep(0.5)

        [review] = fake_github.bodies("POST", f"/repos/{REPO}/pulls/2/reviews")
        assert review["commit_id"] == head and review["event"] == "COMMENT"
        assert [c["path"] for c in review["comments"]] == ["app/users.py"]
        # Posted as the App's installation, with the installation id from the delivery.
        [post] = [
            c for c in fake_github.calls if c.method == "POST" and c.path.endswith("/reviews")
        ]
        assert post.authorization == "token ghs_installation1"
        # The App's check run on the head: the critical finding shows as a failure annotation;
        # no fail_on in the repository, so the run itself succeeds.
        [check] = fake_github.check_runs(REPO)
        assert (check["head_sha"], check["status"], check["conclusion"]) == (
            head, "completed", "success",
        )  # fmt: skip
        assert [a["annotation_level"] for a in check["annotations"]] == ["failure"]
        calls, totals = ledger_totals(settings)
        assert calls == 1 and totals == {k: fake_claude.usage_totals()[k] for k in totals}
        bearer = {"Authorization": "Bearer metrics-token-e2e-7c41"}
        metrics = client.get("/metrics", headers=bearer).get_data(as_text=True).splitlines()
        assert 'reviewer_jobs_finished_total{outcome="reviewed"} 1' in metrics
        tokens = f'reviewer_tokens_total{{kind="input_tokens",repo="{REPO}"}} 2100'
        assert tokens in metrics
        anonymous = client.get("/metrics").get_data(as_text=True)
        assert 'reviewer_jobs_finished_total{outcome="reviewed"} 1' in anonymous
        assert REPO not in anonymous and "reviewer_cost_usd_total" not in anonymous
    finally:
        drop_queue(queue)


@pytest.fixture
def loopback_github() -> Iterator[LoopbackGitHub]:
    """The loopback fake GitHub, plus the App endpoints a worker process needs first."""
    server = HTTPServer(host="127.0.0.1", port=0)
    # Registered before the fake's catch-all, so these answer first.
    server.expect_request("/app/installations/1/access_tokens", method="POST").respond_with_json(
        {"token": "ghs_e2e_installation_token", "expires_at": "2099-01-01T00:00:00Z"}, 201
    )
    server.expect_request("/app", method="GET").respond_with_json(
        {"id": 1, "slug": "github-actions", "name": "reviewer"}
    )
    server.start()
    try:
        yield LoopbackGitHub(server, repo=REPO)
    finally:
        server.clear()
        server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(port: int, method: str, path: str, body: bytes = b"", hdrs: Any = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=hdrs or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_reviewer_serve_end_to_end(
    loopback_github: LoopbackGitHub, fake_claude: FakeMessages, app_key: str, tmp_path: Path
) -> None:
    pull = pull_request()
    loopback_github.add_pull(pull, files=[file_item("app/users.py", patch=PATCH)])
    fake_claude.enqueue(findings_answer([INJECTION], usage=USAGE))
    port = _free_port()
    data_dir = tmp_path / "service"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "REVIEWER_DATA_DIR": str(data_dir),
        "REVIEWER_WEBHOOK_SECRET": SECRET,
        "REVIEWER_GITHUB_APP_ID": "1",
        "REVIEWER_GITHUB_PRIVATE_KEY": app_key,
        "REVIEWER_GITHUB_API_URL": loopback_github.api_url,
        "REVIEWER_GITHUB_WRITE_INTERVAL_S": "0",  # a loopback fake: no secondary limits
        "ANTHROPIC_API_KEY": FAKE_API_KEY,
        "ANTHROPIC_BASE_URL": fake_claude.base_url,
    }
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "webhook.cli", "serve", "--port", str(port)]
    command += ["--web-workers", "1", "--workers", "1"]
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
    try:
        wait_for(lambda: _healthy(port), timeout=30)
        body = opened_body()
        status, answer = _http(port, "POST", "/webhook", body, headers(body, "serve-1"))
        assert (status, json.loads(answer)["status"]) == (202, "queued")
        wait_for(lambda: len(loopback_github.posted_reviews()) == 1, timeout=60)
        wait_for(lambda: any(r["conclusion"] for r in loopback_github.check_runs), timeout=60)
        status, answer = _http(port, "POST", "/webhook", body, headers(body, "serve-1"))
        assert (status, json.loads(answer)["status"]) == (200, "duplicate")
        settings = Settings.from_env({"REVIEWER_DATA_DIR": str(data_dir)})
        wait_for(lambda: ledger_totals(settings)[0] == 1)
        _, metrics = _http(port, "GET", "/metrics")
        assert 'reviewer_deliveries_total{event="pull_request",outcome="queued"} 1' in metrics
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            code = serve.wait(40)
        except subprocess.TimeoutExpired:
            serve.kill()
            raise
    time.sleep(1.0)
    assert code == 0
    [review] = loopback_github.posted_reviews()
    assert review["commit_id"] == pull["head"]["sha"]
    [check] = loopback_github.check_runs
    assert (check["head_sha"], check["conclusion"]) == (pull["head"]["sha"], "success")
    assert "Bearer" not in str(
        loopback_github.authorizations - {"token ghs_e2e_installation_token"}
    )
    assert loopback_github.errors == []
    calls, totals = ledger_totals(settings)
    assert calls == 1 and totals == {k: fake_claude.usage_totals()[k] for k in totals}
    lines = log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r.get("delivery_id") == "serve-1" and r["logger"] == "webhook.jobs" for r in records)
    text = log_path.read_text()
    for secret in (SECRET, app_key.splitlines()[1], "ghs_e2e_installation_token", FAKE_API_KEY):
        assert secret not in text


def test_serve_refuses_to_start_without_a_setting(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    env["REVIEWER_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "webhook.cli", "serve", "--port", str(_free_port())],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "reviewer: error: REVIEWER_WEBHOOK_SECRET is not set (the App's webhook secret)"
    )
    env["REVIEWER_WEBHOOK_SECRET"] = SECRET
    env["REVIEWER_GITHUB_APP_ID"] = "1"
    env["REVIEWER_GITHUB_PRIVATE_KEY"] = "not a key"
    result = subprocess.run(
        [sys.executable, "-m", "webhook.cli", "worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "REVIEWER_GITHUB_PRIVATE_KEY" in result.stderr
    assert "not a key" not in result.stderr


def _healthy(port: int) -> bool:
    try:
        return bool(_http(port, "GET", "/healthz")[0] == 200)
    except OSError:
        return False


def _state(queue: JobQueue, job_id: str) -> str | None:
    record = queue.store.get(job_id)
    return record.state if record else None
