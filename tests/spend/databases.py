"""The ledger databases a spend test runs on: a SQLite file, or PostgreSQL tables of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from reviewer.spend.ledger import Ledger
from reviewer.spend.migrations import TableNames


class Database:
    """Where a test's ledger lives: a SQLite file, or uniquely prefixed PostgreSQL tables."""

    def __init__(self, url: str, prefix: str, journal: Path) -> None:
        self.url = url
        self.prefix = prefix
        self.journal = journal

    @property
    def dialect(self) -> str:
        return sa.make_url(self.url).get_backend_name()

    def open(self, url: str | None = None) -> Ledger:
        return Ledger.open(url or self.url, table_prefix=self.prefix, journal_path=self.journal)

    def drop(self) -> None:
        names = TableNames(self.prefix)
        engine = sa.create_engine(self.url)
        try:
            with engine.begin() as conn:
                for table in (names.calls, names.migrations):
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        finally:
            engine.dispose()


def database_for(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Yield the database `request.param` names ("sqlite" or "postgresql"), dropped after."""
    journal = tmp_path / "data" / "spend-journal.jsonl"
    if request.param == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'ledger' / 'spend.sqlite3'}", "", journal)
        return
    # The `test` database is shared with other runs: tables of our own, dropped after.
    db = Database(request.getfixturevalue("postgres_url"), f"t{uuid.uuid4().hex[:12]}_", journal)
    try:
        yield db
    finally:
        db.drop()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
