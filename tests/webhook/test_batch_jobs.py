"""The App in batch mode: a worker submits, the periodic collector publishes; kill -9 safe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer

from reviewer.settings import Settings
from reviewer.spend.batch_jobs import BatchJobs
from reviewer.spend.ledger import Ledger
from tests.fakes.github_api import FakeGitHub, file_item
from tests.fakes.github_server import FakeGitHub as LoopbackGitHub
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, findings_answer
from tests.paths import ROOT
from tests.queues import consuming
from tests.test_service_e2e import (
    INJECTION,
    PATCH,
    REPO,
    SECRET,
    USAGE,
    headers,
    opened_body,
    pull_request,
)
from webhook.app import create_app
from webhook.jobs import JobOptions, JobQueue, ReviewJob

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def app_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def loopback_github() -> Iterator[LoopbackGitHub]:
    """The loopback fake GitHub with the App endpoints a worker process asks first."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/app/installations/1/access_tokens", method="POST").respond_with_json(
        {"token": "ghs_batch_installation_token", "expires_at": "2099-01-01T00:00:00Z"}, 201
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


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _ledger_rows(settings: Settings) -> list[tuple[str, int, int]]:
    with Ledger.open(settings.ledger_url) as ledger:
        rows = ledger.report(EPOCH, EPOCH.replace(year=2100), by="mode")
    return [(r.key, r.input_tokens, r.output_tokens) for r in rows]


def test_a_worker_submits_and_the_periodic_collector_publishes(
    fake_github: FakeGitHub, fake_claude: FakeMessages, app_key: str
) -> None:
    head = pull_request()["head"]["sha"]
    fake_github.add_pull(REPO, 2, files=[file_item("app/users.py", patch=PATCH)], head_sha=head)
    fake_claude.default = findings_answer([INJECTION], usage=USAGE)
    fake_claude.batch_polls = 10_000  # ends when the test says (not on a periodic run's poll)
    settings = fake_github.settings(
        github_token=None, github_app_id="1", github_private_key=app_key,
        anthropic_api_key=FAKE_API_KEY, anthropic_base_url=fake_claude.base_url,
        webhook_secret=SECRET, review_mode="batch", request_timeout_s=10.0,
    )  # fmt: skip
    queue = JobQueue(settings, name=f"b{uuid.uuid4().hex[:10]}", options=JobOptions())
    try:
        # Huey runs it every minute in every worker that consumes this queue.
        due = queue.huey.read_periodic(datetime(2026, 11, 30, 4, 0))
        assert [task.name for task in due] == ["collect_batches"]
        client = create_app(settings, queue=queue).test_client()
        body = opened_body()
        assert client.post("/webhook", data=body, headers=headers(body, "b-1")).status_code == 202
        with consuming(queue):
            wait_for(lambda: (queue.store.get("b-1") or _Never).state == "done")
        assert fake_github.bodies("POST", f"/repos/{REPO}/pulls/2/reviews") == []
        [batch] = fake_claude.batches.values()
        assert fake_claude.requests == []  # nothing in real time
        # The periodic task (as huey runs it each minute): in progress first, then ended.
        assert list(queue.collect_batches().values()) == ["submitted"]
        fake_claude.end_batch(batch.id)
        assert list(queue.collect_batches().values()) == ["reviewed"]
        assert queue.collect_batches() == {}
        [review] = fake_github.bodies("POST", f"/repos/{REPO}/pulls/2/reviews")
        assert review["commit_id"] == head
        assert [c["path"] for c in review["comments"]] == ["app/users.py"]
        assert "Reviewed in batch mode: $" in review["body"] and "(real time: $" in review["body"]
        billed = fake_claude.batch_usage_totals()
        assert _ledger_rows(settings) == [
            ("batch", billed["input_tokens"], billed["output_tokens"])
        ]
        assert len(fake_claude.batches) == 1 and batch.status == "ended"
    finally:
        queue.huey.flush()
        queue.close()


class _Never:
    state = None


WORKER = """
import sys
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer

from reviewer.settings import Settings
from reviewer.spend import batch_jobs
from webhook.jobs import JobOptions, JobQueue, run_worker

if sys.argv[2] == "die":
    # Hang right after the API created the batch, before its id is written: killed here.
    original = batch_jobs.BatchJobs.update

    def update(self, key, **values):
        if values.get("batch_id"):
            open(sys.argv[3], "w").write("created")
            import time
            time.sleep(120)
        return original(self, key, **values)

    batch_jobs.BatchJobs.update = update
options = JobOptions(retries=2, lease_s=1.0, recover_grace_s=0.5, recover_interval_s=0.3)
queue = JobQueue(Settings.from_env(), name=sys.argv[1], options=options)
run_worker(queue, workers=1)
"""


def test_kill_9_between_submit_and_collect_one_batch_one_review(
    loopback_github: LoopbackGitHub, fake_claude: FakeMessages, app_key: str, tmp_path: Path
) -> None:
    pull = pull_request()
    loopback_github.add_pull(pull, files=[file_item("app/users.py", patch=PATCH)])
    fake_claude.default = findings_answer([INJECTION], usage=USAGE)
    fake_claude.batch_polls = 10_000  # ends only when the test says so
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "REVIEWER_DATA_DIR": str(tmp_path / "data"),
        "REVIEWER_GITHUB_APP_ID": "1",
        "REVIEWER_GITHUB_PRIVATE_KEY": app_key,
        "REVIEWER_GITHUB_API_URL": loopback_github.api_url,
        "REVIEWER_GITHUB_WRITE_INTERVAL_S": "0",  # a loopback fake: no secondary limits
        "REVIEWER_REVIEW_MODE": "batch",
        "ANTHROPIC_API_KEY": FAKE_API_KEY,
        "ANTHROPIC_BASE_URL": fake_claude.base_url,
    }
    settings = Settings.from_env(env)
    name = f"k{uuid.uuid4().hex[:10]}"
    queue = JobQueue(settings, name=name, options=JobOptions(lease_s=1.0, recover_grace_s=0.5))
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    marker = tmp_path / "created"
    job = ReviewJob(delivery_id="kill-b", repo=REPO, pr_number=pull["number"],
                    installation_id=1, expected_head_sha=pull["head"]["sha"])  # fmt: skip
    try:
        queue.submit(job)

        def worker(mode: str, n: int) -> subprocess.Popen[bytes]:
            with (tmp_path / f"worker{n}.log").open("wb") as log:
                return subprocess.Popen([sys.executable, str(script), name, mode, str(marker)],
                                        env=env, cwd=ROOT, stdout=log, stderr=log)  # fmt: skip

        first = worker("die", 1)
        try:
            wait_for(marker.exists)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        [lost] = BatchJobs(queue.services.ledger).open_jobs()
        assert lost.status == "submitting" and lost.batch_id is None
        assert len(fake_claude.batches) == 1
        second = worker("live", 2)
        try:
            jobs = BatchJobs(queue.services.ledger)
            wait_for(lambda: (jobs.get(lost.key) or lost).status == "submitted", timeout=60)
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(20)
            except subprocess.TimeoutExpired:
                second.kill()
        [batch] = fake_claude.batches.values()  # found again, not submitted twice
        assert jobs.get(lost.key).batch_id == batch.id  # type: ignore[union-attr]
        fake_claude.end_batch(batch.id)
        # A collector that finds the job claimed or its pull request locked (the stopped
        # worker may have held either) leaves it to its next run, a lease (1 s) later.
        runs: list[dict[str, str]] = []
        wait_for(lambda: bool(runs.append(queue.collect_batches()) or runs[-1]), timeout=15)
        assert runs[-1] == {lost.key: "reviewed"}
        assert queue.collect_batches() == {}
        assert len(loopback_github.posted_reviews()) == 1
        billed = fake_claude.batch_usage_totals()
        assert _ledger_rows(settings) == [
            ("batch", billed["input_tokens"], billed["output_tokens"])
        ]
    finally:
        queue.huey.flush()
        queue.close()
