"""The findings table and the spend ledger's `kind`, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import pytest

from reviewer.core.lifecycle import FindingRecord
from reviewer.spend.findings import FindingBook
from reviewer.spend.ledger import Ledger
from reviewer.spend.migrations import MIGRATIONS, TableNames
from tests.spend.test_ledger import NOW, Database, database, ledger, row

__all__ = ["database", "ledger"]  # fixtures, shared with test_ledger

FOUND = FindingRecord(
    repository="octo/widgets",
    pr_number=7,
    fingerprint="0123456789abcdef",
    path="app/users.py",
    line=3,
    commit_sha="a" * 40,
    title="SQL injection",
    comment_id=2**40,  # REST ids are past 32 bits: GraphQL's databaseId could not hold them
    thread_id="PRRT_kwDOA",
)


def test_a_finding_goes_from_open_to_dismissed_and_stays_one_row(ledger: Ledger) -> None:
    book = FindingBook(ledger)
    book.save([FOUND, dataclasses.replace(FOUND, fingerprint="fedcba9876543210", pr_number=8)])
    assert book.for_pull("octo/widgets", 7) == [FOUND]
    dismissed = dataclasses.replace(
        FOUND, status="dismissed", status_by="octocat", reason="false positive"
    )
    book.save([dismissed])
    assert book.for_pull("octo/widgets", 7) == [dismissed]
    assert book.for_pull("octo/other", 7) == []
    with pytest.raises(ValueError, match="status must be one of"):
        book.save([dataclasses.replace(FOUND, status="gone")])  # type: ignore[arg-type]


def test_spend_is_grouped_by_kind(ledger: Ledger) -> None:
    ledger.record_many(
        [
            row(cost_usd=Decimal("0.5")),
            row(kind="conversation", cost_usd=Decimal("0.01")),
            row(kind="ask", cost_usd=Decimal("0.02")),
            row(kind="ask", cost_usd=Decimal("0.03")),
        ]
    )
    rows = ledger.report(NOW - timedelta(days=1), NOW + timedelta(days=1), by="kind")
    assert [(r.key, r.calls, r.cost_usd) for r in rows] == [
        ("review", 1, Decimal("0.5")),
        ("ask", 2, Decimal("0.05")),
        ("conversation", 1, Decimal("0.01")),
    ]
    with pytest.raises(Exception, match="kind must be one of"):
        ledger.record(row(kind="chat"))


def test_m003_keeps_earlier_rows_as_reviews(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger made before m003 gains the findings table; its calls become kind review."""
    monkeypatch.setattr("reviewer.spend.migrations.MIGRATIONS", MIGRATIONS[:1])
    database.open().close()
    names = TableNames(database.prefix)
    columns = (
        "time, repository, trigger, model, input_tokens, output_tokens, "
        "cache_creation_input_tokens, cache_read_input_tokens, cost_pusd, outcome, review_id, "
        "chunk_index, attempt"
    )
    values = "'2026-11-20 12:00:00', 'o/r', 'cli', 'm', 1, 1, 0, 0, 5, 'ok', 'r1', 0, 1"
    database.execute(" ".join(("INSERT INTO", names.calls, f"({columns}) VALUES ({values})")))
    monkeypatch.undo()
    with database.open() as ledger:
        assert "m003_findings" in ledger.migrations()
        rows = ledger.report(NOW - timedelta(days=1), NOW + timedelta(days=1), by="kind")
        assert [(r.key, r.calls) for r in rows] == [("review", 1)]
        assert FindingBook(ledger).for_pull("o/r", 1) == []
