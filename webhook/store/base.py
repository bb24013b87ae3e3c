"""The delivery store's contract: the `DeliveryStore` protocol and `JobRecord`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

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
        self,
        delivery_id: str,
        *,
        job_id: str,
        lock_key: str,
        payload: dict[str, Any],
        counters: Mapping[str, float] | None = None,
    ) -> bool:
        """Record a new delivery and its queued job at once; False if the delivery was seen.

        `delivery_id` is the dedupe key (a command's comment id, else the delivery id);
        `counters` are added in the same write when the claim is new.
        """

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

    def remember(self, name: str, *, ttl_s: float) -> None:
        """Note `name` for `ttl_s` seconds (a refusal already posted, say)."""

    def remembers(self, name: str) -> bool:
        """Whether `name` was noted and has not expired."""

    def incr(self, amounts: Mapping[str, float]) -> None:
        """Add to shared counters, keyed by a Prometheus series name with its labels."""

    def counters(self) -> dict[str, float]: ...

    def state_counts(self) -> dict[str, int]: ...

    def ping(self) -> None: ...

    def close(self) -> None:
        """Close this process's connections (a later call opens new ones)."""

    def prune(self, *, older_than_s: float) -> int: ...
