"""The delivery stores' housekeeping, on the real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.queues import drop_keys
from webhook.store.redis import RedisDeliveryStore


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisDeliveryStore]:
    store = RedisDeliveryStore(redis_url, prefix=f"t{uuid.uuid4().hex[:12]}:store")
    try:
        yield store
    finally:
        drop_keys(store)


def claim(store: RedisDeliveryStore, job_id: str) -> None:
    payload = {"delivery_id": job_id}
    assert store.claim(job_id, job_id=job_id, lock_key="octo/widgets#7", payload=payload)


def test_redis_prune_drops_active_ids_whose_job_record_is_gone(
    redis_store: RedisDeliveryStore,
) -> None:
    claim(redis_store, "kept-1")
    claim(redis_store, "gone-1")
    # The job's hash went away (evicted under memory pressure, or deleted by hand) while its
    # id stayed in the set of active jobs that every sweep and /metrics scrape reads.
    redis_store.redis.delete(f"{redis_store.prefix}:job:gone-1")
    active = f"{redis_store.prefix}:active"

    assert redis_store.prune(older_than_s=0) == 1
    assert redis_store.redis.smembers(active) == {"kept-1"}
    assert redis_store.prune(older_than_s=0) == 0
    record = redis_store.get("kept-1")
    assert record is not None and record.state == "queued"
    assert redis_store.state_counts() == {"queued": 1}
