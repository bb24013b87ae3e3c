"""Run the model over a review plan, with every call priced, gated and written down."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from reviewer.core.policy import ChunkReviewOutcome
from reviewer.errors import ClaudeError
from reviewer.model import Plan, ProgressFn, ReviewRequest, ReviewTarget
from reviewer.review.ports import ReviewServices
from reviewer.spend.usage import CallRecord

USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


@dataclass(frozen=True)
class ModelRun:
    outcome: ChunkReviewOutcome
    cost_usd: Decimal
    month_to_date_usd: Decimal | None
    usage: dict[str, int]


def call_model(
    request: ReviewRequest,
    services: ReviewServices,
    target: ReviewTarget,
    plan: Plan,
    say: ProgressFn,
) -> ModelRun:
    """Review every chunk of `plan`; raise a retryable ClaudeError if all failed transiently."""
    budget = plan.config.config.budget
    runner = services.model_runner(plan.model) if plan.chunks else None
    spend = services.spend_book(
        repo=target.repo,
        pr_number=target.pr_number,
        head_sha=target.head_sha,
        trigger=request.trigger,
        monthly_usd=budget.monthly_usd,
        review_usd=budget.per_review_usd,
    )
    if runner is None:
        empty = ChunkReviewOutcome(results=())
        return ModelRun(empty, Decimal(0), spend.month_to_date(), dict.fromkeys(USAGE_KEYS, 0))
    totals: Counter[str] = Counter(dict.fromkeys(USAGE_KEYS, 0))
    lock = threading.Lock()

    def sink(record: CallRecord) -> None:
        spend(record)  # written before anything else: spend is never lost
        with lock:
            for key in USAGE_KEYS:
                totals[key] += getattr(record, key)

    say(f"asking {plan.model} about {len(plan.chunks)} chunks")
    outcome = runner.review(plan.context, plan.chunks, sink=sink, gate=spend)
    if all(r.status == "error" and r.transient for r in outcome.results):
        errors = "; ".join(sorted({r.error or "error" for r in outcome.results}))
        raise ClaudeError(f"the Messages API failed for every chunk: {errors}", retryable=True)
    return ModelRun(outcome, spend.total, spend.month_to_date(), dict(totals))
