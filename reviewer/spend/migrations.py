"""Numbered schema migrations of the spend ledger; applied names are recorded in a table."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reviewer.errors import LedgerError, SchemaTooNewError


@dataclass(frozen=True)
class TableNames:
    """The ledger's table names; a prefix lets tests share one PostgreSQL database."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]{0,30}", self.prefix):
            raise LedgerError(f"table prefix {self.prefix!r}: use a-z, 0-9 and _ only")

    @property
    def calls(self) -> str:
        return f"{self.prefix}spend_calls"

    @property
    def migrations(self) -> str:
        return f"{self.prefix}reviewer_migrations"


Migration = Callable[[Connection, TableNames], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration; its name is what gets recorded."""
    MIGRATIONS.append(fn)
    return fn


def _id_column() -> sa.Column[int]:
    # SQLite only autoincrements an INTEGER PRIMARY KEY; elsewhere a row id is 64-bit.
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


@migration
def m001_spend_calls(conn: Connection, names: TableNames) -> None:
    """One row per Messages API call attempt, billed or not."""
    metadata = sa.MetaData()
    calls = sa.Table(
        names.calls,
        metadata,
        _id_column(),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("pr_number", sa.Integer, nullable=True),
        sa.Column("head_sha", sa.String(64), nullable=True),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("cache_creation_input_tokens", sa.Integer, nullable=False),
        sa.Column("cache_read_input_tokens", sa.Integer, nullable=False),
        # Pico-dollars (1e-12 USD): integer sums are exact on SQLite and PostgreSQL alike.
        sa.Column("cost_pusd", sa.BigInteger, nullable=False),
        sa.Column("stop_reason", sa.String(40), nullable=True),
        sa.Column("request_id", sa.String(120), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("review_id", sa.String(36), nullable=False),
        sa.Column("chunk_index", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.CheckConstraint(
            "\"trigger\" IN ('auto', 'command', 'action', 'cli')", name=f"{names.calls}_trigger"
        ),
    )
    sa.Index(f"{names.calls}_repo_time", calls.c.repository, calls.c.time)
    sa.Index(f"{names.calls}_time", calls.c.time)
    sa.Index(f"{names.calls}_review", calls.c.review_id)
    metadata.create_all(conn)


@migration
def m004_reservations(conn: Connection, names: TableNames) -> None:
    """Reservations: a row per call written at its worst case before it is sent.

    `row_id` names a row across processes and the spend journal (a replayed row is written
    once); `usage_known` is false while a row holds a worst case rather than billed usage.
    """
    table = conn.dialect.identifier_preparer.quote(names.calls)
    true = "1" if conn.dialect.name == "sqlite" else "TRUE"
    conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN row_id VARCHAR(36)")
    conn.exec_driver_sql(
        f"ALTER TABLE {table} ADD COLUMN usage_known BOOLEAN NOT NULL DEFAULT {true}"
    )
    conn.exec_driver_sql(f"CREATE UNIQUE INDEX {names.calls}_row_id ON {table} (row_id)")


def _migrations_table(names: TableNames) -> sa.Table:
    return sa.Table(
        names.migrations,
        sa.MetaData(),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )


def migrate(conn: Connection, names: TableNames) -> list[str]:
    """Apply the migrations `conn`'s database lacks, in order; return their names.

    Call inside a transaction that holds the database's write lock, so two processes
    opening a new ledger at once do not both create it. A database that recorded a
    migration this code does not know was migrated by a newer reviewer: refuse it.
    """
    table = _migrations_table(names)
    table.create(conn, checkfirst=True)
    applied = set(conn.execute(sa.select(table.c.name)).scalars())
    known = [fn.__name__ for fn in MIGRATIONS]
    unknown = sorted(applied - set(known))
    if unknown:
        raise SchemaTooNewError(
            f"ledger schema is newer than this reviewer ({', '.join(unknown)}); upgrade reviewer"
        )
    done = []
    # By name, whatever order the modules defined them in: m002 before m004, always.
    for fn in sorted(MIGRATIONS, key=lambda f: f.__name__):
        if fn.__name__ in applied:
            continue
        fn(conn, names)
        conn.execute(sa.insert(table).values(name=fn.__name__, applied_at=datetime.now(UTC)))
        done.append(fn.__name__)
    return done


def applied_migrations(conn: Connection, names: TableNames) -> list[str]:
    """Return the names recorded in the migrations table, oldest first."""
    table = _migrations_table(names)
    return list(
        conn.execute(sa.select(table.c.name).order_by(table.c.applied_at, table.c.name)).scalars()
    )
