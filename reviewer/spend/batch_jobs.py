"""Batch jobs in the ledger database: a review's Message Batch from intent to collection.

Submitting a batch is not idempotent, so a round's intent is written first (status
`submitting`, no batch id), the batch id right after the API answered (`submitted`). A worker
that finds its job still `submitting` looks for the batch it may have created before
submitting again. A collector claims a job (`collecting`) with a compare-and-set, so two
collectors never write one batch's results twice; a claim older than its lease is taken over.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from reviewer.errors import LedgerError
from reviewer.spend.ledger import Ledger
from reviewer.spend.schema import UTCDateTime

JobStatus = Literal["submitting", "submitted", "collecting", "collected", "canceled", "failed"]
OPEN_STATUSES = ("submitting", "submitted", "collecting")


@dataclass(frozen=True)
class BatchJob:
    """One review sent as Message Batches (one batch per round: a follow-up re-submits)."""

    key: str
    repository: str
    pr_number: int | None
    status: str
    batch_id: str | None
    round: int
    requests: int
    submitted_after: datetime
    created_at: datetime
    updated_at: datetime
    request_json: str
    state_json: str
    result_json: str | None = None
    error: str | None = None


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("created_at", UTCDateTime),
        sa.Column("updated_at", UTCDateTime),
        sa.Column("repository", sa.String),
        sa.Column("pr_number", sa.Integer),
        sa.Column("status", sa.String),
        sa.Column("batch_id", sa.String),
        sa.Column("round", sa.Integer),
        sa.Column("requests", sa.Integer),
        sa.Column("submitted_after", UTCDateTime),
        sa.Column("request_json", sa.Text),
        sa.Column("state_json", sa.Text),
        sa.Column("result_json", sa.Text),
        sa.Column("error", sa.Text),
    )


class BatchJobs:
    """The batch-jobs table of a ledger database."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._engine = ledger.engine
        self._table = _table(ledger.names.batch_jobs)
        self._calls = sa.table(
            ledger.names.calls, sa.column("batch_id", sa.String), sa.column("custom_id", sa.String)
        )

    def settle_reservation(self, reservation_id: str) -> None:
        """End a batch round's budget reservation: its results are written as their own rows."""
        self._ledger.settle_reservation(reservation_id)

    def written_custom_ids(self, batch_id: str) -> set[str]:
        """The custom ids of one batch whose results the ledger already holds."""
        c = self._calls.c
        query = sa.select(c.custom_id).where(c.batch_id == batch_id)
        with self._conn() as conn:
            return {i for i in conn.execute(query).scalars() if i}

    def get(self, key_or_batch_id: str) -> BatchJob | None:
        """The job with this key, or whose current batch is this id."""
        c = self._table.c
        query = sa.select(self._table).where(
            sa.or_(c.key == key_or_batch_id, c.batch_id == key_or_batch_id)
        )
        with self._conn() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else BatchJob(**row)

    def open_jobs(self) -> list[BatchJob]:
        """Jobs not collected, canceled or failed yet, oldest first."""
        c = self._table.c
        query = sa.select(self._table).where(c.status.in_(OPEN_STATUSES)).order_by(c.created_at)
        with self._conn() as conn:
            return [BatchJob(**row) for row in conn.execute(query).mappings()]

    def known_batch_ids(self) -> set[str]:
        """Every batch id a job holds now (for telling one's own lost batch from others')."""
        c = self._table.c
        with self._conn() as conn:
            return {b for b in conn.execute(sa.select(c.batch_id)).scalars() if b}

    def intend(
        self,
        *,
        key: str,
        repository: str,
        pr_number: int | None,
        requests: int,
        request_json: str,
        state_json: str,
        now: datetime,
    ) -> BatchJob:
        """Write the intent of the next round (a new job, or a follow-up round of one)."""
        existing = self.get(key)
        values: dict[str, Any] = {
            "status": "submitting",
            "batch_id": None,
            "requests": requests,
            "submitted_after": now,
            "updated_at": now,
            "state_json": state_json,
        }
        with self._conn(write=True) as conn:
            if existing is None:
                conn.execute(
                    sa.insert(self._table).values(
                        key=key,
                        created_at=now,
                        repository=repository,
                        pr_number=pr_number,
                        round=1,
                        request_json=request_json,
                        **values,
                    )
                )
            else:
                conn.execute(
                    sa.update(self._table)
                    .where(self._table.c.key == key)
                    .values(round=existing.round + 1, **values)
                )
        job = self.get(key)
        assert job is not None
        return job

    def update(self, key: str, *, now: datetime, **values: Any) -> None:
        """Set columns of one job (status, batch_id, state_json, result_json, error)."""
        with self._conn(write=True) as conn:
            conn.execute(
                sa.update(self._table)
                .where(self._table.c.key == key)
                .values(updated_at=now, **values)
            )

    def claim(self, key: str, *, now: datetime, lease: timedelta) -> bool:
        """Take a submitted job for collection; False when another collector holds it."""
        c = self._table.c
        stale = now - lease
        query = (
            sa.update(self._table)
            .where(
                c.key == key,
                sa.or_(
                    c.status == "submitted",
                    sa.and_(c.status == "collecting", c.updated_at < stale),
                ),
            )
            .values(status="collecting", updated_at=now)
        )
        with self._conn(write=True) as conn:
            return conn.execute(query).rowcount == 1

    @contextmanager
    def _conn(self, *, write: bool = False) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(reviewer_write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise LedgerError(f"cannot use the batch jobs table: {exc}") from exc


def utc_now() -> datetime:
    return datetime.now(UTC)
