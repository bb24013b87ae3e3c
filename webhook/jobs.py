"""The review job queue: huey for transport, the delivery store for what must not be lost."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from huey.exceptions import RetryTask
from huey.storage import SqliteStorage

from reviewer.core.inert import code, inert_line
from reviewer.errors import ConfigError, ReviewerError
from reviewer.model import ReviewRequest, ReviewResult
from reviewer.review.collect import collect_batch
from reviewer.review.pipeline import run_review
from reviewer.review.ports import ReviewServices
from reviewer.services import Services
from reviewer.settings import Settings, ensure_parent
from webhook import metrics
from webhook.conversation import run_conversation
from webhook.logging import Redactor, log_context, secret_values
from webhook.store import open_store
from webhook.store.base import DeliveryStore

log = logging.getLogger("webhook.jobs")

REFUSAL_QUIET_S = 3600.0
Runner = Callable[[ReviewRequest, ReviewServices], ReviewResult]
Notifier = Callable[["ReviewJob", ReviewServices, str], None]


@dataclass(frozen=True)
class ReviewJob:
    """One review asked for by one delivery; its id is the delivery id."""

    delivery_id: str
    repo: str
    pr_number: int
    installation_id: int
    trigger: Literal["auto", "command"] = "auto"
    expected_head_sha: str | None = None
    requested_by: str | None = None
    comment_id: int | None = None
    event: str = "pull_request"
    action: str | None = None  # the pull_request action, checked against review.events
    command: str | None = None  # the comment's first word, checked against review.command
    # review, or a conversation job: reply (in a review thread), ask, thread (resolved or not)
    kind: str = "review"
    text: str | None = None  # the reply's or the question's text (untrusted)
    in_reply_to: int | None = None  # a reply's thread: its first comment

    @property
    def job_id(self) -> str:
        return self.delivery_id

    @property
    def lock_key(self) -> str:
        return f"{self.repo}#{self.pr_number}"

    @property
    def dedupe_key(self) -> str:
        """What makes two deliveries one job: a command's comment, else the delivery."""
        # GitHub may send one comment under two delivery ids (a redelivery from the App's
        # settings, an edit re-sent): the comment is acted on once whatever carries it.
        if self.comment_id is not None:
            # Review comments (replies in threads) are numbered apart from issue comments.
            space = "review-comment" if self.kind == "reply" else "comment"
            return f"{space}:{self.repo}:{self.comment_id}"
        return self.delivery_id

    def to_request(self) -> ReviewRequest:
        return ReviewRequest(
            repo=self.repo,
            pr_number=self.pr_number,
            trigger=self.trigger,
            expected_head_sha=self.expected_head_sha,
            installation_id=self.installation_id,
            requested_by=self.requested_by,
            comment_id=self.comment_id,
            delivery_id=self.delivery_id,
            event_action=self.action,
            command=self.command,
            # Nobody waits on a webhook: a batch review is collected by `collect_batches`.
            wait=False,
        )

    def to_dict(self) -> dict[str, Any]:
        # Every field is a plain value: a shallow copy is what asdict() makes, ~10x faster.
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReviewJob:
        return cls(**data)


@dataclass(frozen=True)
class JobOptions:
    """Retry, lease and recovery timings; tests shrink them."""

    retries: int = 3  # transient failures retried this many times, then a note on the PR
    retry_delay_s: float = 30.0
    retry_backoff: float = 2.0
    lease_s: float = 120.0  # a running job whose worker stops renewing this is run again
    lock_retry_s: float = 10.0  # another job holds the PR: try again this much later
    recover_grace_s: float = 60.0  # a queued job missing from huey this long is re-enqueued
    recover_interval_s: float = 30.0
    keep_s: float = 7 * 24 * 3600.0  # how long a delivery id is remembered for dedupe

    @classmethod
    def from_settings(cls, settings: Settings) -> JobOptions:
        return cls(
            retries=settings.job_retries,
            retry_delay_s=settings.job_retry_delay_s,
            lease_s=settings.job_lease_s,
            keep_s=float(settings.delivery_ttl_s),
        )


class _SqliteStorage(SqliteStorage):  # type: ignore[misc]
    """huey's SQLite storage with synchronous=NORMAL, as the delivery store uses.

    In WAL mode NORMAL survives any process crash (kill -9) without losing a commit, and
    the database cannot be corrupted by a power cut, which may lose only the last commits.
    huey's own choice is FULL (an fsync per enqueue, ~4 ms) or OFF (unsafe).
    """

    def _create_connection(self) -> Any:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=normal")
        return conn


