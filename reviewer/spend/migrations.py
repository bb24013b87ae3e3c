"""Numbered schema migrations of the spend ledger; applied names are recorded in a table."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateColumn

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

    @property
    def batch_jobs(self) -> str:
        return f"{self.prefix}batch_jobs"


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
def m002_batch(conn: Connection, names: TableNames) -> None:
    """Message Batches: the mode of each call row, its batch and custom ids; the batch jobs.

    A batch job is written before its batch is submitted (the intent) and gets the batch id
    right after, so a worker killed in between can look for its batch before submitting again.
    """
    for column in (
        sa.Column("mode", sa.String(16), nullable=False, server_default="realtime"),
        sa.Column("batch_id", sa.String(120), nullable=True),
        sa.Column("custom_id", sa.String(64), nullable=True),
    ):
        ddl = CreateColumn(column).compile(dialect=conn.dialect)
        conn.execute(sa.text(f'ALTER TABLE "{names.calls}" ADD COLUMN {ddl}'))
    conn.execute(sa.text(f'CREATE INDEX "{names.calls}_batch" ON "{names.calls}" (batch_id)'))
    metadata = sa.MetaData()
    jobs = sa.Table(
        names.batch_jobs,
        metadata,
        # The review key: stable per review, the prefix of every custom_id it sends.
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("pr_number", sa.Integer, nullable=True),
        # submitting | submitted | collected | canceled | failed
        sa.Column("status", sa.String(16), nullable=False),
        # The batch of the current round (None between the intent and the answer).
        sa.Column("batch_id", sa.String(120), nullable=True),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        # When the current round's intent was written: its batch was created after this.
        sa.Column("submitted_after", sa.DateTime(timezone=True), nullable=False),
        # The review request, the runner's state (pieces in flight, results so far) as JSON.
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("state_json", sa.Text, nullable=False),
        sa.Column("result_json", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    sa.Index(f"{names.batch_jobs}_status", jobs.c.status)
    sa.Index(f"{names.batch_jobs}_batch", jobs.c.batch_id)
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
