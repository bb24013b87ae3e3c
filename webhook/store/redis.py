"""The delivery store in Redis, shared by every machine, with its Lua scripts."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import redis

from reviewer.errors import ConfigError
from webhook.store.base import DEFAULT_DELIVERY_TTL_S, JobRecord

# Each script runs atomically in Redis: the compare-and-set steps of the SQLite version.
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) == false then return 0 end
redis.call('HSET', KEYS[2], 'job_id', ARGV[1], 'lock_key', ARGV[3], 'payload', ARGV[4],
  'state', 'queued', 'attempts', 0, 'lease_until', 0, 'updated_at', ARGV[5], 'token', '')
redis.call('SADD', KEYS[3], ARGV[1])
for i = 6, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[4], ARGV[i], ARGV[i + 1]) end
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
        self,
        delivery_id: str,
        *,
        job_id: str,
        lock_key: str,
        payload: dict[str, Any],
        counters: Mapping[str, float] | None = None,
    ) -> bool:
        keys = [self._key("delivery", delivery_id), self._key("job", job_id), self._active]
        keys.append(self._key("counters"))
        args: list[str | int] = [job_id, self.ttl_s, lock_key, json.dumps(payload)]
        args.append(repr(time.time()))
        for series, amount in (counters or {}).items():
            args += [series, repr(float(amount))]
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

    def remember(self, name: str, *, ttl_s: float) -> None:
        self.redis.set(self._key("mark", name), "1", px=max(int(ttl_s * 1000), 1))

    def remembers(self, name: str) -> bool:
        return bool(self.redis.exists(self._key("mark", name)))

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

    def close(self) -> None:
        self.redis.close()
        self.redis.connection_pool.disconnect()

    def prune(self, *, older_than_s: float) -> int:
        # Deliveries and finished jobs expire by themselves (TTL); drop dangling set members.
        gone = 0
        for job_id in _members(self.redis.smembers(self._active)):
            if not self.redis.exists(self._key("job", job_id)):
                gone += int(self.redis.srem(self._active, job_id))
        return gone


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
