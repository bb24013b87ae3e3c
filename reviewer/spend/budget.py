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
from reviewer.spend.ledger import Ledger
from reviewer.spend.pricing import PriceTable, cost_of, estimate_cost
from reviewer.spend.schema import TRIGGERS, CallRow, new_row_id
from reviewer.spend.usage import CallRecord

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    """Budgets in USD; None means no limit, 0 means no calls at all."""

    monthly_usd: Decimal | None = None
    review_usd: Decimal | None = None


@dataclass(frozen=True)
class _Reservation:
    row_id: str
    worst_usd: Decimal
    model: str = ""


class ReviewSpend:
    """The usage sink and budget gate of one review (one `review_id`).

    Each call is reserved before it is sent: `before_call` writes a ledger row at the call's
    worst case (outcome `reserved`, `usage_known` false) in one transaction that checks the
    repository's month, live reservations of every process included. The first attempt the
    sink gets afterwards, on the same thread, settles that row with its real cost; further
    attempts (SDK retries) are new rows. A call whose answer never came keeps its worst
    case, unknown; a worker killed mid-call leaves its reservation standing, so budgets and
    `reviewer spend` count it with no further code.

    Thread-safe: chunks call `before_call` and `sink` from several threads, each call's
    attempts on the thread that reserved it.
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
        kind: str = "review",
    ) -> None:
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
        self._ledger = ledger
        self._prices = prices
        self.repo = repo
        self.pr_number = pr_number
        self.head_sha = head_sha
        self.trigger = trigger
        self.kind = kind  # review, conversation or ask: `reviewer spend --by kind`
        self.limits = limits or Limits()
        self._clock = clock
        self.review_id = review_id or str(uuid.uuid4())
        self._lock = threading.Lock()
        # What the review's earlier calls cost (a batch job's earlier rounds).
        self._total = spent
        self._unknown = Decimal(0)
        # Per thread: the reservation its next attempt settles, and its call's worst case.
        self._pending: dict[int, _Reservation] = {}
        self._worst: dict[int, Decimal] = {}

    @property
    def total(self) -> Decimal:
        """What this review's calls have cost so far (worst cases of unanswered ones included)."""
        with self._lock:
            return self._total

    @property
    def unknown(self) -> Decimal:
        """The part of `total` that is a worst case: attempts whose answer never came."""
        with self._lock:
            return self._unknown

    def month_to_date(self) -> Decimal:
        """What the repository has spent this calendar month, this review included."""
        return self._ledger.month_to_date(self.repo, self._clock())

    def before_call(self, *, model: str, input_tokens: int, max_output_tokens: int) -> None:
        """Reserve the call's worst case in the ledger, or raise BudgetExceeded.

        LedgerError (retryable when the database is away) when the reservation cannot be
        written: no call is made without a place to record it.
        """
        estimate = estimate_cost(
            self._prices.price(model), input_tokens=input_tokens, output_tokens=max_output_tokens
        )
        me = threading.get_ident()
        with self._lock:
            if self.limits.review_usd is not None:
                # This review's calls under way on other threads, at their worst case.
                held = sum((r.worst_usd for t, r in self._pending.items() if t != me), Decimal(0))
                self._check("review", self.limits.review_usd, self._total, held + estimate)
            # Held from now on, so concurrent chunks cannot pass on the same headroom.
            self._pending[me] = _Reservation("", estimate)
        row = self._row(
            model=model,
            outcome="reserved",
            cost=estimate,
            usage_known=False,
            chunk_index=0,
            attempt=0,
        )
        try:
            spent = self._ledger.reserve(row, self.limits.monthly_usd, row.time)
            if spent is not None:
                assert self.limits.monthly_usd is not None
                self._check("monthly", self.limits.monthly_usd, spent, estimate)
        except BaseException:
            with self._lock:
                self._pending.pop(me, None)
            raise
        with self._lock:
            self._pending[me] = _Reservation(row.row_id, estimate, model)
            self._worst[me] = estimate

    def sink(self, record: CallRecord) -> None:
        """Price `record` and settle the thread's reservation with it (or write a new row).

        An attempt that got an HTTP answer costs what its usage says (an error body: 0); one
        whose answer never came (timeout, dropped connection) costs the call's worst case,
        `usage_known` false. A database that is away takes nothing from this: the ledger
        journals the row (LedgerError only when the journal cannot be written either).
        """
        me = threading.get_ident()
        answered = record.status_code is not None or record.outcome != "error"
        with self._lock:
            reservation = self._pending.pop(me, None)
            worst = self._worst.get(me)
        if answered or worst is None:
            cost, known = cost_of(record, self._prices.price(record.model)), True
        else:
            cost, known = worst, False
        with self._lock:
            # Counted before the write: a row the ledger failed to store was still billed.
            self._total += cost
            if not known:
                self._unknown += cost
        row = self._row(
            model=record.model,
            outcome=record.outcome,
            cost=cost,
            usage_known=known,
            chunk_index=record.chunk_index,
            attempt=record.attempt,
            record=record,
            row_id=reservation.row_id if reservation else None,
        )
        self._ledger.record(row)

    __call__ = sink

    def release(self) -> None:
        """The thread's reserved call sent nothing (refused before any HTTP): settle it at 0."""
        with self._lock:
            reservation = self._pending.pop(threading.get_ident(), None)
        if reservation is None or not reservation.row_id:
            return
        row = self._row(
            model=reservation.model,
            outcome="not_sent",
            cost=Decimal(0),
            usage_known=True,
            chunk_index=0,
            attempt=0,
            row_id=reservation.row_id,
        )
        self._ledger.record(row)

    def hand_over(self) -> str | None:
        """Take this thread's reservation away from the next attempt (see `settle`)."""
        with self._lock:
            reservation = self._pending.pop(threading.get_ident(), None)
            self._worst.pop(threading.get_ident(), None)
        return reservation.row_id if reservation and reservation.row_id else None

    def _row(
        self,
        *,
        model: str,
        outcome: str,
        cost: Decimal,
        usage_known: bool,
        chunk_index: int,
        attempt: int,
        record: CallRecord | None = None,
        row_id: str | None = None,
    ) -> CallRow:
        return CallRow(
            time=self._clock(),
            repository=self.repo,
            pr_number=self.pr_number,
            head_sha=self.head_sha,
            trigger=self.trigger,
            model=model,
            input_tokens=record.input_tokens if record else 0,
            output_tokens=record.output_tokens if record else 0,
            cache_creation_input_tokens=record.cache_creation_input_tokens if record else 0,
            cache_read_input_tokens=record.cache_read_input_tokens if record else 0,
            cost_usd=cost,
            stop_reason=record.stop_reason if record else None,
            request_id=record.request_id if record else None,
            outcome=outcome,
            review_id=self.review_id,
            chunk_index=chunk_index,
            attempt=attempt,
            row_id=row_id or new_row_id(),
            usage_known=usage_known,
            mode="batch" if record is not None and record.batch_id else "realtime",
            batch_id=record.batch_id if record else None,
            custom_id=record.custom_id if record else None,
            kind=self.kind,
        )

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
