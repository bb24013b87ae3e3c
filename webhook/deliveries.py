"""Durable delivery dedupe, in-flight job records, per-PR leases and shared counters."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis

from reviewer.errors import ConfigError
from reviewer.settings import Settings, ensure_parent

DEFAULT_DELIVERY_TTL_S = 7 * 24 * 3600
# A job is queued (waiting in huey), running (a worker holds its lease) or finished.
ACTIVE_STATES = ("queued", "running")
FINISHED_STATES = ("done", "failed")


@dataclass(frozen=True)
class JobRecord:
    """What the store knows about one job: its payload and where it is in its life."""

    job_id: str
    lock_key: str
    payload: dict[str, Any]
    state: str
    attempts: int
    lease_until: float
    updated_at: float
    outcome: str | None = None


class DeliveryStore(Protocol):
    """The durable state shared by the web workers and the queue workers."""

    def claim(
        self, delivery_id: str, *, job_id: str, lock_key: str, payload: dict[str, Any]
    ) -> bool:
        """Record a new delivery and its queued job at once; False if the delivery was seen."""

    def release(self, delivery_id: str, job_id: str) -> None:
        """Forget a claim whose job could not be enqueued, so a redelivery is accepted."""

    def get(self, job_id: str) -> JobRecord | None: ...

    def start(self, job_id: str, *, token: str, lease_s: float) -> JobRecord | None:
        """Take a queued job (or one whose lease expired); None if done or held by a live worker."""

    def count_attempt(self, job_id: str, *, token: str) -> int: ...

    def heartbeat(self, job_id: str, *, token: str, lease_s: float) -> bool: ...

    def requeue(self, job_id: str, *, token: str) -> None:
        """Put a job its holder gives up (retry later) back to queued."""

    def finish(self, job_id: str, *, token: str, state: str, outcome: str) -> None: ...

    def stale(self, *, grace_s: float) -> list[JobRecord]:
        """Jobs that may have been lost: running with an expired lease, or queued for long."""

    def reclaim(self, job_id: str, *, seen_updated_at: float) -> bool:
        """Mark a stale job queued again; False if someone else touched it first."""

    def acquire_lock(self, name: str, *, token: str, ttl_s: float) -> bool: ...

    def renew_lock(self, name: str, *, token: str, ttl_s: float) -> bool: ...

    def release_lock(self, name: str, *, token: str) -> None: ...

    def incr(self, amounts: Mapping[str, float]) -> None:
        """Add to shared counters, keyed by a Prometheus series name with its labels."""

    def counters(self) -> dict[str, float]: ...

    def state_counts(self) -> dict[str, int]: ...

    def ping(self) -> None: ...

    def prune(self, *, older_than_s: float) -> int: ...


def open_store(settings: Settings, *, name: str = "reviewer") -> DeliveryStore:
    """Redis when `settings.redis_url` is set, else a SQLite file under `settings.data_dir`."""
    ttl = settings.delivery_ttl_s
    if settings.redis_url:
        return RedisDeliveryStore(settings.redis_url, prefix=f"reviewer:{name}", ttl_s=ttl)
    return SqliteDeliveryStore(settings.data_dir / f"{name}-deliveries.sqlite3")


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
        self, delivery_id: str, *, job_id: str, lock_key: str, payload: dict[str, Any]
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

    def incr(self, amounts: Mapping[str, float]) -> None:
        with self._tx() as db:
            db.executemany(
                "insert into counters values (?, ?) on conflict (series) do update set"
                " value = value + excluded.value",
                list(amounts.items()),
            )

    def counters(self) -> dict[str, float]:
        rows = self._conn().execute("select series, value from counters").fetchall()
        return {str(series): float(value) for series, value in rows}

    def state_counts(self) -> dict[str, int]:
        rows = self._conn().execute("select state, count(*) from jobs group by state").fetchall()
        return {str(state): int(count) for state, count in rows}

    def ping(self) -> None:
        self._conn().execute("select 1 from jobs limit 1").fetchall()

    def prune(self, *, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        with self._tx() as db:
            gone = db.execute("delete from deliveries where received_at < ?", (cutoff,)).rowcount
            db.execute(
                "delete from jobs where state in ('done', 'failed') and updated_at < ?", (cutoff,)
            )
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


# Each script runs atomically in Redis: the compare-and-set steps of the SQLite version.
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) == false then return 0 end
redis.call('HSET', KEYS[2], 'job_id', ARGV[1], 'lock_key', ARGV[3], 'payload', ARGV[4],
  'state', 'queued', 'attempts', 0, 'lease_until', 0, 'updated_at', ARGV[5], 'token', '')
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""
_START = """
local state = redis.call('HGET', KEYS[1], 'state')
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease_until') or '0')
local now = tonumber(ARGV[1])
if state == 'queued' or (state == 'running' and lease < now) then
  redis.call('HSET', KEYS[1], 'state', 'running', 'token', ARGV[2], 'lease_until', ARGV[3],
    'updated_at', ARGV[1])
  return 1
