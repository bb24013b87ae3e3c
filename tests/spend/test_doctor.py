"""`reviewer doctor`'s ledger checks: reachable, migrations, the month's spend per budget."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from reviewer.core.checks import Check
from reviewer.spend.doctor import journal_check, ledger_checks
from reviewer.spend.journal import Journal
from reviewer.spend.ledger import CallRow, Ledger
from reviewer.spend.migrations import MIGRATIONS, TableNames

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KNOWN = [fn.__name__ for fn in MIGRATIONS]


def _row(repo: str, cost: str) -> CallRow:
    return CallRow(
        time=NOW, repository=repo, pr_number=1, head_sha=None, trigger="auto",
        model="claude-sonnet-4-6", input_tokens=1000, output_tokens=100,
        cache_creation_input_tokens=0, cache_read_input_tokens=0, cost_usd=Decimal(cost),
        outcome="ok", review_id=str(uuid.uuid4()), chunk_index=0, attempt=1,
    )  # fmt: skip


def _statuses(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_no_ledger_yet_is_fine_and_says_what_will_be_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / "ledger.sqlite3"
    checks = ledger_checks(f"sqlite:///{path}", monthly_budget_usd=None, now=NOW)
    assert _statuses(checks) == {
        "spend.ledger": "ok",
        "spend.migrations": "ok",
        "spend.month": "skip",
    }
    assert checks[1].found == f"{len(KNOWN)} to apply when it is created: {', '.join(KNOWN)}"
    assert not path.exists()  # the doctor creates nothing


def test_the_months_spend_per_repository_against_the_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    with Ledger.open(url) as ledger:
        ledger.record_many([_row("octo/app", "8.5"), _row("octo/web", "1.25")])
    checks = ledger_checks(url, monthly_budget_usd=Decimal(10), now=NOW)
    assert _statuses(checks) == {
        "spend.ledger": "ok",
        "spend.migrations": "ok",
        "spend.month": "warn",
    }
    assert checks[1].found == f"current ({len(KNOWN)} applied)"
    month = checks[2]
    assert month.found == "November 2026: octo/app $8.50 of $10.00; octo/web $1.25 of $10.00"
    assert month.fix == "octo/app used 80% of the monthly budget"
    over = ledger_checks(url, monthly_budget_usd=Decimal(5), now=NOW)[2]
    assert over.fix is not None and over.fix.startswith("octo/app reached the monthly budget")
    assert ledger_checks(url, monthly_budget_usd=None, now=NOW)[2].status == "ok"


def test_pending_and_unknown_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    Ledger.open(url).close()
    assert TableNames().migrations == "reviewer_migrations"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM reviewer_migrations")
    pending = ledger_checks(url, monthly_budget_usd=None, now=NOW)
    assert _statuses(pending)["spend.migrations"] == "warn"
    assert pending[1].found == f"{len(KNOWN)} to apply: {', '.join(KNOWN)}"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO reviewer_migrations (name, applied_at) VALUES "
            "('m001_spend_calls', '2026-01-01'), ('m099_future', '2026-01-02')"
        )
    engine.dispose()
    newer = ledger_checks(url, monthly_budget_usd=None, now=NOW)
    assert _statuses(newer) == {
        "spend.ledger": "ok",
        "spend.migrations": "fail",
        "spend.month": "skip",
    }
    assert newer[1].found == "migrated by a newer reviewer: m099_future"


def test_the_database_down_fails_without_its_password() -> None:
    url = "postgresql+psycopg://reviewer:hunter2-doctor@127.0.0.1:1/ledger"
    checks = ledger_checks(url, monthly_budget_usd=None, now=NOW)
    assert _statuses(checks) == {
        "spend.ledger": "fail", "spend.migrations": "skip", "spend.month": "skip"
    }  # fmt: skip
    ledger = checks[0]
    assert ledger.found.startswith(
        "cannot reach postgresql+psycopg://reviewer:***@127.0.0.1:1/ledger"
    )
    assert ledger.fix == "start the database or correct REVIEWER_DATABASE_URL"
    assert all("hunter2-doctor" not in f"{c.found} {c.fix}" for c in checks)


def test_postgresql_reachable_and_current(postgres_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}_"
    ledger = Ledger.open(postgres_url, table_prefix=prefix)
    try:
        ledger.record(_row("octo/app", "0.5"))
        checks = ledger_checks(postgres_url, monthly_budget_usd=None, now=NOW, table_prefix=prefix)
        assert _statuses(checks) == {
            "spend.ledger": "ok", "spend.migrations": "ok", "spend.month": "ok"
        }  # fmt: skip
        assert "(postgresql) answers" in checks[0].found
        assert checks[2].found == "November 2026 (no monthly budget set): octo/app $0.5000"
    finally:
        ledger.close()
        engine = sa.create_engine(postgres_url)
        with engine.begin() as conn:
            names = TableNames(prefix)
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {names.calls}, {names.migrations}")
        engine.dispose()


def test_an_empty_or_absent_journal_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "spend-journal.jsonl"
    assert journal_check(path, ledger_reachable=True).status == "ok"
    path.write_text("")
    check = journal_check(path, ledger_reachable=True)
    assert check.status == "ok" and check.found.startswith("empty")


def test_journalled_rows_are_counted_and_left_alone(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "spend-journal.jsonl")
    journal.append([{"row_id": "a", "cost_pusd": 1}, {"row_id": "b", "cost_pusd": 2}])
    with journal.path.open("a") as handle:
        handle.write('{"row_id": "c", "cost')  # a line a crash cut short
    check = journal_check(journal.path, ledger_reachable=True)
    assert check.status == "warn"
    assert check.found == (
        f"2 call rows at {journal.path} wait to be written to the ledger; "
        "1 cut short by a crash will be skipped"
    )
    assert check.fix is not None and "next opened" in check.fix
    down = journal_check(journal.path, ledger_reachable=False)
    assert down.fix is not None and "answers again" in down.fix
    assert journal.pending() == 3  # the doctor drains nothing (pending counts lines)
