"""The job queue on SQLite and on the real Redis: locks, retries, failure notes, recovery."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from reviewer.errors import ClaudeError, GitHubError, LedgerError, ReviewerError
from reviewer.model import ChunkReport, ReviewRequest, ReviewResult
from reviewer.review.ports import ReviewServices
from reviewer.settings import Settings
from tests.paths import ROOT as PROJECT_ROOT
from tests.queues import consuming, drop_queue
from webhook.jobs import JobOptions, JobQueue, ReviewJob, run_worker

# Short timings so retries, leases and recovery happen within a test; huey's scheduler
# itself wakes once a second, so a retry takes about a second whatever the delay.
FAST = JobOptions(
    retries=2,
    retry_delay_s=0.1,
    retry_backoff=1.0,
    lease_s=1.0,
    lock_retry_s=0.1,
    recover_grace_s=0.5,
    recover_interval_s=0.3,
)
ROOT = PROJECT_ROOT


def job(delivery: str, pr: int = 7, repo: str = "octo/widgets") -> ReviewJob:
    return ReviewJob(
        delivery_id=delivery,
        repo=repo,
        pr_number=pr,
        installation_id=42,
        expected_head_sha="a" * 40,
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class FakeEngine:
    """Stands in for run_review: records calls, fails as told, can be held mid-review."""

    def __init__(self, failures: list[Exception] | None = None, hold: bool = False) -> None:
        self.calls: list[ReviewRequest] = []
        self.failures = list(failures or [])
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def __call__(self, request: ReviewRequest, services: ReviewServices) -> ReviewResult:
        with self._lock:
            self.calls.append(request)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            failure = self.failures.pop(0) if self.failures else None
        try:
            self.release.wait(20)
            if failure is not None:
                raise failure
            return ReviewResult(
                status="reviewed",
                head_sha=request.expected_head_sha,
                usage={"input_tokens": 1200, "output_tokens": 300},
                cost_usd=Decimal("0.0081"),
                chunks=(
                    ChunkReport(0, ("a.py",), 900, "ok"),
                    ChunkReport(1, ("b.py",), 900, "refused"),
                    ChunkReport(2, ("c.py",), 900, "skipped"),
                ),
                budget_stop="the review budget of $0.01 is reached",
            )
        finally:
            with self._lock:
                self.running -= 1


class Notes:
    def __init__(self) -> None:
        self.posted: list[tuple[str, int, str]] = []

    def __call__(self, job: ReviewJob, services: ReviewServices, reason: str) -> None:
        self.posted.append((job.repo, job.pr_number, reason))


@pytest.fixture(params=["sqlite", "redis"])
def settings(request: pytest.FixtureRequest) -> Settings:
    if request.param == "redis":
        return Settings.from_env(redis_url=request.getfixturevalue("redis_url"))
    return Settings.from_env()


@pytest.fixture
def queue_name() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_queue(settings: Settings, queue_name: str) -> Iterator[Callable[..., JobQueue]]:
    made: list[JobQueue] = []

    def make(
        runner: FakeEngine, notes: Notes | None = None, options: JobOptions = FAST
    ) -> JobQueue:
        queue = JobQueue(
            settings, name=queue_name, options=options, runner=runner, notifier=notes or Notes()
        )
        made.append(queue)
        return queue

    yield make
    for queue in made:
        drop_queue(queue)


def test_a_job_runs_once_and_is_recorded(make_queue: Callable[..., JobQueue]) -> None:
    engine = FakeEngine()
    queue = make_queue(engine)
    assert queue.submit(job("d-1"))
    assert not queue.submit(job("d-1")), "a repeated delivery is not queued twice"
    assert queue.queued_job_ids() == {"d-1"}
    with consuming(queue):
        wait_for(lambda: _state(queue, "d-1") == "done")
    [request] = engine.calls
    assert request == ReviewRequest(
        repo="octo/widgets",
        pr_number=7,
        trigger="auto",
        expected_head_sha="a" * 40,
        installation_id=42,
        delivery_id="d-1",
        wait=False,  # nobody waits on a webhook: a batch review is collected later
    )
    record = queue.store.get("d-1")
    assert record is not None and (record.attempts, record.outcome) == (1, "reviewed")
    counters = queue.store.counters()
    assert counters['reviewer_jobs_finished_total{outcome="reviewed"}'] == 1
    assert counters['reviewer_tokens_total{kind="input_tokens",repo="octo/widgets"}'] == 1200
    assert counters['reviewer_cost_usd_total{repo="octo/widgets"}'] == pytest.approx(0.0081)
    assert counters["reviewer_review_duration_seconds_count"] == 1
    assert counters["reviewer_budget_stops_total"] == 1
    assert counters['reviewer_chunks_total{status="refused"}'] == 1
    assert counters['reviewer_chunks_total{status="skipped"}'] == 1


def test_one_pull_request_is_reviewed_by_one_worker_at_a_time(
    make_queue: Callable[..., JobQueue],
) -> None:
    engine = FakeEngine(hold=True)
    # A lease long enough that a late renewal on a loaded machine cannot let the lock lapse:
    # this test is about mutual exclusion, not lease expiry (tested elsewhere).
    queue = make_queue(engine, options=dataclasses.replace(FAST, lease_s=10.0))
    queue.submit(job("same-1", pr=7))
    queue.submit(job("same-2", pr=7))
    with consuming(queue, workers=2):
        wait_for(lambda: len(engine.calls) == 1)
        # Either job may take the PR's lock first: two workers dequeue them concurrently.
        first = engine.calls[0].delivery_id
        [other] = {"same-1", "same-2"} - {first}
        # The other job finds the PR locked and waits its turn (retried, not dropped).
        time.sleep(1.5)
        assert len(engine.calls) == 1
        assert _state(queue, other) == "queued"
        engine.release.set()
        wait_for(lambda: _state(queue, other) == "done")
    assert [r.delivery_id for r in engine.calls] == [first, other]
    assert engine.max_running == 1
    record = queue.store.get(other)
    assert record is not None and record.attempts == 1, "waiting for the lock is no attempt"


def test_different_pull_requests_run_in_parallel(make_queue: Callable[..., JobQueue]) -> None:
    engine = FakeEngine(hold=True)
    queue = make_queue(engine)
    queue.submit(job("p-1", pr=1))
    queue.submit(job("p-2", pr=2))
    with consuming(queue, workers=2):
        wait_for(lambda: engine.running == 2)
        engine.release.set()
        wait_for(lambda: _state(queue, "p-1") == _state(queue, "p-2") == "done")


def test_transient_failures_are_retried_then_succeed(
    make_queue: Callable[..., JobQueue],
) -> None:
    failures: list[Exception] = [
        GitHubError("GitHub answered 502", status_code=502, retryable=True),
        ClaudeError("overloaded", status_code=529, retryable=True),
    ]
    engine, notes = FakeEngine(failures), Notes()
    queue = make_queue(engine, notes)
    queue.submit(job("r-1"))
    with consuming(queue):
        wait_for(lambda: _state(queue, "r-1") == "done")
    assert len(engine.calls) == 3
    assert notes.posted == []
    assert queue.store.counters()["reviewer_job_retries_total"] == 2


def test_a_ledger_database_away_is_retried_not_failed(
    make_queue: Callable[..., JobQueue],
) -> None:
    # What ReviewSpend.before_call raises when it cannot write the call's reservation.
    away = LedgerError("cannot write to the ledger: database is locked", retryable=True)
    engine, notes = FakeEngine([away]), Notes()
    queue = make_queue(engine, notes)
    queue.submit(job("l-1"))
    with consuming(queue):
        wait_for(lambda: _state(queue, "l-1") == "done")
    assert len(engine.calls) == 2
    assert notes.posted == []


def test_a_job_that_keeps_failing_leaves_one_note_and_a_log_line(
    make_queue: Callable[..., JobQueue], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    failures: list[Exception] = [
        GitHubError("GitHub answered 503", status_code=503, retryable=True) for _ in range(5)
    ]
    engine, notes = FakeEngine(failures), Notes()
    queue = make_queue(engine, notes)
    queue.submit(job("f-1"))
    with consuming(queue):
        wait_for(lambda: _state(queue, "f-1") == "failed")
    assert len(engine.calls) == FAST.retries + 1
    assert notes.posted == [("octo/widgets", 7, "GitHub answered 503")]
    [line] = [r for r in caplog.records if "failed for good" in r.getMessage()]
    assert "f-1" in line.getMessage()
    assert getattr(line, "delivery_id", None) == "f-1"
    assert queue.store.counters()['reviewer_jobs_finished_total{outcome="error"}'] == 1


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (ReviewerError("the diff is not a unified diff"), "the diff is not a unified diff"),
        (GitHubError("Not Found", status_code=404), "Not Found"),
        (KeyError("bug"), "an internal error in the reviewer"),
    ],
)
def test_permanent_failures_are_not_retried(
    make_queue: Callable[..., JobQueue], failure: Exception, reason: str
) -> None:
    engine, notes = FakeEngine([failure]), Notes()
    queue = make_queue(engine, notes)
    queue.submit(job("p-1"))
    with consuming(queue):
        wait_for(lambda: _state(queue, "p-1") == "failed")
    assert len(engine.calls) == 1
    assert notes.posted == [("octo/widgets", 7, reason)]


def test_a_failing_note_does_not_break_the_worker(make_queue: Callable[..., JobQueue]) -> None:
    def broken_notes(job: ReviewJob, services: ReviewServices, reason: str) -> None:
        raise GitHubError("cannot comment", status_code=403)

    engine = FakeEngine([ReviewerError("nope")])
    queue = make_queue(engine)
    queue.notifier = broken_notes
    queue.submit(job("n-1"))
    queue.submit(job("n-2", pr=8))
    with consuming(queue):
        wait_for(lambda: _state(queue, "n-2") == "done")
    assert _state(queue, "n-1") == "failed"


def test_copies_of_one_job_run_it_once(make_queue: Callable[..., JobQueue]) -> None:
    engine = FakeEngine()
    queue = make_queue(engine)
    queue.submit(job("c-1"))
    queue.enqueue(job("c-1"))  # as a racing recovery sweep might
    queue.enqueue(job("c-1"))
    with consuming(queue, workers=2):
        wait_for(lambda: _state(queue, "c-1") == "done")
        wait_for(lambda: not queue.queued_job_ids())
    assert len(engine.calls) == 1


def test_recover_requeues_a_job_whose_worker_died(make_queue: Callable[..., JobQueue]) -> None:
    engine = FakeEngine()
    queue = make_queue(engine)
    queue.submit(job("dead-1"))
    # A worker took the job (huey removed it from its queue) and then died.
    assert queue.huey.dequeue() is not None
    assert queue.store.start("dead-1", token="dead-worker", lease_s=0.2) is not None
    assert queue.recover() == 0, "the lease is still valid"
    time.sleep(0.3)
    assert queue.recover() == 1
    assert queue.recover() == 0, "a second sweep does not enqueue it again"
    with consuming(queue):
        wait_for(lambda: _state(queue, "dead-1") == "done")
    assert len(engine.calls) == 1


def test_recover_enqueues_a_job_lost_between_claim_and_enqueue(
    make_queue: Callable[..., JobQueue],
) -> None:
    engine = FakeEngine()
    queue = make_queue(engine)
    lost, kept = job("lost-1"), job("kept-1", pr=8)
    # The web process recorded the delivery and died before putting it on the queue.
    assert queue.store.claim(
        lost.delivery_id, job_id=lost.job_id, lock_key=lost.lock_key, payload=lost.to_dict()
    )
    queue.submit(kept)
    assert queue.recover() == 0, "within the grace period"
    time.sleep(FAST.recover_grace_s + 0.1)
    assert queue.recover() == 1, "only the job missing from huey is enqueued"
    assert queue.queued_job_ids() == {"lost-1", "kept-1"}


def test_a_job_interrupted_too_often_is_given_up(make_queue: Callable[..., JobQueue]) -> None:
    engine, notes = FakeEngine(), Notes()
    queue = make_queue(engine, notes)
    queue.submit(job("poison-1"))
    for n in range(FAST.retries + 1):
        token = f"crashed-{n}"
        assert queue.store.start("poison-1", token=token, lease_s=0.05) is not None
        queue.store.count_attempt("poison-1", token=token)
        time.sleep(0.1)
    with consuming(queue):
        wait_for(lambda: _state(queue, "poison-1") == "failed")
    assert engine.calls == []
    assert notes.posted == [("octo/widgets", 7, "gave up after 3 interrupted attempts")]


def test_metrics_gauges_follow_the_job_states(make_queue: Callable[..., JobQueue]) -> None:
    engine = FakeEngine(hold=True)
    queue = make_queue(engine)
    queue.submit(job("g-1", pr=1))
    queue.submit(job("g-2", pr=2))
    assert queue.store.state_counts().get("queued") == 2
    with consuming(queue):
        wait_for(lambda: queue.store.state_counts().get("running") == 1)
        engine.release.set()
        wait_for(lambda: _state(queue, "g-2") == "done")
    counts = queue.store.state_counts()
    assert counts.get("queued", 0) == counts.get("running", 0) == 0


def test_sigterm_hands_the_running_job_back_to_the_queue(
    make_queue: Callable[..., JobQueue],
) -> None:
    engine = FakeEngine(hold=True)
    queue = make_queue(engine)
    queue.submit(job("term-1"))
    saved = {signum: signal.getsignal(signum) for signum in SIGNALS}

    def terminate_mid_review() -> None:
        # Only once huey's consumer handles SIGTERM: before that it would end pytest.
        wait_for(lambda: engine.running == 1 and _huey_handles(signal.SIGTERM))
        os.kill(os.getpid(), signal.SIGTERM)

    terminator = threading.Thread(target=terminate_mid_review, daemon=True)
    terminator.start()
    try:
        run_worker(queue, workers=1)  # the real worker loop, in pytest's main thread
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        terminator.join(20)
    assert _state(queue, "term-1") == "queued"
    assert queue.queued_job_ids() == {"term-1"}, "back on huey's queue for another worker"
    # The interrupted run finishing late changes nothing: its token no longer holds the job.
    engine.release.set()
    wait_for(lambda: not any(t.name.startswith("Worker-") for t in threading.enumerate()))
    assert _state(queue, "term-1") == "queued"


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _huey_handles(signum: int) -> bool:
    return getattr(signal.getsignal(signum), "__name__", "") == "_handle_signal"


WORKER_SCRIPT = """
import os, sys, time
from pathlib import Path
from reviewer.model import ReviewResult
from reviewer.settings import Settings
from webhook.jobs import JobOptions, JobQueue, run_worker

