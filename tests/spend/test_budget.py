"""Tests for reviewer/budget.py: one review's sink and budget gate over a real ledger."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from reviewer.errors import BudgetExceeded, LedgerError, UnknownModelError
from reviewer.spend.budget import Limits, ReviewSpend
from reviewer.spend.ledger import Ledger
from reviewer.spend.pricing import PriceTable
from reviewer.spend.usage import BudgetGate, CallRecord, UsageSink

MODEL = "claude-sonnet-4-6"  # $3 input, $15 output per million tokens
# 1,000 input + 1,000 output tokens on Sonnet 4.6: $0.003 + $0.015.
CALL_COST = Decimal("0.018")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


@pytest.fixture
def ledger(url: str) -> Iterator[Ledger]:
    with Ledger.open(url) as opened:
        yield opened


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 20, 9, 30, tzinfo=UTC))


def review(
    ledger: Ledger,
    prices: PriceTable,
    clock: Clock,
    *,
    repo: str = "octo/widgets",
    monthly: str | None = None,
    per_review: str | None = None,
) -> ReviewSpend:
    limits = Limits(
        monthly_usd=Decimal(monthly) if monthly is not None else None,
        review_usd=Decimal(per_review) if per_review is not None else None,
    )
    return ReviewSpend(
        ledger,
        prices,
        repo=repo,
        pr_number=12,
        head_sha="b" * 40,
        trigger="auto",
        limits=limits,
        clock=clock,
    )


def call(spend: ReviewSpend, chunk: int = 0, **usage: object) -> None:
    """Pass the gate, then sink one successful attempt of 1,000 in / 1,000 out."""
    spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)
    values: dict[str, object] = {"input_tokens": 1_000, "output_tokens": 1_000, **usage}
    spend.sink(
        CallRecord(model=MODEL, chunk_index=chunk, attempt=1, outcome="ok", **values)  # type: ignore[arg-type]
    )


def test_review_spend_is_a_sink_and_a_gate(
    ledger: Ledger, prices: PriceTable, clock: Clock
) -> None:
    spend = review(ledger, prices, clock, per_review="0.03")
    gate: BudgetGate = spend
    sink: UsageSink = spend
    gate.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)
    sink(
        CallRecord(
            model=MODEL,
            chunk_index=0,
            attempt=1,
            outcome="ok",
            input_tokens=1_000,
            output_tokens=1_000,
        )
    )
    assert spend.total == CALL_COST
    assert ledger.review_total(spend.review_id) == CALL_COST
    with pytest.raises(BudgetExceeded):  # what the sink counted closes the gate
        gate.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)


def test_sink_prices_and_writes_every_attempt(
    ledger: Ledger, prices: PriceTable, clock: Clock
) -> None:
    spend = review(ledger, prices, clock)
    spend.sink(
        CallRecord(
            model=MODEL,
            chunk_index=3,
            attempt=1,
            outcome="error",
            status_code=529,
            error="overloaded",
        )
    )
    spend.sink(
        CallRecord(
            model=MODEL,
            chunk_index=3,
            attempt=2,
            outcome="truncated",
            stop_reason="max_tokens",
            request_id="req_2",
            input_tokens=2_000,
            output_tokens=4_096,
            cache_creation_input_tokens=1_000,
            cache_write_1h_tokens=1_000,
            cache_read_input_tokens=10_000,
        )
    )
    # 2,000 × 3 + 4,096 × 15 + 1,000 × 6 (1-hour writes) + 10,000 × 0.30, per million.
    assert spend.total == Decimal("0.076440")
    assert ledger.review_total(spend.review_id) == spend.total
    assert spend.month_to_date() == spend.total
    (by_pr,) = ledger.report(
        clock.now - timedelta(hours=1), clock.now + timedelta(hours=1), by="pr"
    )
    assert (by_pr.key, by_pr.calls, by_pr.output_tokens) == ("octo/widgets#12", 2, 4_096)
    assert by_pr.cache_creation_input_tokens == 1_000


def test_budget_reached_mid_review(ledger: Ledger, prices: PriceTable, clock: Clock) -> None:
    spend = review(ledger, prices, clock, per_review="0.05")
    call(spend, 0)
    call(spend, 1)
    with pytest.raises(BudgetExceeded) as caught:
        spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)
    stop = caught.value
    assert (stop.budget, stop.limit, stop.spent) == ("review", "0.05", "0.036")
    assert "review budget" in stop.message and "$0.0140 left" in stop.message
    # What was spent before the stop is kept, and nothing more was written.
    assert spend.total == 2 * CALL_COST
    assert ledger.review_total(spend.review_id) == 2 * CALL_COST
    # A smaller call still fits in what is left.
    spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=500)


@pytest.mark.parametrize("which", ["monthly", "review"])
def test_a_budget_of_zero_means_no_calls(
    ledger: Ledger, prices: PriceTable, clock: Clock, which: str
) -> None:
    limits = {"monthly": "0"} if which == "monthly" else {"per_review": "0"}
    spend = review(ledger, prices, clock, **limits)  # type: ignore[arg-type]
    with pytest.raises(BudgetExceeded) as caught:
        spend.before_call(model=MODEL, input_tokens=0, max_output_tokens=0)
    assert caught.value.budget == which
    assert "$0, so no call to Claude was made" in caught.value.message
    assert spend.total == 0
    assert ledger.month_to_date("octo/widgets", clock.now) == 0


def test_monthly_budget_across_two_reviews(
    ledger: Ledger, prices: PriceTable, clock: Clock
) -> None:
    first = review(ledger, prices, clock, monthly="0.05")
    call(first)
    call(first)
    # Last month's spend does not count against this month.
    earlier = Clock(clock.now - timedelta(days=30))
    call(review(ledger, prices, earlier))
    # Another repository has its own budget.
    call(review(ledger, prices, clock, repo="octo/other", monthly="0.05"))
    second = review(ledger, prices, clock, monthly="0.05")
    assert second.month_to_date() == 2 * CALL_COST
    with pytest.raises(BudgetExceeded) as caught:
        second.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)
    assert (caught.value.budget, caught.value.spent) == ("monthly", "0.036")
    assert "this month's budget for octo/widgets" in caught.value.message
    # Next month the budget starts again.
    clock.now = datetime(2026, 12, 1, tzinfo=UTC)
    second.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)


def test_monthly_gate_counts_this_reviews_rows(
    ledger: Ledger, prices: PriceTable, clock: Clock
) -> None:
    spend = review(ledger, prices, clock, monthly="0.04")
    call(spend)
    call(spend)
    with pytest.raises(BudgetExceeded, match="this month's budget"):
        spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)


def test_calls_in_flight_hold_their_estimate(
    ledger: Ledger, prices: PriceTable, clock: Clock
) -> None:
    spend = review(ledger, prices, clock, per_review="0.05")
    passed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(4)
    done = threading.Barrier(4)

    def chunk() -> None:
        start.wait()
        try:
            spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)
            ok = True
        except BudgetExceeded:
            ok = False
        with lock:
            passed.append(ok)
        done.wait()  # every thread is "in flight" until all have asked

    threads = [threading.Thread(target=chunk) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # $0.05 covers two calls of $0.018 at most, however the threads interleave.
    assert sorted(passed) == [False, False, True, True]


def test_concurrent_sinks_lose_nothing(ledger: Ledger, prices: PriceTable, clock: Clock) -> None:
    spend = review(ledger, prices, clock)
    threads = [
        threading.Thread(target=lambda n=n: [call(spend, n) for _ in range(25)]) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert spend.total == 200 * CALL_COST
    assert ledger.review_total(spend.review_id) == spend.total


def drop_calls_table(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE spend_calls")
    engine.dispose()


def test_a_failed_write_raises_and_still_counts_the_spend(
    url: str, ledger: Ledger, prices: PriceTable, clock: Clock
) -> None:
    spend = review(ledger, prices, clock)
    spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)
    drop_calls_table(url)  # a ledger without a journal: nowhere to put the row
    with pytest.raises(LedgerError):
        spend.sink(
            CallRecord(
                model=MODEL,
                chunk_index=0,
                attempt=1,
                outcome="ok",
                input_tokens=1_000,
                output_tokens=1_000,
            )
        )
    assert spend.total == CALL_COST


def test_no_call_without_a_reservation(
    url: str, ledger: Ledger, prices: PriceTable, clock: Clock
) -> None:
    spend = review(ledger, prices, clock)
    drop_calls_table(url)
    with pytest.raises(LedgerError):
        spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)
    assert spend.total == 0


def test_unknown_model_is_an_error_before_any_spend(
    ledger: Ledger, prices: PriceTable, clock: Clock
) -> None:
    spend = review(ledger, prices, clock, per_review="10")
    with pytest.raises(UnknownModelError):
        spend.before_call(model="claude-unknown-1", input_tokens=10, max_output_tokens=10)


def test_trigger_is_checked(ledger: Ledger, prices: PriceTable, clock: Clock) -> None:
    with pytest.raises(ValueError, match="trigger"):
        ReviewSpend(ledger, prices, repo="o/r", pr_number=None, head_sha=None, trigger="cron")
    spend = ReviewSpend(ledger, prices, repo="o/r", pr_number=None, head_sha=None, trigger="cli")
    assert len(spend.review_id) == 36
