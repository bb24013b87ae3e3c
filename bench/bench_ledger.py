"""Ledger benchmarks: concurrent writers per second, and a `--by repo` report over 1M rows.

Run: .venv/bin/python -m bench.bench_ledger [--rows 1000000] [--no-postgres]
PostgreSQL (127.0.0.1:5432, database `test`) gets tables of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from reviewer.cli.spend import spend
from reviewer.spend.budget import Limits, ReviewSpend
from reviewer.spend.ledger import Ledger
from reviewer.spend.migrations import TableNames
from reviewer.spend.pricing import PriceTable
from reviewer.spend.schema import CallRow
from reviewer.spend.usage import CallRecord

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = datetime(2026, 11, 1, tzinfo=UTC)
RUNS = 3


def make_row(n: int, rng: random.Random, review_id: str = "bench") -> CallRow:
    return CallRow(
        time=START + timedelta(seconds=rng.randrange(29 * 86_400)),
        repository=f"org/repo-{rng.randrange(200)}",
        pr_number=rng.randrange(1, 5_000),
        head_sha=f"{n:040x}",
        trigger="auto",
        model=rng.choice(("claude-sonnet-4-6", "claude-opus-4-8", "claude-haiku-4-5")),
        input_tokens=rng.randrange(30_000),
        output_tokens=rng.randrange(4_096),
        cache_creation_input_tokens=rng.randrange(5_000),
        cache_read_input_tokens=rng.randrange(50_000),
        cost_usd=Decimal(rng.randrange(10**9)).scaleb(-12),
        outcome="ok",
        review_id=review_id,
        chunk_index=n % 8,
        attempt=1,
        stop_reason="end_turn",
        request_id=f"req_{n}",
    )


def median_time(fn: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def writers(ledger: Ledger, threads: int, per_thread: int) -> float:
    """Return rows per second written one row per transaction, as the sink writes them."""
    barrier = threading.Barrier(threads + 1)

    def work(worker: int) -> None:
        rng = random.Random(worker)
        rows = [make_row(i, rng, f"w{worker}") for i in range(per_thread)]
        barrier.wait()
        for r in rows:
            ledger.record(r)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in pool:
        t.join()
    return threads * per_thread / (time.perf_counter() - began)


def reservations(ledger: Ledger, threads: int, per_thread: int) -> float:
    """Return calls per second reserved and settled, every thread on one repository's budget.

    Each call is two transactions, as a review makes them: the reservation (under the
    repository's lock, with the month's sum) and the settlement with the billed usage.
    """
    prices = PriceTable.load()
    barrier = threading.Barrier(threads + 1)
    limits = Limits(monthly_usd=Decimal(10**9))
    record = CallRecord(
        "claude-sonnet-4-6", 0, 1, "ok", status_code=200, input_tokens=2_000, output_tokens=300
    )

    def work() -> None:
        book = ReviewSpend(
            ledger,
            prices,
            repo="org/hot",
            pr_number=1,
            head_sha=None,
            trigger="auto",
            limits=limits,
        )
        barrier.wait()
        for _ in range(per_thread):
            book.before_call(model=record.model, input_tokens=2_000, max_output_tokens=4_096)
            book(record)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in pool:
        t.join()
    return threads * per_thread / (time.perf_counter() - began)


def bulk_fill(ledger: Ledger, rows: int, batch: int = 20_000) -> float:
    rng = random.Random(1)
    began = time.perf_counter()
    for offset in range(0, rows, batch):
        ledger.record_many([make_row(offset + i, rng) for i in range(min(batch, rows - offset))])
    return time.perf_counter() - began


def drop(url: str, prefix: str) -> None:
    engine = sa.create_engine(url)
    names = TableNames(prefix)
    with engine.begin() as conn:
        for table in (names.calls, names.migrations):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    engine.dispose()


def bench_backend(name: str, url: str, prefix: str, rows: int, cli: bool) -> None:
    with Ledger.open(url, table_prefix=prefix) as ledger:
        rates = [writers(ledger, threads=4, per_thread=500) for _ in range(RUNS)]
        print(
            f"{name}: 4 writer threads, one row per transaction: "
            f"{statistics.median(rates):,.0f} rows/s (median of {RUNS}; "
            f"runs {', '.join(f'{r:,.0f}' for r in rates)})"
        )
        calls = [reservations(ledger, threads=4, per_thread=250) for _ in range(RUNS)]
        print(
            f"{name}: 4 threads reserving and settling calls on one repository's monthly "
            f"budget: {statistics.median(calls):,.0f} calls/s (median of {RUNS}; "
            f"runs {', '.join(f'{r:,.0f}' for r in calls)})"
        )
    if prefix:
        drop(url, prefix)
    with Ledger.open(url, table_prefix=prefix) as ledger:
        fill = bulk_fill(ledger, rows)
        print(
            f"{name}: bulk insert of {rows:,} rows (executemany, 20,000 per transaction): "
            f"{fill:.1f} s ({rows / fill:,.0f} rows/s)"
        )
        since, until = START, START + timedelta(days=30)
        report = median_time(lambda: ledger.report(since, until, by="repo"))
        groups = len(ledger.report(since, until, by="repo"))
        print(
            f"{name}: Ledger.report(by='repo') over {rows:,} rows ({groups} groups): "
            f"{report * 1000:,.0f} ms (median of {RUNS})"
        )
    if cli:
        runner = CliRunner()
        args = ["--since", "2026-11-01", "--until", "2026-11-30", "--by", "repo"]
        env = {"REVIEWER_DATABASE_URL": url}

        def run() -> None:
            result = runner.invoke(spend, args, env=env)
            if result.exit_code != 0:
                raise SystemExit(f"reviewer spend failed: {result.output}{result.stderr}")

        took = median_time(run)
        print(
            f"{name}: `reviewer spend --by repo` over {rows:,} rows: "
            f"{took * 1000:,.0f} ms (median of {RUNS}, ledger open and migration check included)"
        )
    if prefix:
        drop(url, prefix)


def postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(
        f"SQLite {__import__('sqlite3').sqlite_version}, SQLAlchemy {sa.__version__}, "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}"
        bench_backend("SQLite", url, "", args.rows, cli=True)
    if args.no_postgres:
        return
    if not postgres_up():
        print("PostgreSQL: not listening on 127.0.0.1:5432, skipped")
        return
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    try:
        bench_backend("PostgreSQL", POSTGRES_URL, prefix, args.rows, cli=False)
    finally:
        drop(POSTGRES_URL, prefix)


if __name__ == "__main__":
    main()
