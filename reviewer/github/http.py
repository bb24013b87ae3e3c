"""Read GitHub's refusals: how long a rate limit asks to wait, errors for users (no PyGithub)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import requests.utils

from reviewer.errors import GitHubError

SECONDARY_RATE_WAIT_S: Final = 60.0
MAX_RATE_LIMIT_WAIT_S: Final = 600.0
RATE_LIMIT_RETRIES: Final = 3


class Refusal(Protocol):
    """A refused REST call, as PyGithub's `GithubException` describes it."""

    @property
    def status(self) -> int: ...

    @property
    def data(self) -> Any: ...

    @property
    def headers(self) -> dict[str, str] | None: ...

    @property
    def message(self) -> str | None: ...


def rate_limit_wait(
    exc: Refusal, clock: Callable[[], float], is_rate_limit_message: Callable[[str], bool]
) -> float | None:
    """Seconds to wait before retrying, or None when `exc` is not a rate limit."""
    if exc.status not in (403, 429):
        return None
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    retry_after = str(headers.get("retry-after", "")).strip()
    if retry_after.isdigit():
        return max(1.0, float(retry_after))
    reset = str(headers.get("x-ratelimit-reset", "")).strip()
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(1.0, float(reset) - clock() + 1)
    message = error_message(exc).lower()
    if exc.status == 429 or is_rate_limit_message(message) or "rate limit" in message:
        return SECONDARY_RATE_WAIT_S
    return None


def url_path(url: str) -> str:
    """The path of `url`, without host or query (safe to show)."""
    return urlsplit(url).path


def error_message(exc: Refusal) -> str:
    """GitHub's message with the details of its `errors` list."""
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or exc.message or "")
    errors = data.get("errors") or []
    details = [e if isinstance(e, str) else str(e.get("message") or e) for e in errors]
    return "; ".join([message, *details]) if details else message


def wrap(exc: Refusal, verb: str, url: str) -> GitHubError:
    """A GitHubError for users: status, GitHub's message, never a header or a token."""
    status = exc.status
    message = error_message(exc) or "no message"
    rate_limited = status in (403, 429) and "rate limit" in message.lower()
    return GitHubError(
        f"GitHub {verb} {url_path(url)} failed: {status} {message}",
        status_code=status,
        retryable=status >= 500 or rate_limited,
    )


def next_link(value: str | None) -> str | None:
    """The `rel="next"` URL of a `Link` header, or None on the last page."""
    if not value:
        return None
    for link in requests.utils.parse_header_links(value):
        if link.get("rel") == "next":
            return link.get("url")
    return None
