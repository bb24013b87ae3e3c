"""The delivery store in one SQLite file, for a single machine."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reviewer.settings import ensure_parent
from webhook.store.base import JobRecord

_SCHEMA = (
    """create table if not exists deliveries (
        delivery_id text primary key, job_id text, received_at real not null)""",
    """create table if not exists jobs (
        job_id text primary key, lock_key text not null, payload text not null,
        state text not null, attempts integer not null default 0,
        lease_until real not null default 0, token text, outcome text,
        created_at real not null, updated_at real not null)""",
    "create index if not exists jobs_state on jobs (state, updated_at)",
    """create table if not exists locks (
        name text primary key, token text not null, expires_at real not null)""",
    """create table if not exists counters (
        series text primary key, value real not null default 0)""",
    """create table if not exists marks (name text primary key, expires_at real not null)""",
)
_COUNT = (
    "insert into counters values (?, ?) on conflict (series) do update set"
    " value = value + excluded.value"
)


class SqliteDeliveryStore:
    """The store in one SQLite file (WAL), shared by every process on the machine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        ensure_parent(path)
        self._local = threading.local()
        with self._tx() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    def _conn(self) -> sqlite3.Connection:
        # One connection per thread and per process: gunicorn and huey both fork or thread.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("pragma journal_mode=wal")
            conn.execute("pragma synchronous=normal")
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("begin immediate")
        try:
            yield conn
        except BaseException:
            conn.execute("rollback")
            raise
        conn.execute("commit")

    def claim(
        self,
        delivery_id: str,
        *,
        job_id: str,
        lock_key: str,
        payload: dict[str, Any],
        counters: Mapping[str, float] | None = None,
    ) -> bool:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "insert or ignore into deliveries values (?, ?, ?)", (delivery_id, job_id, now)
            )
            if cur.rowcount != 1:
                return False
            db.execute(
                "insert or replace into jobs (job_id, lock_key, payload, state, created_at,"
                " updated_at) values (?, ?, ?, 'queued', ?, ?)",
                (job_id, lock_key, json.dumps(payload), now, now),
            )
            if counters:
                db.executemany(_COUNT, list(counters.items()))
        return True

    def release(self, delivery_id: str, job_id: str) -> None:
        with self._tx() as db:
            db.execute("delete from deliveries where delivery_id = ?", (delivery_id,))
            db.execute("delete from jobs where job_id = ? and state = 'queued'", (job_id,))

    def get(self, job_id: str) -> JobRecord | None:
        row = (
            self._conn()
            .execute(
                "select job_id, lock_key, payload, state, attempts, lease_until, updated_at,"
                " outcome from jobs where job_id = ?",
                (job_id,),
            )
            .fetchone()
        )
        return _record(row) if row else None

    def start(self, job_id: str, *, token: str, lease_s: float) -> JobRecord | None:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "update jobs set state = 'running', token = ?, lease_until = ?, updated_at = ?"
                " where job_id = ? and (state = 'queued'"
                " or (state = 'running' and lease_until < ?))",
                (token, now + lease_s, now, job_id, now),
            )
            if cur.rowcount != 1:
                return None
        return self.get(job_id)

    def count_attempt(self, job_id: str, *, token: str) -> int:
        with self._tx() as db:
            db.execute(
                "update jobs set attempts = attempts + 1 where job_id = ? and token = ?",
                (job_id, token),
            )
            row = db.execute("select attempts from jobs where job_id = ?", (job_id,)).fetchone()
        return int(row[0]) if row else 0

    def heartbeat(self, job_id: str, *, token: str, lease_s: float) -> bool:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "update jobs set lease_until = ? where job_id = ? and token = ?"
                " and state = 'running'",
                (now + lease_s, job_id, token),
            )
        return cur.rowcount == 1

    def requeue(self, job_id: str, *, token: str) -> None:
        with self._tx() as db:
            db.execute(
                "update jobs set state = 'queued', lease_until = 0, token = null, updated_at = ?"
                " where job_id = ? and token = ? and state = 'running'",
                (time.time(), job_id, token),
            )

    def finish(self, job_id: str, *, token: str, state: str, outcome: str) -> None:
        with self._tx() as db:
            db.execute(
                "update jobs set state = ?, outcome = ?, lease_until = 0, updated_at = ?"
                " where job_id = ? and token = ?",
                (state, outcome, time.time(), job_id, token),
            )

    def stale(self, *, grace_s: float) -> list[JobRecord]:
        now = time.time()
        rows = (
            self._conn()
            .execute(
                "select job_id, lock_key, payload, state, attempts, lease_until, updated_at,"
                " outcome from jobs where (state = 'running' and lease_until < ?)"
                " or (state = 'queued' and updated_at < ?)",
                (now, now - grace_s),
            )
            .fetchall()
        )
        return [_record(row) for row in rows]

    def reclaim(self, job_id: str, *, seen_updated_at: float) -> bool:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "update jobs set state = 'queued', token = null, lease_until = 0, updated_at = ?"
                " where job_id = ? and updated_at = ? and state in ('queued', 'running')"
                " and not (state = 'running' and lease_until >= ?)",
                (now, job_id, seen_updated_at, now),
            )
        return cur.rowcount == 1

    def acquire_lock(self, name: str, *, token: str, ttl_s: float) -> bool:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "insert into locks values (?, ?, ?) on conflict (name) do update set"
                " token = excluded.token, expires_at = excluded.expires_at"
                " where locks.expires_at < ? or locks.token = excluded.token",
                (name, token, now + ttl_s, now),
            )
        return cur.rowcount == 1

    def renew_lock(self, name: str, *, token: str, ttl_s: float) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "update locks set expires_at = ? where name = ? and token = ?",
                (time.time() + ttl_s, name, token),
            )
        return cur.rowcount == 1

    def release_lock(self, name: str, *, token: str) -> None:
        with self._tx() as db:
            db.execute("delete from locks where name = ? and token = ?", (name, token))

    def remember(self, name: str, *, ttl_s: float) -> None:
        with self._tx() as db:
            db.execute("insert or replace into marks values (?, ?)", (name, time.time() + ttl_s))

    def remembers(self, name: str) -> bool:
        row = (
            self._conn()
            .execute("select 1 from marks where name = ? and expires_at > ?", (name, time.time()))
            .fetchone()
        )
        return row is not None

    def incr(self, amounts: Mapping[str, float]) -> None:
        with self._tx() as db:
            db.executemany(_COUNT, list(amounts.items()))

    def counters(self) -> dict[str, float]:
        rows = self._conn().execute("select series, value from counters").fetchall()
        return {str(series): float(value) for series, value in rows}

    def state_counts(self) -> dict[str, int]:
        rows = self._conn().execute("select state, count(*) from jobs group by state").fetchall()
        return {str(state): int(count) for state, count in rows}

    def ping(self) -> None:
        self._conn().execute("select 1 from jobs limit 1").fetchall()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def prune(self, *, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        with self._tx() as db:
            gone = db.execute("delete from deliveries where received_at < ?", (cutoff,)).rowcount
            db.execute(
                "delete from jobs where state in ('done', 'failed') and updated_at < ?", (cutoff,)
            )
            db.execute("delete from marks where expires_at < ?", (time.time(),))
        return int(gone)


def _record(row: tuple[Any, ...]) -> JobRecord:
    job_id, lock_key, payload, state, attempts, lease_until, updated_at, outcome = row
    return JobRecord(
        job_id=job_id,
        lock_key=lock_key,
        payload=json.loads(payload),
        state=state,
        attempts=int(attempts),
        lease_until=float(lease_until),
        updated_at=float(updated_at),
        outcome=outcome,
    )
