"""Where deliveries, jobs and locks are kept: SQLite by default, Redis for many machines."""

from __future__ import annotations

from reviewer.settings import Settings
from webhook.store.base import DeliveryStore


def open_store(settings: Settings, *, name: str = "reviewer") -> DeliveryStore:
    """Redis when `settings.redis_url` is set, else a SQLite file under `settings.data_dir`."""
    ttl = settings.delivery_ttl_s
    if settings.redis_url:
        from webhook.store.redis import RedisDeliveryStore

        return RedisDeliveryStore(settings.redis_url, prefix=f"reviewer:{name}", ttl_s=ttl)
    from webhook.store.sqlite import SqliteDeliveryStore

    return SqliteDeliveryStore(settings.data_dir / f"{name}-deliveries.sqlite3")