class _SqliteHuey(SqliteHuey):  # type: ignore[misc]
    storage_class = _SqliteStorage


def make_huey(settings: Settings, *, name: str = "reviewer") -> Huey:
    """RedisHuey when `settings.redis_url` is set, else SqliteHuey at `settings.queue_path`."""
    if settings.redis_url:
        try:
            return RedisHuey(name, url=settings.redis_url, results=False)
        except ValueError as exc:
            raise ConfigError(
                "REVIEWER_REDIS_URL is not a redis:// URL", key="REVIEWER_REDIS_URL"
            ) from exc
    path = settings.queue_path
    ensure_parent(path)
    return _SqliteHuey(name, filename=str(path), results=False)


def post_failure_note(job: ReviewJob, services: ReviewServices, reason: str) -> None:
    """Tell the PR that its review failed for good, and how to ask again.

    The reason passes the same redactor as the logs: no secret, no database coordinates.
    """
    reason = Redactor(secret_values(services.settings))(reason)
    if job.kind == "thread":
        return  # bookkeeping nobody waits for
    body = (
        f"The automated review could not be completed: {inert_line(reason)}\n\n"
        f"Comment {code(services.settings.command)} to try again."
    )
    client = services.pull_requests(job.installation_id)
    client.post_issue_comment(job.repo, job.pr_number, body)


