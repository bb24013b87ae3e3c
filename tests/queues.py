"""Run a job queue's own consumer inside a test, and remove what a test queue left in Redis."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from huey.consumer import Consumer

from webhook.jobs import JobQueue
from webhook.store.redis import RedisDeliveryStore

_HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def consuming(queue: JobQueue, *, workers: int = 1) -> Iterator[Consumer]:
    """Run `queue.consumer()`, the worker's own, in threads for the duration of the block.

    huey's consumer installs its signal handlers when it starts (pytest's main thread); they
    are put back afterwards so a later Ctrl-C still reaches pytest.
    """
    saved = {signum: signal.getsignal(signum) for signum in _HANDLED}
    consumer = queue.consumer(workers=workers, max_delay=0.2)
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def drop_queue(queue: JobQueue) -> None:
    """Empty huey's queue, delete the Redis keys under the store's prefix (unique per test),
    and close the queue's connections."""
    queue.huey.flush()
    if isinstance(queue.store, RedisDeliveryStore):
        drop_keys(queue.store)
    queue.close()


def drop_keys(store: RedisDeliveryStore) -> None:
    """Delete every Redis key under `store`'s prefix."""
    keys = list(store.redis.scan_iter(match=f"{store.prefix}:*"))
    if keys:
        store.redis.delete(*keys)
