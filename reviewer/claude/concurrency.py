"""How many calls of one review go to Claude at once: adapted to the account's rate limits.

Every Messages API response carries `anthropic-ratelimit-requests-remaining` and
`anthropic-ratelimit-input-tokens-remaining` (what is left of the account's per-minute
limits). A review starts with `start` calls in flight (REVIEWER_CONCURRENCY); once a response
has said what is left, it keeps at most as many in flight as the remaining requests allow,
and as many of its calls as the remaining input tokens hold, up to `cap`
(REVIEWER_MAX_CONCURRENCY). Without those headers (a proxy that strips them) it stays at
`start`. The SDK's own retries still handle a 429 if the account is shared and runs dry.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

REQUESTS_REMAINING = "anthropic-ratelimit-requests-remaining"
INPUT_TOKENS_REMAINING = "anthropic-ratelimit-input-tokens-remaining"


@dataclass(frozen=True)
class Headroom:
    """What the last response said is left of the per-minute limits (None: not said)."""

    requests: int | None = None
    input_tokens: int | None = None


def read_headroom(headers: Mapping[str, str]) -> Headroom | None:
    """The rate-limit headroom in a response's headers, or None when it states none."""
    requests = _count(headers.get(REQUESTS_REMAINING))
    tokens = _count(headers.get(INPUT_TOKENS_REMAINING))
    if requests is None and tokens is None:
        return None
    return Headroom(requests, tokens)


def _count(raw: str | None) -> int | None:
    try:
        return max(0, int(raw)) if raw is not None else None
    except ValueError:
        return None


def allowed_in_flight(
    headroom: Headroom | None, *, start: int, cap: int, tokens_per_call: int
) -> int:
    """How many calls may be in flight: `start` until the API states its headroom, then
    what the remaining requests and input tokens allow, at most `cap`, at least one."""
    if headroom is None:
        return max(1, min(start, cap))
    allowed = cap
    if headroom.requests is not None:
        allowed = min(allowed, headroom.requests)
    if headroom.input_tokens is not None and tokens_per_call > 0:
        allowed = min(allowed, headroom.input_tokens // tokens_per_call)
    return max(1, allowed)


def warm_up_first(
    *, chunks: int, start: int, prefix_tokens: int, min_cacheable_tokens: int
) -> bool:
    """Whether the first call should go alone, to write the prompt cache the others read.

    Only when the shared prefix is long enough for the model to cache it at all, and when
    more calls are needed than go out before the first answer (`start`): otherwise the
    warm-up would add a call's latency and save nothing. The first answer also brings the
    rate-limit headers that set how many calls go next.
    """
    return chunks > start and prefix_tokens >= min_cacheable_tokens


class RateLimits:
    """The latest headroom seen on any response of one review; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._headroom: Headroom | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        """Remember the headroom a response states (called for every HTTP response)."""
        headroom = read_headroom(headers)
        if headroom is not None:
            with self._lock:
                self._headroom = headroom

    def headroom(self) -> Headroom | None:
        with self._lock:
            return self._headroom
