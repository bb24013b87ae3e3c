"""Budgets are reservations in the shared ledger: concurrent reviews never pass them together."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from reviewer.spend.budget import Limits, ReviewSpend
from reviewer.spend.pricing import PriceTable
from tests.paths import ROOT
from tests.spend.databases import BACKENDS, Database, database_for
from tests.spend.worker import REPO, WORST_CASE, run_rounds

# Room for two calls' worst case and a half: three reviews at once may make two calls.
MONTHLY = WORST_CASE * 5 / 2
ROUNDS = 3


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_for(request, tmp_path)


def month_total(database: Database) -> Decimal:
    with database.open() as ledger:
        return ledger.month_to_date(REPO, datetime.now(UTC))


def test_three_reviews_in_threads_spend_at_most_the_monthly_budget(database: Database) -> None:
    database.open().close()  # migrated once, as a deployment would be
    meet = threading.Barrier(3)
    made: list[int] = []
    lock = threading.Lock()

    def review() -> None:
        # Each review opens its own ledger connection pool, as a separate worker would.
        with database.open() as ledger:
            spend = ReviewSpend(
                ledger,
                PriceTable.load(),
                repo=REPO,
                pr_number=1,
                head_sha=None,
                trigger="auto",
                limits=Limits(monthly_usd=MONTHLY),
            )
            calls = run_rounds(spend, ROUNDS, lambda allowed: meet.wait())
        with lock:
            made.append(calls)

    threads = [threading.Thread(target=review) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    billed = sum(made) * WORST_CASE
    assert billed <= MONTHLY
    assert sum(made) == 2  # the budget's room is used, not refused wholesale
    assert month_total(database) == billed


def test_three_reviews_in_processes_spend_at_most_the_monthly_budget(database: Database) -> None:
    database.open().close()
    args = ["budget", database.url, database.prefix, str(MONTHLY), str(ROUNDS)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.spend.worker", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for _ in range(ROUNDS):
            # Every worker has asked for its call before any is billed: all are in flight.
            answers = [w.stdout.readline().strip() for w in workers if w.stdout]
            assert set(answers) <= {"ok", "refused"}, answers
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write("\n")
                worker.stdin.flush()
        made = [int(w.stdout.readline().split()[-1]) for w in workers if w.stdout]
        assert [w.wait(timeout=60) for w in workers] == [0, 0, 0]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            for pipe in (worker.stdin, worker.stdout):
                if pipe is not None:
                    pipe.close()
    billed = sum(made) * WORST_CASE
    assert billed <= MONTHLY
    assert sum(made) == 2
    assert month_total(database) == billed
