"""Bind one review's spend: price and record each call, and stop at the budgets."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from reviewer.core.text import format_usd
from reviewer.errors import BudgetExceeded
from reviewer.spend.ledger import TRIGGERS, CallRow, Ledger
from reviewer.spend.pricing import PriceTable, cost_of, estimate_cost
from reviewer.spend.usage import CallRecord

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    """Budgets in USD; None means no limit, 0 means no calls at all."""

    monthly_usd: Decimal | None = None
    review_usd: Decimal | None = None


class ReviewSpend:
    """The usage sink and budget gate of one review (one `review_id`).

    Thread-safe: chunks call `before_call` and `sink` from several threads. The estimate
    `before_call` let through is held against the budgets, per thread, until that thread's
    next `sink` (one call may sink several attempts: the SDK retries) or `before_call`, so
    concurrent chunks cannot all pass on the same headroom.
    """

    def __init__(
        self,
        ledger: Ledger,
        prices: PriceTable,
        *,
        repo: str,
        pr_number: int | None,
        head_sha: str | None,
        trigger: str,
        limits: Limits | None = None,
        clock: Clock = utc_now,
        review_id: str | None = None,
        spent: Decimal = Decimal(0),
    ) -> None:
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
        self._ledger = ledger
        self._prices = prices
        self.repo = repo
        self.pr_number = pr_number
        self.head_sha = head_sha
        self.trigger = trigger
        self.limits = limits or Limits()
        self._clock = clock
        self.review_id = review_id or str(uuid.uuid4())
        self._lock = threading.Lock()
        # What the review's earlier calls cost (a batch job's earlier rounds).
        self._total = spent
        self._held: dict[int, Decimal] = {}

    @property
    def total(self) -> Decimal:
        """What this review's calls have cost so far."""
        with self._lock:
            return self._total

    def month_to_date(self) -> Decimal:
        """What the repository has spent this calendar month, this review included."""
        return self._ledger.month_to_date(self.repo, self._clock())

    def before_call(self, *, model: str, input_tokens: int, max_output_tokens: int) -> None:
        """Raise BudgetExceeded if the call's worst case would pass a budget."""
        estimate = estimate_cost(
            self._prices.price(model), input_tokens=input_tokens, output_tokens=max_output_tokens
        )
        monthly, per_review = self.limits.monthly_usd, self.limits.review_usd
        me = threading.get_ident()
        with self._lock:
            # This thread's own earlier hold is over: it is starting its next call.
            self._held.pop(me, None)
            held = sum(self._held.values(), Decimal(0))
            if per_review is not None:
                self._check("review", per_review, self._total, held + estimate)
            if monthly is not None:
                # The ledger already holds this review's written rows.
                spent = self._ledger.month_to_date(self.repo, self._clock())
                self._check("monthly", monthly, spent, held + estimate)
            self._held[me] = estimate

    def sink(self, record: CallRecord) -> None:
        """Price `record`, add it to the total and write its row (LedgerError on failure)."""
        cost = cost_of(record, self._prices.price(record.model))
        with self._lock:
            # Counted before the write: a row the ledger failed to store was still billed.
            self._total += cost
            self._held.pop(threading.get_ident(), None)
        self._ledger.record(
            CallRow(
                time=self._clock(),
                repository=self.repo,
                pr_number=self.pr_number,
                head_sha=self.head_sha,
                trigger=self.trigger,
                model=record.model,
                input_tokens=record.input_tokens,
                output_tokens=record.output_tokens,
                cache_creation_input_tokens=record.cache_creation_input_tokens,
                cache_read_input_tokens=record.cache_read_input_tokens,
                cost_usd=cost,
                stop_reason=record.stop_reason,
                request_id=record.request_id,
                outcome=record.outcome,
                review_id=self.review_id,
                chunk_index=record.chunk_index,
                attempt=record.attempt,
                mode="batch" if record.batch_id else "realtime",
                batch_id=record.batch_id,
                custom_id=record.custom_id,
            )
        )

    __call__ = sink

    def _check(self, budget: str, limit: Decimal, spent: Decimal, ahead: Decimal) -> None:
        """Pass if `spent` plus `ahead` (calls in flight and the next one) fits `limit`."""
        if limit > 0 and spent + ahead <= limit:
            return
        left = max(limit - spent, Decimal(0))
        scope = "this month's budget for " + self.repo if budget == "monthly" else "review budget"
        if limit == 0:
            message = f"The {scope} is $0, so no call to Claude was made."
        else:
            message = (
                f"The {scope} ({format_usd(limit)}) stopped the review: {format_usd(spent)} spent, "
                f"{format_usd(left)} left, and the next call (with any under way) could cost "
                f"up to {format_usd(ahead)}."
            )
        raise BudgetExceeded(message, budget=budget, limit=f"{limit:f}", spent=f"{spent:f}")