end
return 0
"""
_IF_HOLDER = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
if ARGV[2] == 'attempt' then return redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
if ARGV[2] == 'heartbeat' then
  if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
  redis.call('HSET', KEYS[1], 'lease_until', ARGV[3])
elseif ARGV[2] == 'requeue' then
  if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
  redis.call('HSET', KEYS[1], 'state', 'queued', 'lease_until', 0, 'token', '',
    'updated_at', ARGV[3])
elseif ARGV[2] == 'finish' then
  redis.call('HSET', KEYS[1], 'state', ARGV[4], 'outcome', ARGV[5], 'lease_until', 0,
    'updated_at', ARGV[3])
  redis.call('SREM', KEYS[2], redis.call('HGET', KEYS[1], 'job_id'))
  redis.call('EXPIRE', KEYS[1], ARGV[6])
end
return 1
"""
_RECLAIM = """
local updated = redis.call('HGET', KEYS[1], 'updated_at')
local state = redis.call('HGET', KEYS[1], 'state')
if updated ~= ARGV[1] then return 0 end
if state == 'running' and tonumber(redis.call('HGET', KEYS[1], 'lease_until')) >= tonumber(ARGV[2])
  then return 0 end
if state ~= 'queued' and state ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'queued', 'token', '', 'lease_until', 0,
  'updated_at', ARGV[2])
return 1
"""
_LOCK_IF_OWNER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'release' then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[3])
"""


class RedisDeliveryStore:
    """The store in Redis, shared by every machine: SET NX with a TTL dedupes deliveries."""

    def __init__(self, url: str, *, prefix: str, ttl_s: int = DEFAULT_DELIVERY_TTL_S) -> None:
        try:
            self.redis = redis.Redis.from_url(url, decode_responses=True)
        except ValueError as exc:
            raise ConfigError(
                "REVIEWER_REDIS_URL is not a redis:// URL", key="REVIEWER_REDIS_URL"
            ) from exc
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._claim = self.redis.register_script(_CLAIM)
        self._start = self.redis.register_script(_START)
        self._if_token = self.redis.register_script(_IF_HOLDER)
        self._reclaim = self.redis.register_script(_RECLAIM)
        self._lock = self.redis.register_script(_LOCK_IF_OWNER)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    @property
    def _active(self) -> str:
        return self._key("active")

    def claim(
        self, delivery_id: str, *, job_id: str, lock_key: str, payload: dict[str, Any]
    ) -> bool:
        keys = [self._key("delivery", delivery_id), self._key("job", job_id), self._active]
        args: list[str | int] = [job_id, self.ttl_s, lock_key, json.dumps(payload)]
        args.append(repr(time.time()))
        return bool(self._claim(keys=keys, args=args))

    def release(self, delivery_id: str, job_id: str) -> None:
        pipe = self.redis.pipeline()
        pipe.delete(self._key("delivery", delivery_id), self._key("job", job_id))
        pipe.srem(self._active, job_id)
        pipe.execute()

    def get(self, job_id: str) -> JobRecord | None:
        data = _strs(self.redis.hgetall(self._key("job", job_id)))
        return _redis_record(data) if data else None

    def start(self, job_id: str, *, token: str, lease_s: float) -> JobRecord | None:
        now = time.time()
        args = [repr(now), token, repr(now + lease_s)]
        if not self._start(keys=[self._key("job", job_id)], args=args):
            return None
        return self.get(job_id)

    def _token_op(self, job_id: str, token: str, op: str, *extra: Any) -> int:
        keys = [self._key("job", job_id), self._active]
        return int(self._if_token(keys=keys, args=[token, op, repr(time.time()), *extra]))

    def count_attempt(self, job_id: str, *, token: str) -> int:
        return self._token_op(job_id, token, "attempt")

    def heartbeat(self, job_id: str, *, token: str, lease_s: float) -> bool:
        keys = [self._key("job", job_id), self._active]
        until = repr(time.time() + lease_s)
        return bool(self._if_token(keys=keys, args=[token, "heartbeat", until]))

    def requeue(self, job_id: str, *, token: str) -> None:
        self._token_op(job_id, token, "requeue")

    def finish(self, job_id: str, *, token: str, state: str, outcome: str) -> None:
        self._token_op(job_id, token, "finish", state, outcome, self.ttl_s)

    def stale(self, *, grace_s: float) -> list[JobRecord]:
        now = time.time()
        ids = _members(self.redis.smembers(self._active))
        pipe = self.redis.pipeline()
        for job_id in ids:
            pipe.hgetall(self._key("job", job_id))
        found = []
        for data in pipe.execute():
            if not data:
                continue
            record = _redis_record(_strs(data))
            expired = record.state == "running" and record.lease_until < now
            if expired or (record.state == "queued" and record.updated_at < now - grace_s):
                found.append(record)
        return found

    def reclaim(self, job_id: str, *, seen_updated_at: float) -> bool:
        keys = [self._key("job", job_id)]
        return bool(self._reclaim(keys=keys, args=[repr(seen_updated_at), repr(time.time())]))

    def acquire_lock(self, name: str, *, token: str, ttl_s: float) -> bool:
        key = self._key("lock", name)
        if self.redis.set(key, token, nx=True, px=int(ttl_s * 1000)):
            return True
        # The same job taking its own lock back after a restart is not a conflict.
        return bool(self._lock(keys=[key], args=[token, "renew", int(ttl_s * 1000)]))

    def renew_lock(self, name: str, *, token: str, ttl_s: float) -> bool:
        key = self._key("lock", name)
        return bool(self._lock(keys=[key], args=[token, "renew", int(ttl_s * 1000)]))

    def release_lock(self, name: str, *, token: str) -> None:
        self._lock(keys=[self._key("lock", name)], args=[token, "release", 0])

    def incr(self, amounts: Mapping[str, float]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for series, amount in amounts.items():
            pipe.hincrbyfloat(self._key("counters"), series, amount)
        pipe.execute()

    def counters(self) -> dict[str, float]:
        raw = _strs(self.redis.hgetall(self._key("counters")))
        return {series: float(value) for series, value in raw.items()}

    def state_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self._active_records():
            counts[record.state] = counts.get(record.state, 0) + 1
        return counts

    def _active_records(self) -> list[JobRecord]:
        ids = _members(self.redis.smembers(self._active))
        pipe = self.redis.pipeline()
        for job_id in ids:
            pipe.hgetall(self._key("job", job_id))
        return [_redis_record(_strs(data)) for data in pipe.execute() if data]

    def ping(self) -> None:
        self.redis.ping()

    def prune(self, *, older_than_s: float) -> int:
        # Deliveries and finished jobs expire by themselves (TTL); drop dangling set members.
        gone = 0
        for job_id in _members(self.redis.smembers(self._active)):
            if not self.redis.exists(self._key("job", job_id)):
                gone += int(self.redis.srem(self._active, job_id))
        return gone

    def delete_all(self) -> None:
        """Remove every key under this store's prefix (tests and `reviewer worker --reset`)."""
        keys = list(self.redis.scan_iter(match=f"{self.prefix}:*"))
        if keys:
            self.redis.delete(*keys)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _strs(data: Mapping[Any, Any]) -> dict[str, str]:
    """A Redis hash as text (the client decodes already; this satisfies both typings)."""
    return {_text(key): _text(value) for key, value in data.items()}


def _members(values: Any) -> list[str]:
    return sorted(_text(value) for value in values)


def _redis_record(data: Mapping[str, str]) -> JobRecord:
    return JobRecord(
        job_id=data["job_id"],
        lock_key=data["lock_key"],
        payload=json.loads(data["payload"]),
        state=data["state"],
        attempts=int(data.get("attempts") or 0),
        lease_until=float(data.get("lease_until") or 0),
        updated_at=float(data.get("updated_at") or 0),
        outcome=data.get("outcome") or None,
    )
