"""Run the model over a review plan, with every call priced, gated and written down."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from reviewer.core.policy import ChunkReviewOutcome
from reviewer.errors import ClaudeError, LedgerError
from reviewer.model import Plan, ProgressFn, ReviewRequest, ReviewTarget
from reviewer.review.ports import ModelRunner, ReviewServices, SpendBook
from reviewer.spend.pricing import cost_of
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
    # Batch mode: what the batch results cost, and the same usage at the real-time rate.
    batch_usd: Decimal | None = None
    realtime_usd: Decimal | None = None


class Tally:
    """The sink of one review: writes each attempt to the spend book, then adds it up."""

    def __init__(self, services: ReviewServices, spend: SpendBook) -> None:
        self._prices = services.prices
        self._spend = spend
        self._lock = threading.Lock()
        self.usage: Counter[str] = Counter(dict.fromkeys(USAGE_KEYS, 0))
        # Earlier rounds of a batch job (collected by another process) were batch results:
        # in real time they would have cost about twice as much.
        earlier = spend.total
        self.batch_usd = earlier
        self.realtime_usd = 2 * earlier
        self.batched = earlier > 0

    def __call__(self, record: CallRecord) -> None:
        self._spend(record)  # written before anything else: spend is never lost
        price = self._prices.price(record.model)
        cost = cost_of(record, price)
        with self._lock:
            for key in USAGE_KEYS:
                self.usage[key] += getattr(record, key)
            if record.batch_id is not None:
                self.batched = True
                self.batch_usd += cost
                self.realtime_usd += cost_of(dataclasses.replace(record, service_tier=None), price)
            else:
                self.realtime_usd += cost

    def run(self, outcome: ChunkReviewOutcome) -> ModelRun:
        try:
            month: Decimal | None = self._spend.month_to_date()
        except LedgerError:
            # The calls are made and their rows kept (the journal holds what the database
            # could not take): a report without the month's figure beats paying for them again.
            month = None
        return ModelRun(
            outcome,
            self._spend.total,
            month,
            dict(self.usage),
            batch_usd=self.batch_usd if self.batched else None,
            realtime_usd=self.realtime_usd if self.batched else None,
        )


def open_spend(
    request: ReviewRequest,
    services: ReviewServices,
    target: ReviewTarget,
    plan: Plan,
    review_id: str | None = None,
) -> SpendBook:
    """The review's spend book, under the repository's budgets."""
    budget = plan.config.config.budget
    return services.spend_book(
        repo=target.repo,
        pr_number=target.pr_number,
        head_sha=target.head_sha,
        trigger=request.trigger,
        monthly_usd=budget.monthly_usd,
        review_usd=budget.per_review_usd,
        review_id=review_id,
    )


def check_outcome(outcome: ChunkReviewOutcome) -> None:
    """Raise a retryable ClaudeError if every chunk failed transiently."""
    if outcome.results and all(r.status == "error" and r.transient for r in outcome.results):
        errors = "; ".join(sorted({r.error or "error" for r in outcome.results}))
        raise ClaudeError(f"the Messages API failed for every chunk: {errors}", retryable=True)


def call_model(
    request: ReviewRequest,
    services: ReviewServices,
    target: ReviewTarget,
    plan: Plan,
    say: ProgressFn,
    runner: ModelRunner | None = None,
) -> ModelRun:
    """Review every chunk of `plan` (in real time unless given another runner); raise a
    retryable ClaudeError if all failed transiently."""
    if plan.chunks and runner is None:
        runner = services.model_runner(plan.model)
    spend = open_spend(request, services, target, plan)
    if runner is None:
        empty = ChunkReviewOutcome(results=())
        return ModelRun(empty, Decimal(0), spend.month_to_date(), dict.fromkeys(USAGE_KEYS, 0))
    tally = Tally(services, spend)
    say(f"asking {plan.model} about {len(plan.chunks)} chunks")
    outcome = runner.review(plan.context, plan.chunks, sink=tally, gate=spend)
    check_outcome(outcome)
    return tally.run(outcome)
