"""The findings the bot posted and what became of them, in the ledger's database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa

from reviewer.core.lifecycle import FindingRecord, FindingStatus
from reviewer.spend.ledger import Ledger
from reviewer.spend.migrations import TableNames
from reviewer.spend.schema import UTCDateTime

Clock = Callable[[], datetime]
STATUSES: tuple[FindingStatus, ...] = ("open", "fixed", "dismissed")


def _table(names: TableNames) -> sa.Table:
    """The findings table's current shape, for queries (the migration owns the DDL)."""
    return sa.Table(
        names.findings,
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("repository", sa.String),
        sa.Column("pr_number", sa.Integer),
        sa.Column("fingerprint", sa.String),
        sa.Column("path", sa.String),
        sa.Column("line", sa.Integer),
        sa.Column("commit_sha", sa.String),
        sa.Column("title", sa.String),
        sa.Column("comment_id", sa.BigInteger),
        sa.Column("thread_id", sa.String),
        sa.Column("status", sa.String),
        sa.Column("status_by", sa.String),
        sa.Column("reason", sa.String),
        sa.Column("created_at", UTCDateTime),
        sa.Column("updated_at", UTCDateTime),
    )


class FindingBook:
    """Reads and writes finding rows (the `FindingStore` port)."""

    def __init__(self, ledger: Ledger, *, clock: Clock | None = None) -> None:
        self._ledger = ledger
        self._table = _table(ledger.names)
        self._clock = clock or (lambda: datetime.now(UTC))

    def for_pull(self, repo: str, number: int) -> list[FindingRecord]:
        """Every finding recorded on the pull request, oldest first."""
        t = self._table
        query = sa.select(t).where(t.c.repository == repo, t.c.pr_number == number).order_by(t.c.id)
        with self._ledger.transaction() as conn:
            return [_record(row._mapping) for row in conn.execute(query)]

    def save(self, records: Sequence[FindingRecord]) -> None:
        """Insert new findings and update known ones (by repository, PR and fingerprint)."""
        if not records:
            return
        t = self._table
        now = self._clock()
        with self._ledger.transaction(write=True) as conn:
            for record in records:
                if record.status not in STATUSES:
                    raise ValueError(f"status must be one of {STATUSES}, not {record.status!r}")
                values = _values(record)
                key = (
                    (t.c.repository == record.repository)
                    & (t.c.pr_number == record.pr_number)
                    & (t.c.fingerprint == record.fingerprint)
                )
                updated = conn.execute(sa.update(t).where(key).values(**values, updated_at=now))
                if updated.rowcount == 0:
                    conn.execute(sa.insert(t).values(**values, created_at=now, updated_at=now))


def _values(record: FindingRecord) -> dict[str, Any]:
    return {
        "repository": record.repository,
        "pr_number": record.pr_number,
        "fingerprint": record.fingerprint,
        "path": record.path[:1000],
        "line": record.line,
        "commit_sha": record.commit_sha,
        "title": record.title[:300],
        "comment_id": record.comment_id,
        "thread_id": record.thread_id,
        "status": record.status,
        "status_by": record.status_by,
        "reason": (record.reason or None) and record.reason[:300],
    }


def _record(row: Any) -> FindingRecord:
    return FindingRecord(
        repository=row["repository"],
        pr_number=int(row["pr_number"]),
        fingerprint=row["fingerprint"],
        path=row["path"],
        line=row["line"],
        commit_sha=row["commit_sha"],
        title=row["title"],
        comment_id=int(row["comment_id"]) if row["comment_id"] is not None else None,
        thread_id=row["thread_id"],
        status=cast(FindingStatus, row["status"]),
        status_by=row["status_by"],
        reason=row["reason"],
    )
