"""The collect-a-batch use case: finish a review submitted as Message Batches, from anywhere."""

from __future__ import annotations

from reviewer.errors import ConfigError
from reviewer.model import ProgressFn, ReviewRequest, ReviewResult, ReviewTarget
from reviewer.review.batch_mode import finish_batch, request_from_json, submitted
from reviewer.review.check_run import with_check_run
from reviewer.review.pipeline import plan_review, prepare
from reviewer.review.ports import BatchJobInfo, PullRequests, ReviewServices


def collect_batch(
    key_or_batch_id: str,
    services: ReviewServices,
    *,
    progress: ProgressFn | None = None,
    wait: bool = False,
) -> ReviewResult:
    """Publish the review of an ended batch job exactly as a real-time review would be.

    The job's request is planned again (same input, same chunks, same custom ids). A round
    still running: `wait` polls until it ends, else a `submitted` result says so. What needs
    another request goes out as a follow-up batch (nobody waits) or in real time (`wait`).
    """
    say = progress or (lambda _message: None)
    job = services.batch_runner(services.settings.model).job(key_or_batch_id)
    if job is None:
        raise ConfigError(f"no batch job or batch {key_or_batch_id!r} in the ledger database")
    if job.status in ("collected", "canceled", "failed"):
        return ReviewResult(status="skipped", reason=f"batch job {job.key} is {job.status}")
    request = request_from_json(job.request_json)
    prepared = prepare(request, services, say)
    if isinstance(prepared, ReviewResult):
        services.batch_runner(services.settings.model).finish(
            job.key, status="failed", error=prepared.reason
        )
        return prepared
    target, gh = prepared

    def finish() -> ReviewResult:
        return _collect(job, request, services, target, gh, say, wait=wait)

    return with_check_run(request, services.settings, target, gh, finish, say)


def _collect(
    job: BatchJobInfo,
    request: ReviewRequest,
    services: ReviewServices,
    target: ReviewTarget,
    gh: PullRequests | None,
    say: ProgressFn,
    *,
    wait: bool,
) -> ReviewResult:
    plan = plan_review(request, services, target)
    runner = services.batch_runner(plan.model)
    if job.status == "submitting":
        # Its submitter died between the intent and the batch id: find the batch (or send it).
        runner.submit(
            job.key,
            plan.context,
            plan.chunks,
            repository=target.repo,
            pr_number=target.pr_number,
            request_json=job.request_json,
        )
    status = runner.wait(job.key, progress=say) if wait else runner.status(job.key)
    if status.status != "ended":
        say(f"job {job.key}: {status.status}, {status.processing} of {status.total} pending")
        return submitted(plan, target, job.key, runner)
    return finish_batch(request, services, target, plan, gh, say, runner, job.key, waiting=wait)
