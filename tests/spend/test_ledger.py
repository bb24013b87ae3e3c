"""Tests for reviewer/ledger.py and reviewer/migrations.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from reviewer.errors import LedgerError, SchemaTooNewError
from reviewer.spend.ledger import Ledger
from reviewer.spend.migrations import MIGRATIONS, TableNames
from reviewer.spend.schema import CallRow

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Database:
    """Where a test's ledger lives: a SQLite file, or uniquely prefixed PostgreSQL tables."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix

    def open(self) -> Ledger:
        return Ledger.open(self.url, table_prefix=self.prefix)

    def execute(self, sql: str) -> None:
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(sql)
        finally:
            engine.dispose()

    def drop(self) -> None:
        names = TableNames(self.prefix)
        for table in (names.calls, names.migrations, names.batch_jobs, names.findings):
            self.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'ledger' / 'spend.sqlite3'}", "")
        return
    # The `test` database is shared with other runs: tables of our own, dropped after.
    db = Database(request.getfixturevalue("postgres_url"), f"t{uuid.uuid4().hex[:12]}_")
    try:
        yield db
    finally:
        db.drop()


@pytest.fixture
def ledger(database: Database) -> Iterator[Ledger]:
    with database.open() as opened:
        yield opened


def row(**changes: object) -> CallRow:
    base = CallRow(
        time=NOW,
        repository="octo/widgets",
        pr_number=7,
        head_sha="a" * 40,
        trigger="auto",
        model="claude-sonnet-4-6",
        input_tokens=1_000,
        output_tokens=200,
        cache_creation_input_tokens=30,
        cache_read_input_tokens=4_000,
        cost_usd=Decimal("0.0123456789"),
        outcome="ok",
        review_id="review-1",
        chunk_index=0,
        attempt=1,
        stop_reason="end_turn",
        request_id="req_1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_open_creates_the_sqlite_directory_and_applies_migrations(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "ledger.sqlite3"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        assert ledger.migrations() == [fn.__name__ for fn in MIGRATIONS]
    assert path.exists()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


ALL_MIGRATIONS = sorted(fn.__name__ for fn in MIGRATIONS)


def test_migrations_from_empty_and_idempotent_reopen(database: Database) -> None:
    with database.open() as ledger:
        assert ledger.migrations() == ALL_MIGRATIONS
        ledger.record(row())
    with database.open() as ledger:
        assert ledger.migrations() == ALL_MIGRATIONS
        assert ledger.review_total("review-1") == Decimal("0.0123456789")


def test_a_newer_schema_is_refused(database: Database) -> None:
    database.open().close()
    names = TableNames(database.prefix)
    # The table name is checked by TableNames; nothing here comes from outside.
    database.execute(
        f"INSERT INTO {names.migrations} (name, applied_at) "  # noqa: S608
        "VALUES ('m002_from_the_future', '2027-01-01 00:00:00')"
    )
    with pytest.raises(SchemaTooNewError) as caught:
        database.open()
    assert caught.value.message == (
        "ledger schema is newer than this reviewer (m002_from_the_future); upgrade reviewer"
    )
    assert caught.value.exit_code == 2


def test_concurrent_writers_lose_no_row(ledger: Ledger) -> None:
    threads, per_thread = 4, 250
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def write(worker: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                ledger.record(
                    row(
                        review_id=f"review-{worker}",
                        chunk_index=i,
                        cost_usd=Decimal("0.000000000001") * (i + 1),
                    )
                )
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    (total,) = ledger.report(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert total.calls == threads * per_thread
    # Σ 1..250 pico-dollars per worker: exact, no float rounding.
    per_worker = Decimal(per_thread * (per_thread + 1) // 2) * Decimal("1e-12")
    assert total.cost_usd == per_worker * threads
    for worker in range(threads):
        assert ledger.review_total(f"review-{worker}") == per_worker


def test_sums_are_exact(ledger: Ledger) -> None:
    ledger.record_many([row(cost_usd=Decimal("0.1")) for _ in range(3)])
    ledger.record(row(cost_usd=Decimal("0.000000000003")))
    assert ledger.review_total("review-1") == Decimal("0.300000000003")


def test_month_to_date_counts_this_calendar_month_of_one_repo(ledger: Ledger) -> None:
    ledger.record_many(
        [
            row(time=datetime(2026, 11, 1, 0, 0, tzinfo=UTC), cost_usd=Decimal("1")),
            row(time=datetime(2026, 11, 30, 23, 59, tzinfo=UTC), cost_usd=Decimal("2")),
            # 2026-10-31 23:30 in UTC, although it is already November in UTC+1.
            row(
                time=datetime(2026, 11, 1, 0, 30, tzinfo=UTC) - timedelta(hours=1),
                cost_usd=Decimal("4"),
            ),
            row(time=datetime(2026, 12, 1, tzinfo=UTC), cost_usd=Decimal("8")),
            row(repository="octo/other", cost_usd=Decimal("16")),
        ]
    )
    assert ledger.month_to_date("octo/widgets", NOW) == Decimal("3")
    assert ledger.month_to_date("octo/other", NOW) == Decimal("16")
    assert ledger.month_to_date("octo/none", NOW) == Decimal("0")


def test_times_come_back_as_aware_utc(ledger: Ledger) -> None:
    # 2026-11-21 04:00 in Tokyo is 2026-11-20 19:00 UTC.
    tokyo = datetime(2026, 11, 21, 4, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    ledger.record(row(time=tokyo))
    (day,) = ledger.report(NOW, NOW + timedelta(hours=8), by="day")
    assert day.key == "2026-11-20"
    assert ledger.month_to_date("octo/widgets", tokyo) == row().cost_usd


def test_report_groups_and_filters(ledger: Ledger) -> None:
    ledger.record_many(
        [
            row(cost_usd=Decimal("0.5")),
            row(pr_number=8, model="claude-opus-4-6", cost_usd=Decimal("2")),
            row(pr_number=None, trigger="cli", cost_usd=Decimal("0.25")),
            row(repository="octo/other", time=NOW + timedelta(days=1), cost_usd=Decimal("1")),
            row(time=NOW - timedelta(days=40), cost_usd=Decimal("100")),
        ]
    )
    since, until = NOW - timedelta(days=1), NOW + timedelta(days=2)
    by_repo = ledger.report(since, until, by="repo")
    assert [(r.key, r.calls, r.cost_usd) for r in by_repo] == [
        ("octo/widgets", 3, Decimal("2.75")),
        ("octo/other", 1, Decimal("1")),
    ]
    assert by_repo[0].input_tokens == 3_000
    assert by_repo[0].output_tokens == 600
    assert by_repo[0].cache_creation_input_tokens == 90
    assert by_repo[0].cache_read_input_tokens == 12_000
    by_model = ledger.report(since, until, by="model")
    assert [(r.key, r.calls) for r in by_model] == [
        ("claude-opus-4-6", 1),
        ("claude-sonnet-4-6", 3),
    ]
    by_pr = ledger.report(since, until, repo="octo/widgets", by="pr")
    assert [(r.key, r.cost_usd) for r in by_pr] == [
        ("octo/widgets#8", Decimal("2")),
        ("octo/widgets#7", Decimal("0.5")),
        ("octo/widgets (no PR)", Decimal("0.25")),
    ]
    by_day = ledger.report(since, until, by="day")
    assert [(r.key, r.calls) for r in by_day] == [("2026-11-20", 3), ("2026-11-21", 1)]
    assert ledger.report(since, until, repo="nobody/nothing") == []
    with pytest.raises(ValueError, match="by must be one of"):
        ledger.report(since, until, by="week")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trigger": "webhook"}, "trigger must be one of"),
        ({"time": datetime(2026, 11, 20)}, "timezone-aware"),
        ({"cost_usd": Decimal("0.0000000000001")}, "finer than"),
    ],
)
def test_bad_rows_are_refused(ledger: Ledger, changes: dict[str, object], message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        ledger.record(row(**changes))
    assert ledger.review_total("review-1") == Decimal(0)


def test_a_failed_write_is_a_ledger_error(database: Database) -> None:
    ledger = database.open()
    database.drop()
    with pytest.raises(LedgerError, match="cannot write to the ledger"):
        ledger.record(row())
    ledger.close()


def test_an_unreachable_database_is_a_ledger_error_without_the_password() -> None:
    with pytest.raises(LedgerError) as caught:
        Ledger.open("postgresql+psycopg://bot:s3cret@127.0.0.1:1/ledger?connect_timeout=2")
    assert "cannot open the ledger" in caught.value.message
    assert "s3cret" not in caught.value.message


def test_a_bad_table_prefix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="table prefix"):
        Ledger.open(f"sqlite:///{tmp_path / 'x.sqlite3'}", table_prefix="x; DROP TABLE y")
