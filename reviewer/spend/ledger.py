"""The spend ledger: one row per Claude call attempt, in SQLite or PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from reviewer.errors import LedgerError
from reviewer.redact import redact
from reviewer.spend.engine import error_reason, is_transient, open_engine, safe_url
from reviewer.spend.journal import Journal
from reviewer.spend.migrations import TableNames, applied_migrations, migrate
from reviewer.spend.schema import CallRow, calls_table, from_pico, new_row_id, row_values

GroupBy = Literal["repo", "model", "pr", "day", "mode", "kind"]
GROUP_BY: tuple[str, ...] = get_args(GroupBy)

MIGRATION_LOCK_ID = 0x5E7D_1ED6


@dataclass(frozen=True)
class ReportRow:
    """Totals of one group of a report: a repository, model, PR (`owner/name#12`) or day."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: Decimal
    # The part of cost_usd that is a worst case: calls reserved whose usage never came back.
    unknown_usd: Decimal = Decimal(0)


def month_start(now: datetime) -> datetime:
    """Return midnight UTC of the first day of `now`'s calendar month (UTC)."""
    now = now.astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


class Ledger:
    """Writes and sums call rows; the only module that talks to the database."""

    def __init__(self, engine: Engine, names: TableNames, journal: Journal | None = None) -> None:
        self._engine = engine
        self._names = names
        self._calls = calls_table(names)
        self.journal = journal

    @classmethod
    def open(cls, url: str, *, table_prefix: str = "", journal_path: Path | None = None) -> Ledger:
        """Connect to `url`, create a SQLite file's directory, apply migrations, and replay
        the spend journal at `journal_path` (rows written while the database was away)."""
        names = TableNames(table_prefix)
        try:
            engine = open_engine(url)
        except (SQLAlchemyError, ValueError, OSError) as exc:
            raise LedgerError(
                f"cannot open the ledger {safe_url(url)}: {redact(str(exc))}"
            ) from exc
        ledger = cls(engine, names, Journal(journal_path) if journal_path else None)
        try:
            with engine.connect() as conn, conn.execution_options(reviewer_write=True).begin():
                if engine.dialect.name == "postgresql":
                    # Two processes opening a new ledger at once: one migrates, one waits.
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_ID)))
                migrate(conn, names)
        except LedgerError:
            engine.dispose()
            raise
        except SQLAlchemyError as exc:
            engine.dispose()
            raise LedgerError(
                f"cannot open the ledger {safe_url(url)}: {error_reason(exc)}",
                retryable=is_transient(exc),
            ) from exc
        try:
            ledger.replay_journal()
        except LedgerError:
            engine.dispose()
            raise
        return ledger

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def engine(self) -> Engine:
        """The connection pool, for the other tables of the ledger database (batch jobs)."""
        return self._engine

    @property
    def names(self) -> TableNames:
        return self._names

    def migrations(self) -> list[str]:
        """Return the names of the applied migrations."""
        with self._read() as conn:
            return applied_migrations(conn, self._names)

    def record(self, row: CallRow) -> None:
        """Write one call row; a failure is a LedgerError, never a silent drop."""
        self.record_many([row])

    def record_many(self, rows: Sequence[CallRow]) -> None:
        """Write `rows` in one transaction, each `row_id` once (a row already there is
        updated). With a journal, rows the database cannot take go to the journal instead,
        and the database being away is no error: the spend is kept and replayed later."""
        rows = [row if row.row_id else replace(row, row_id=new_row_id()) for row in rows]
        values = [row_values(row) for row in rows]
        if not values:
            return
        try:
            with self._write() as conn:
                self._upsert(conn, values)
        except LedgerError:
            if self.journal is None:
                raise
            self.journal.append([row.to_json() for row in rows])

    settle = record

    def settle_reservation(self, row_id: str) -> None:
        """End a reservation whose call's results were written as rows of their own (a batch
        round): the reserved row goes, since it was never a call. Settling twice is a no-op."""
        c = self._calls.c
        with self._write() as conn:
            conn.execute(sa.delete(self._calls).where(c.row_id == row_id, c.outcome == "reserved"))

    def reserve(self, row: CallRow, monthly_limit: Decimal | None, now: datetime) -> Decimal | None:
        """Write `row` (a call's worst case) if the repository's month fits `monthly_limit`.

        One transaction under the repository's lock (PostgreSQL: an advisory lock; SQLite:
        an immediate transaction, the database's write lock), so two processes or machines
        cannot both pass on the same headroom. Return None when written, or what the month
        has spent (settled calls and live reservations) when the row would not fit. Never
        journalled: without the database there is no new call (LedgerError, retryable). A
        journal left by an outage is replayed first, so a long-lived worker catches up.
        """
        if self.journal is not None and self.journal.has_rows():
            # The database is back: what it missed counts before this call is checked.
            self.replay_journal()
        start = month_start(now)
        c = self._calls.c
        spent_query = sa.select(sa.func.sum(c.cost_pusd)).where(
            c.repository == row.repository, c.time >= start, c.time < next_month(start)
        )
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(self._lock_key(row))))
            spent = from_pico(conn.execute(spent_query).scalar())
            if monthly_limit is not None and (
                monthly_limit <= 0 or spent + row.cost_usd > monthly_limit
            ):
                return spent
            conn.execute(sa.insert(self._calls), [row_values(row)])
        return None

    def replay_journal(self) -> int:
        """Write the journalled rows to the database (each `row_id` once); return how many."""
        if self.journal is None:
            return 0

        def apply(rows: list[dict[str, Any]]) -> None:
            values = [row_values(CallRow.from_json(row)) for row in rows]
            with self._write() as conn:
                self._upsert(conn, values)

        return self.journal.drain(apply)

    def _upsert(self, conn: Connection, values: list[dict[str, Any]]) -> None:
        """Update the rows whose `row_id` is there (a reservation, a replay), insert the rest."""
        c = self._calls.c
        present: set[str] = set()
        for start in range(0, len(values), 500):
            ids = [v["row_id"] for v in values[start : start + 500]]
            present.update(conn.execute(sa.select(c.row_id).where(c.row_id.in_(ids))).scalars())
        for value in values:
            if value["row_id"] in present:
                changes = {k: v for k, v in value.items() if k not in ("row_id", "time")}
                conn.execute(
                    sa.update(self._calls).where(c.row_id == value["row_id"]).values(**changes)
                )
        fresh = [v for v in values if v["row_id"] not in present]
        if fresh:
            conn.execute(sa.insert(self._calls), fresh)

    def _lock_key(self, row: CallRow) -> int:
        """A signed 64-bit advisory lock key for the repository's budget (per table prefix)."""
        digest = hashlib.sha256(f"{self._names.calls}:{row.repository}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def month_to_date(self, repo: str, now: datetime) -> Decimal:
        """Return what `repo` spent in `now`'s calendar month (UTC)."""
        start = month_start(now)
        c = self._calls.c
        query = sa.select(sa.func.sum(c.cost_pusd)).where(
            c.repository == repo, c.time >= start, c.time < next_month(start)
        )
        with self._read() as conn:
            return from_pico(conn.execute(query).scalar())

    def batch_rows(self, batch_id: str) -> list[tuple[str | None, Decimal]]:
        """Return (custom_id, cost) of the rows written for one batch's results."""
        c = self._calls.c
        query = sa.select(c.custom_id, c.cost_pusd).where(c.batch_id == batch_id).order_by(c.id)
        with self._read() as conn:
            return [(row[0], from_pico(row[1])) for row in conn.execute(query)]

    def review_total(self, review_id: str) -> Decimal:
        """Return what the calls of one review cost (a live reservation is no call yet)."""
        c = self._calls.c
        query = sa.select(sa.func.sum(c.cost_pusd)).where(
            c.review_id == review_id, c.outcome != "reserved"
        )
        with self._read() as conn:
            return from_pico(conn.execute(query).scalar())

    def report(
        self, since: datetime, until: datetime, repo: str | None = None, by: str = "repo"
    ) -> list[ReportRow]:
        """Return totals of calls at or after `since` and before `until`, grouped `by`."""
        if by not in GROUP_BY:
            raise ValueError(f"by must be one of {', '.join(GROUP_BY)}, not {by!r}")
        c = self._calls.c
        keys: list[Any]
        if by == "repo":
            keys = [c.repository]
        elif by == "model":
            keys = [c.model]
        elif by == "pr":
            keys = [c.repository, c.pr_number]
        elif by == "mode":
            keys = [c.mode]
        elif by == "kind":
            keys = [c.kind]
        elif self.dialect == "sqlite":
            keys = [sa.func.substr(sa.cast(c.time, sa.String), 1, 10)]
        else:
            keys = [sa.cast(sa.func.timezone("UTC", c.time), sa.Date)]
        cost = sa.func.sum(c.cost_pusd)
        unknown = sa.func.sum(sa.case((c.usage_known.is_(False), c.cost_pusd), else_=0))
        query = (
            sa.select(
                *keys,
                sa.func.count(),
                sa.func.sum(c.input_tokens),
                sa.func.sum(c.output_tokens),
                sa.func.sum(c.cache_creation_input_tokens),
                sa.func.sum(c.cache_read_input_tokens),
                cost,
                unknown,
            )
            .where(c.time >= since, c.time < until)
            .group_by(*keys)
        )
        if repo is not None:
            query = query.where(c.repository == repo)
        query = query.order_by(*keys) if by == "day" else query.order_by(cost.desc(), *keys)
        with self._read() as conn:
            result = conn.execute(query).all()
        n = len(keys)
        return [
            ReportRow(
                key=_key(by, tuple(r[:n])),
                calls=int(r[n]),
                input_tokens=int(r[n + 1] or 0),
                output_tokens=int(r[n + 2] or 0),
                cache_creation_input_tokens=int(r[n + 3] or 0),
                cache_read_input_tokens=int(r[n + 4] or 0),
                cost_usd=from_pico(r[n + 5]),
                unknown_usd=from_pico(r[n + 6]),
            )
            for r in result
        ]

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction on the ledger's database (other stores share it: findings)."""
        with self._write() if write else self._read() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise LedgerError(
                f"cannot read the ledger: {error_reason(exc)}", retryable=is_transient(exc)
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                # SQLite: take the write lock when the transaction starts, so a writer
                # waits on busy_timeout instead of failing to upgrade a read lock.
                conn.execution_options(reviewer_write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise LedgerError(
                f"cannot write to the ledger: {error_reason(exc)}", retryable=is_transient(exc)
            ) from exc


def _key(by: str, values: tuple[Any, ...]) -> str:
    if by == "pr":
        repo, number = values
        return f"{repo}#{number}" if number is not None else f"{repo} (no PR)"
    value = values[0]
    return value.isoformat() if isinstance(value, date) else str(value)
