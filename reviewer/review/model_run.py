"""Run the model over a review plan, with every call priced, gated and written down."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reviewer.claude.client import ChunkReviewer, make_client
from reviewer.claude.realtime import ChunkReviewOutcome
from reviewer.errors import ClaudeError
from reviewer.settings import Settings
from reviewer.spend.pricing import PriceTable
from reviewer.spend.usage import CallRecord

if TYPE_CHECKING:
    from reviewer.model import ReviewRequest
    from reviewer.review.pipeline import Plan, ProgressFn, _Target

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
    settings: Settings,
    target: _Target,
    plan: Plan,
    anthropic_client: Any | None,
    ledger: Any | None,
    say: ProgressFn,
) -> ModelRun:
    """Review every chunk of `plan`; raise a retryable ClaudeError if all failed transiently."""
    from reviewer.spend.budget import Limits, ReviewSpend
    from reviewer.spend.ledger import Ledger

    client = anthropic_client
    if client is None and plan.chunks:
        client = make_client(settings)  # a missing key fails here, before anything is written
    budget = plan.config.config.budget
    book = ledger if ledger is not None else Ledger.open(settings.ledger_url)
    spend = ReviewSpend(
        book,
        PriceTable.load(settings.prices_path),
        repo=target.repo,
        pr_number=target.pr_number,
        head_sha=target.head_sha,
        trigger=request.trigger,
        limits=Limits(budget.monthly_usd, budget.per_review_usd),
    )
    if not plan.chunks or client is None:
        empty = ChunkReviewOutcome(results=())
        return ModelRun(empty, Decimal(0), spend.month_to_date(), dict.fromkeys(USAGE_KEYS, 0))
    totals: Counter[str] = Counter(dict.fromkeys(USAGE_KEYS, 0))
    lock = threading.Lock()

    def sink(record: CallRecord) -> None:
        spend.sink(record)  # written before anything else: spend is never lost
        with lock:
            for key in USAGE_KEYS:
                totals[key] += getattr(record, key)

    reviewer = ChunkReviewer(
        client,
        model=plan.model,
        max_output_tokens=settings.max_output_tokens,
        concurrency=settings.concurrency,
        fallback_model=settings.fallback_model,
        count_tokens=settings.count_tokens,
    )
    say(f"asking {plan.model} about {len(plan.chunks)} chunks")
    outcome = reviewer.review(plan.context, plan.chunks, sink=sink, gate=spend)
    if all(r.status == "error" and r.transient for r in outcome.results):
        errors = "; ".join(sorted({r.error or "error" for r in outcome.results}))
        raise ClaudeError(f"the Messages API failed for every chunk: {errors}", retryable=True)
    return ModelRun(outcome, spend.total, spend.month_to_date(), dict(totals))
