"""Batch mode: choose it, submit a review as Message Batches, and finish it when they end."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from typing import Any

from reviewer.core.diff import changed_line_count
from reviewer.core.policy import ChunkResult, ChunkReviewOutcome
from reviewer.errors import BudgetExceeded
from reviewer.model import Plan, ProgressFn, ReviewRequest, ReviewResult, ReviewTarget
from reviewer.review import history
from reviewer.review.finish import file_reports, finish_review, posting_key
from reviewer.review.model_run import Tally, check_outcome, open_spend
from reviewer.review.ports import BatchModelRunner, PullRequests, ReviewServices
from reviewer.settings import Settings


def choose_mode(
    request: ReviewRequest, settings: Settings, plan: Plan, target: ReviewTarget
) -> str:
    """realtime or batch: the request's, else the operator's, else the repository's mode.

    `auto` batches what nobody waits for: a draft, a pull request of at least
    `review.batch_min_lines` changed lines, a re-review on push of a pull request opened at
    least `review.batch_min_age_hours` ago. A command (someone asked) is answered in real time.
    """
    mode = request.mode or settings.review_mode or plan.config.config.review.mode
    if mode != "auto":
        return mode
    if request.trigger == "command":
        return "realtime"
    options = plan.config.config.review
    files = [d.file for d in plan.decisions if d.reviewed]
    if target.draft or changed_line_count(files) >= options.batch_min_lines:
        return "batch"
    age = target.age_hours
    if target.rereview and age is not None and age >= options.batch_min_age_hours:
        return "batch"
    return "realtime"


def batch_key(request: ReviewRequest) -> str:
    """The job's key, the prefix of every custom_id: a delivery's rerun finds its own job."""
    if request.delivery_id:
        return "rv" + hashlib.sha256(request.delivery_id.encode()).hexdigest()[:20]
    return "rv" + uuid.uuid4().hex[:20]


def request_json(request: ReviewRequest) -> str:
    return json.dumps(dataclasses.asdict(request))


def request_from_json(text: str) -> ReviewRequest:
    data: dict[str, Any] = json.loads(text)
    return ReviewRequest(**data)


def run_batch(
    request: ReviewRequest,
    services: ReviewServices,
    target: ReviewTarget,
    plan: Plan,
    gh: PullRequests | None,
    say: ProgressFn,
) -> ReviewResult:
    """Submit the plan as a batch; wait and finish it unless the request says not to wait."""
    runner = services.batch_runner(plan.model)
    key = batch_key(request)
    known = runner.job(key)
    if known is not None and known.status in ("collected", "canceled", "failed"):
        # A rerun of a job whose batch was already collected: one batch, one review.
        return ReviewResult(status="skipped", reason=f"batch job {key} is {known.status}")
    spend = open_spend(request, services, target, plan, review_id=key)
    if plan.chunks:
        try:
            batch_id = runner.submit(
                key,
                plan.context,
                plan.chunks,
                repository=target.repo,
                pr_number=target.pr_number,
                gate=spend,
                request_json=request_json(
                    dataclasses.replace(request, expected_head_sha=target.head_sha)
                ),
            )
        except BudgetExceeded as exc:
            # Nothing was sent: every chunk is skipped, and the review says why.
            skipped = tuple(
                ChunkResult(c.index, "skipped", None, error=exc.message) for c in plan.chunks
            )
            tally = Tally(services, spend)
            run = tally.run(ChunkReviewOutcome(skipped, budget_stop=exc))
            return finish_review(
                request, target, plan, run, gh, say, marker_key=posting_key(services, gh)
            )
        say(f"submitted {len(plan.chunks)} chunks as batch {batch_id} (job {key})")
    if not request.wait or not plan.chunks:
        if not plan.chunks:
            return finish_batch(request, services, target, plan, gh, say, runner, key)
        return submitted(plan, target, key, runner)
    status = runner.wait(key, progress=say, max_wait_s=request.batch_max_wait_s)
    if status.status != "ended":
        say(f"waited {request.batch_max_wait_s:.0f}s: canceling what is left")
        runner.cancel(key)
        runner.wait(key, progress=say)
    return finish_batch(request, services, target, plan, gh, say, runner, key, waiting=True)


def submitted(plan: Plan, target: ReviewTarget, key: str, runner: BatchModelRunner) -> ReviewResult:
    job = runner.job(key)
    return ReviewResult(
        status="submitted",
        reason=f"submitted as batch job {key}; collect it with `reviewer batch collect {key}`",
        model=plan.model,
        head_sha=target.head_sha,
        files=file_reports(plan.decisions),
        estimated_input_tokens=plan.estimated_input_tokens,
        estimated_cost_usd=plan.estimated_cost_usd,
        extra={"batch_job": key, "batch_id": job.batch_id if job else None},
    )


def finish_batch(
    request: ReviewRequest,
    services: ReviewServices,
    target: ReviewTarget,
    plan: Plan,
    gh: PullRequests | None,
    say: ProgressFn,
    runner: BatchModelRunner,
    key: str,
    *,
    waiting: bool = False,
) -> ReviewResult:
    """Collect the ended round; publish the review, or return `submitted` if a follow-up
    round went out (nobody waiting)."""
    spend = open_spend(request, services, target, plan, review_id=key)
    tally = Tally(services, spend)
    outcome = (
        runner.collect(
            key,
            plan.context,
            plan.chunks,
            sink=tally,
            gate=spend,
            waiting=waiting,
            canceled_to_realtime=waiting and request.batch_max_wait_s is not None,
        )
        if plan.chunks
        else None
    )
    if outcome is None and plan.chunks:
        say(f"job {key}: a follow-up batch was submitted")
        return submitted(plan, target, key, runner)
    if outcome is not None:
        check_outcome(outcome)
    run = tally.run(outcome or ChunkReviewOutcome(()))
    # Read what the pull request's threads say now, when the review is about to be posted.
    follow = history.follow_up(request, services, target, gh, plan.config.config.conversation)
    result = finish_review(
        request, target, plan, run, gh, say, marker_key=posting_key(services, gh), follow=follow
    )
    runner.finish(
        key,
        status="collected",
        result_json=json.dumps(
            {
                "status": result.status,
                "review_url": result.review_url,
                "cost_usd": str(result.cost_usd),
            }
        ),
    )
    return result