journal = Path(sys.argv[1])

def engine(request, settings):
    seen = journal.read_text() if journal.exists() else ""
    with journal.open("a") as f:
        f.write(f"start {request.delivery_id} {os.getpid()}\\n")
    if "start" not in seen:
        time.sleep(120)  # the first run hangs: the test kills this worker here
    with journal.open("a") as f:
        f.write(f"done {request.delivery_id}\\n")
    return ReviewResult(status="reviewed")

options = JobOptions(retries=2, lease_s=1.0, recover_grace_s=0.5, recover_interval_s=0.3)
queue = JobQueue(Settings.from_env(), name=sys.argv[2], options=options, runner=engine)
run_worker(queue, workers=1)
"""


def test_a_worker_killed_mid_job_loses_nothing(
    settings: Settings, queue_name: str, make_queue: Callable[..., JobQueue], tmp_path: Path
) -> None:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER_SCRIPT))
    journal = tmp_path / "journal.log"
    env = dict(os.environ)
    if settings.redis_url:
        env["REVIEWER_REDIS_URL"] = settings.redis_url
    queue = make_queue(FakeEngine())
    queue.submit(job("kill-1"))

    def start_worker(n: int) -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker{n}.err").open("wb") as err:
            return subprocess.Popen(
                [sys.executable, str(script), str(journal), queue_name],
                env=env,
                cwd=ROOT,
                stdout=err,
                stderr=err,
            )

    first = start_worker(1)
    try:
        wait_for(lambda: journal.exists() and "start" in journal.read_text(), timeout=30)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert _state(queue, "kill-1") == "running", "the dead worker still holds the lease"
    second = start_worker(2)
    try:
        wait_for(lambda: "done" in journal.read_text(), timeout=30)
        time.sleep(1.5)  # leave time for a wrong second completion to show up
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(10)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait(5)
    lines = journal.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "start", "done"], lines
    assert lines[0].split()[2] == str(first.pid)
    assert lines[1].split()[2] == str(second.pid)
    assert _state(queue, "kill-1") == "done"
    assert queue.queued_job_ids() == set()


def _state(queue: JobQueue, job_id: str) -> str | None:
    record = queue.store.get(job_id)
    return record.state if record else None