class JobQueue:
    """Enqueue review jobs and run them, at least once and one per PR at a time."""

    def __init__(
        self,
        settings: Settings,
        *,
        name: str = "reviewer",
        options: JobOptions | None = None,
        runner: Runner | None = None,
        notifier: Notifier | None = None,
        store: DeliveryStore | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        self.options = options or JobOptions.from_settings(settings)
        self.runner: Runner = runner or run_review
        self.notifier: Notifier = notifier or post_failure_note
        self.huey = make_huey(settings, name=name)
        self.store = store or open_store(settings, name=name)
        # The worker's services (ledger, price table, clients): opened once, on the first job.
        self.services = Services(settings)
        self._task = self.huey.task(name="review_job")(self.process)
        # Batch jobs live in the ledger database; a worker started later collects them too.
        self.collect_task = self.huey.periodic_task(crontab(minute="*"), name="collect_batches")(
            self.collect_batches
        )
        self._inflight: dict[str, str] = {}  # job id -> token, for a clean shutdown
        self._inflight_lock = threading.Lock()

    def submit(self, job: ReviewJob) -> bool:
        """Record and enqueue `job`; False (nothing queued) when its delivery was seen."""
        payload = job.to_dict()
        if not self.store.claim(
            job.dedupe_key, job_id=job.job_id, lock_key=job.lock_key, payload=payload
        ):
            return False
        try:
            self.enqueue(job)
        except Exception:
            self.store.release(job.dedupe_key, job.job_id)
            raise
        return True

    def enqueue(self, job: ReviewJob) -> None:
        """Put `job` on the huey queue (its record must exist in the store)."""
        self._task(job.to_dict())

    def process(self, payload: dict[str, Any]) -> str:
        """Run one job (the huey task body); return its outcome."""
        job = ReviewJob.from_dict(payload)
        with log_context(
            delivery_id=job.delivery_id, repo=job.repo, pr=job.pr_number, job_id=job.job_id
        ):
            return self._process(job)

    def _process(self, job: ReviewJob) -> str:
        opts = self.options
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        # The PR's lock first, then the job: a job waiting for the lock stays "queued" (huey
        # holds it as a scheduled retry), so "running" always means a review is under way.
        if not self.store.acquire_lock(job.lock_key, token=token, ttl_s=opts.lease_s):
            log.info(
                "another job is reviewing %s; retrying in %ss", job.lock_key, opts.lock_retry_s
            )
            raise RetryTask(delay=opts.lock_retry_s)
        try:
            if self.store.start(job.job_id, token=token, lease_s=opts.lease_s) is None:
                log.info("job already finished or running elsewhere; dropping this copy")
                return "duplicate"
            attempt = self.store.count_attempt(job.job_id, token=token)
            if attempt > opts.retries + 1:
                # Runs that never finished (the worker died each time) count as attempts too.
                return self._fail(job, token, f"gave up after {attempt - 1} interrupted attempts")
            with self._leased(job, token):
                return self._run(job, token, attempt)
        finally:
            self.store.release_lock(job.lock_key, token=token)

    def _run(self, job: ReviewJob, token: str, attempt: int) -> str:
        opts = self.options
        started = time.monotonic()
        log.info("review started (attempt %d, trigger %s)", attempt, job.trigger)
        request = job.to_request()
        # A person without write access is told so once per PR an hour, however often they
        # ask; the PR lock makes this check-then-note safe.
        refusal_key = f"refused:{job.lock_key}:{job.requested_by}"
        quiet = job.requested_by is not None and self.store.remembers(refusal_key)
        if quiet:
            request = dataclasses.replace(request, announce_refusal=False)
        try:
            result = self._execute(job, request)
        except ReviewerError as exc:
            if getattr(exc, "retryable", False) and attempt <= opts.retries:
                delay = opts.retry_delay_s * opts.retry_backoff ** (attempt - 1)
                log.warning(
                    "transient failure (%s); retry %d in %.0fs", exc.message, attempt, delay
                )
                self.store.requeue(job.job_id, token=token)
                self.store.incr({metrics.JOB_RETRIES: 1.0})
                raise RetryTask(delay=delay) from exc
            return self._fail(job, token, exc.message)
        except Exception:
            log.exception("review crashed")
            return self._fail(job, token, "an internal error in the reviewer")
        if result.status == "refused" and job.requested_by is not None and not quiet:
            self.store.remember(refusal_key, ttl_s=REFUSAL_QUIET_S)
        amounts = metrics.duration_amounts(time.monotonic() - started)
        amounts.update(metrics.usage_amounts(job.repo, result.usage, result.cost_usd))
        amounts.update(
            metrics.review_amounts(
                budget_stopped=bool(result.budget_stop),
                chunk_statuses=[c.status for c in result.chunks if c.status != "planned"],
            )
        )
        amounts[metrics.series(metrics.JOBS_FINISHED, outcome=result.status)] = 1.0
        self.store.incr(amounts)
        state = "failed" if result.status == "failed" else "done"
        self.store.finish(job.job_id, token=token, state=state, outcome=result.status)
        log.info(
            "review finished: %s%s", result.status, f" ({result.reason})" if result.reason else ""
        )
        return result.status

    def _execute(self, job: ReviewJob, request: ReviewRequest) -> ReviewResult:
        """A review, or a conversation job (a reply in a thread, /ask, a thread resolved)."""
        if job.kind == "review":
            return self.runner(request, self.services)
        return run_conversation(
            job.kind, self.services, repo=job.repo, pr_number=job.pr_number,
            installation_id=job.installation_id, login=job.requested_by,
            comment_id=job.comment_id, text=job.text, in_reply_to=job.in_reply_to,
            action=job.action,
        )  # fmt: skip

    def _fail(self, job: ReviewJob, token: str, reason: str) -> str:
        log.error("review failed for good, delivery %s: %s", job.delivery_id, reason)
        self.store.finish(job.job_id, token=token, state="failed", outcome="error")
        self.store.incr({metrics.series(metrics.JOBS_FINISHED, outcome="error"): 1.0})
        try:
            self.notifier(job, self.services, reason)
        except Exception as exc:
            log.warning("could not leave the failure note on the PR: %s", exc)
        return "failed"

    @contextmanager
    def _leased(self, job: ReviewJob, token: str) -> Iterator[None]:
        """Keep the job's lease and the PR lock alive while the review runs."""
        stop = threading.Event()
        ttl = self.options.lease_s
        context = {"delivery_id": job.delivery_id, "job_id": job.job_id}

        def renew() -> None:
            while not stop.wait(ttl / 3):
                with log_context(**context):
                    try:
                        held = self.store.heartbeat(job.job_id, token=token, lease_s=ttl)
                        held = self.store.renew_lock(job.lock_key, token=token, ttl_s=ttl) and held
                    except Exception as exc:
                        log.warning("lease renewal failed: %s", exc)
                        continue
                    if not held:
                        log.warning("lease lost: another worker may run this job again")

        thread = threading.Thread(target=renew, name=f"lease-{job.job_id}", daemon=True)
        with self._inflight_lock:
            self._inflight[job.job_id] = token
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            with self._inflight_lock:
                self._inflight.pop(job.job_id, None)

    def collect_batches(self) -> dict[str, str]:
        """Collect every ended batch job and publish its review (the periodic task's body).

        Returns each job's outcome by key: `submitted` while its batch (or a follow-up) runs.
        """
        from reviewer.spend.batch_jobs import BatchJobs, utc_now

        jobs = BatchJobs(self.services.ledger)
        lease = timedelta(seconds=self.options.lease_s)
        outcomes: dict[str, str] = {}
        for open_job in jobs.open_jobs():
            if open_job.status == "submitting":
                if open_job.updated_at > utc_now() - lease:
                    continue  # being submitted right now
                # Its submitter died between the intent and the batch id: resumed below.
            elif not jobs.claim(open_job.key, now=utc_now(), lease=lease):
                continue  # collected by another worker
            lock_key = f"{open_job.repository}#{open_job.pr_number}"
            token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
            if not self.store.acquire_lock(lock_key, token=token, ttl_s=self.options.lease_s):
                jobs.update(open_job.key, now=utc_now(), status="submitted")
                continue
            try:
                with log_context(batch_job=open_job.key, repo=open_job.repository):
                    outcomes[open_job.key] = self._collect_one(jobs, open_job.key)
            finally:
                self.store.release_lock(lock_key, token=token)
        return outcomes

    def _collect_one(self, jobs: Any, key: str) -> str:
        from reviewer.spend.batch_jobs import utc_now

        try:
            result = collect_batch(key, self.services)
        except ReviewerError as exc:
            if getattr(exc, "retryable", False):
                log.warning("batch job %s: %s; trying again next time", key, exc.message)
                jobs.update(key, now=utc_now(), status="submitted")
                return "retry"
            log.error("batch job %s failed: %s", key, exc.message)
            jobs.update(key, now=utc_now(), status="failed", error=exc.message)
            return "failed"
        current = jobs.get(key)
        if current is not None and current.status == "collecting":
            jobs.update(key, now=utc_now(), status="submitted")  # still running: next time
        log.info("batch job %s: %s", key, result.status)
        return result.status

    def queued_job_ids(self) -> set[str]:
        """Return the ids of the jobs huey holds, waiting or scheduled for a retry."""
        ids: set[str] = set()
        for task in [*self.huey.pending(), *self.huey.scheduled()]:
            if task.args and isinstance(task.args[0], dict):
                ids.add(str(task.args[0].get("delivery_id")))
        return ids

    def recover(self) -> int:
        """Re-enqueue jobs a dead worker or a crash left behind; return how many."""
        stale = self.store.stale(grace_s=self.options.recover_grace_s)
        if not stale:
            return 0
        in_queue = self.queued_job_ids()
        count = 0
        for record in stale:
            if record.state == "queued" and record.job_id in in_queue:
                continue
            if self.store.reclaim(record.job_id, seen_updated_at=record.updated_at):
                job = ReviewJob.from_dict(record.payload)
                with log_context(delivery_id=job.delivery_id, job_id=job.job_id):
                    log.warning("re-enqueuing job left %s by a stopped worker", record.state)
                self.enqueue(job)
                count += 1
        return count

    def release_inflight(self) -> int:
        """Hand the jobs this process still runs back to the queue (on shutdown)."""
        with self._inflight_lock:
            held = dict(self._inflight)
        for job_id, token in held.items():
            record = self.store.get(job_id)
            self.store.requeue(job_id, token=token)
            if record is not None:
                self.enqueue(ReviewJob.from_dict(record.payload))
        return len(held)

    def close(self) -> None:
        """Close what the queue opened: the jobs' services, the store, huey's connections."""
        self.services.close()
        self.store.close()
        storage = self.huey.storage
        storage.close()
        pool = getattr(storage, "pool", None)  # RedisStorage: its connection pool
        if pool is not None:
            pool.disconnect()

    def ping(self) -> None:
        """Raise if the queue or the store cannot be reached."""
        self.huey.pending_count()
        self.store.ping()

    def consumer(self, *, workers: int | None = None, **options: Any) -> Consumer:
        """Build a huey consumer for this queue with thread workers; `options` override."""
        polling: dict[str, Any] = {"initial_delay": 0.05, "max_delay": 1.0, **options}
        return self.huey.create_consumer(
            workers=workers or self.settings.workers,
            worker_type="thread",
            periodic=True,  # collect_batches
            **polling,
        )


def run_worker(queue: JobQueue, *, workers: int | None = None) -> None:
    """Recover lost jobs, then consume until SIGINT/SIGTERM; sweep for lost jobs meanwhile."""
    recovered = queue.recover()
    if recovered:
        log.warning("re-enqueued %d job(s) left by a stopped worker", recovered)
    stop = threading.Event()

    def sweep() -> None:
        while not stop.wait(queue.options.recover_interval_s):
            try:
                queue.recover()
                queue.store.prune(older_than_s=queue.options.keep_s)
            except Exception as exc:
                log.warning("recovery sweep failed: %s", exc)

    sweeper = threading.Thread(target=sweep, name="recover", daemon=True)
    sweeper.start()
    try:
        queue.consumer(workers=workers).run()
    finally:
        stop.set()
        queue.close()
        released = queue.release_inflight()
        if released:
            log.warning("handed %d unfinished job(s) back to the queue", released)
