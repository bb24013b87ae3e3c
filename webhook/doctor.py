"""`reviewer doctor`'s queue check: Redis answers when the App service is configured to use it."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis

from reviewer.core.checks import Check, fail, ok, skip
from reviewer.settings import Settings

TIMEOUT_S = 5.0


def redis_check(settings: Settings) -> Check:
    """PING the Redis of REVIEWER_REDIS_URL (the job queue and delivery store of many machines)."""
    url = settings.redis_url
    if not url:
        return skip("queue.redis", f"not configured: the job queue is {settings.queue_path}")
    parts = urlsplit(url)
    where = f"{parts.hostname or '?'}:{parts.port or 6379}"  # never the password
    fix = "start Redis or correct REVIEWER_REDIS_URL (redis://[:PASSWORD@]HOST:PORT/DB)"
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
    except ValueError:
        return fail("queue.redis", "REVIEWER_REDIS_URL is not a redis:// URL", fix)
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    except redis.RedisError as exc:
        return fail("queue.redis", f"Redis at {where} does not answer: {type(exc).__name__}", fix)
    finally:
        client.close()
    return ok("queue.redis", f"Redis {version} at {where} answers")
