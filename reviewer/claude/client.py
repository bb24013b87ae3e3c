"""Ask Claude for each chunk's findings; the only module that imports anthropic."""

from __future__ import annotations

import email.utils
import itertools
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import anthropic
from anthropic.types import Message, MessageParam, TextBlockParam, Usage

from reviewer.claude.realtime import ChunkOrchestrator
from reviewer.core.findings import InvalidOutputError, findings_json_schema, parse_findings
from reviewer.core.models import model_spec
from reviewer.core.policy import Reply
from reviewer.core.text import one_line
from reviewer.errors import ClaudeError, ConfigError
from reviewer.settings import Settings
from reviewer.spend.usage import CallRecord

log = logging.getLogger(__name__)
# The SDK client, by a name the rest of the code can use without importing anthropic.
ClaudeClient = anthropic.Anthropic
DEFAULT_BASE_URL = "https://api.anthropic.com"
MESSAGE_CHARS = 300  # an API error told to a user is folded to one line of at most this
# The GA MessageCreateParams of SDK 2.14 has no `fallbacks`; only the beta messages API does.
# It is sent as an extra body field with its beta header, so the answer stays a GA Message.
SERVER_FALLBACK_BETA = "server-side-fallback-2026-07-01"

# CallRecord.outcome of an attempt that got an answer, by stop_reason.
_OUTCOMES = {
    "end_turn": "ok",
    "max_tokens": "truncated",
    "refusal": "refused",
    "model_context_window_exceeded": "context_exceeded",
}


def make_client(settings: Settings) -> anthropic.Anthropic:
    """Build the SDK client from `settings` alone (never from ANTHROPIC_* or a profile).

    A missing API key raises ConfigError at the first call, not here, so a dry run needs none.
    """
    return anthropic.Anthropic(
        # An empty key, never None: None would make the SDK look for credentials itself.
        api_key=settings.anthropic_api_key or "",
        base_url=settings.anthropic_base_url or DEFAULT_BASE_URL,
        max_retries=settings.max_retries,
        # An explicit timeout also turns off the SDK's refusal of a non-streaming request whose
        # max_tokens could outlast its default timeout.
        timeout=settings.request_timeout_s,
        middleware=[
            _CallGuard(
                has_key=bool(settings.anthropic_api_key),
                max_retry_after_s=settings.max_retry_after_s,
                max_retries=settings.max_retries,
            )
        ],
    )


class _CallGuard(anthropic.Middleware):
    """Refuse calls without a key; fail fast when a retry-after would stall the review."""

    def __init__(self, *, has_key: bool, max_retry_after_s: float, max_retries: int) -> None:
        self._has_key = has_key
        self._cap = max_retry_after_s
        self._max_retries = max_retries

    def handle(
        self, request: anthropic.APIRequest, call_next: anthropic.CallNext
    ) -> anthropic.APIResponse[Any]:
        if not self._has_key:
            raise ConfigError(
                "ANTHROPIC_API_KEY is not set (or REVIEWER_ANTHROPIC_API_KEY): "
                "reviewing needs an Anthropic API key",
                key="anthropic_api_key",
            )
        response = call_next(request)
        max_retries = request.max_retries
        if not isinstance(max_retries, int):
            max_retries = self._max_retries
        if request.retries_taken >= max_retries or not _sdk_would_retry(response):
            return response
        wait = _retry_after_s(response.headers)
        if wait is None or wait <= self._cap:
            return response
        status = response.status_code
        response.http_response.close()
        # Not an anthropic error, so the SDK's retry loop lets it through instead of sleeping.
        raise ClaudeError(
            f"HTTP {status}: the API asked to wait {wait:.0f}s before retrying, "
            f"more than the {self._cap:.0f}s allowed",
            status_code=status,
            retryable=True,
        )


def _sdk_would_retry(response: anthropic.APIResponse[Any]) -> bool:
    """Mirror the SDK's choice of which error responses it retries."""
    hint = response.headers.get("x-should-retry")
    if hint in ("true", "false"):
        return hint == "true"
    return response.status_code in (408, 409, 429) or response.status_code >= 500


def _retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait, read the way the SDK reads them."""
    try:
        return float(headers["retry-after-ms"]) / 1000
    except (KeyError, ValueError):
        pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(raw)
    return None if parsed is None else email.utils.mktime_tz(parsed) - time.time()


class _AttemptRecorder(anthropic.Middleware):
    """Turn every HTTP attempt of one call into one CallRecord, retried ones included.

    It runs inside the SDK's retry loop, innermost, so it sees each response before the SDK
    decides to retry; records are only collected into `records` here, and the caller hands
    them to the sink once the call is over, which is the single place usage is counted.
    """

    def __init__(
        self,
        *,
        model: str,
        chunk_index: int,
        attempts: Iterator[int],
        records: list[CallRecord],
        fallback: str | None = None,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
    ) -> None:
        self.model = model
        self.chunk_index = chunk_index
        self.attempts = attempts
        self.records = records
        # With server-side fallbacks the answer may come from the fallback model, named in
        # the reply's `model`: that attempt is priced at the fallback's rates (a model the
        # start-up check found in the price table, whatever dated id the reply spells).
        self.fallback = fallback
        self.on_headers = on_headers  # sees every response's headers (rate-limit headroom)

    def handle(
        self, request: anthropic.APIRequest, call_next: anthropic.CallNext
    ) -> anthropic.APIResponse[Any]:
        attempt = next(self.attempts)
        try:
            response = call_next(request)
        except Exception as exc:
            self.records.append(self._record(attempt, "error", error=_describe(exc)))
            raise
        self.records.append(self._from_response(attempt, response))
        if self.on_headers is not None:
            self.on_headers(response.headers)
        return response

    def _record(self, attempt: int, outcome: str, **values: Any) -> CallRecord:
        values.setdefault("model", self.model)
        return CallRecord(chunk_index=self.chunk_index, attempt=attempt, outcome=outcome, **values)

    def _from_response(self, attempt: int, response: anthropic.APIResponse[Any]) -> CallRecord:
        common: dict[str, Any] = {
            "request_id": response.request_id,
            "status_code": response.status_code,
        }
        if not response.http_response.is_success:
            return self._record(attempt, "error", error=_error_body(response), **common)
        try:
            # parse() caches: the SDK hands the caller this same object afterwards.
            message = response.parse()
        except Exception as exc:
            return self._record(attempt, "error", error=_describe(exc), **common)
        if not isinstance(message, Message):
            return self._record(attempt, "error", error="unexpected response type", **common)
        served = message.model or self.model
        if self.fallback and served != self.model and not served.startswith(self.model + "-"):
            common["model"] = self.fallback
        return self._record(
            attempt,
            outcome_of(message.stop_reason),
            stop_reason=message.stop_reason,
            **token_counts(message.usage),
            service_tier=message.usage.service_tier,
            **common,
        )


def recording(
    client: anthropic.Anthropic, *, model: str, records: list[CallRecord], chunk_index: int = 0
) -> anthropic.Anthropic:
    """`client` with one more middleware: every HTTP attempt becomes a CallRecord in `records`."""
    recorder = _AttemptRecorder(
        model=model, chunk_index=chunk_index, attempts=itertools.count(1), records=records
    )
    return client.with_options(middleware=[*client.middleware, recorder])


def describe_error(exc: BaseException) -> str:
    """One line about a failed call, for a user; no request content, no secrets."""
    return _describe(exc)


def _error_body(response: anthropic.APIResponse[Any]) -> str:
    try:
        body = response.json()
    except Exception:
        return f"HTTP {response.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return one_line(
            f"HTTP {response.status_code} {error.get('type')}: {error.get('message')}",
            MESSAGE_CHARS,
        )
    return f"HTTP {response.status_code}"


def _describe(exc: BaseException) -> str:
    """One line about a failed call, for a user; no request content, no secrets."""
    if isinstance(exc, anthropic.APIStatusError):
        kind = exc.type or type(exc).__name__
        return one_line(
            f"HTTP {exc.status_code} {kind}: {exc.api_message or exc.message}", MESSAGE_CHARS
        )
    if isinstance(exc, anthropic.APITimeoutError):
        return "the request timed out"
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__
        return one_line(f"connection error: {cause or exc.message}", MESSAGE_CHARS)
    if isinstance(exc, ClaudeError):
        return exc.message
    return one_line(f"{type(exc).__name__}: {exc}", MESSAGE_CHARS)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    if isinstance(exc, ClaudeError):
        return exc.retryable
    return isinstance(exc, anthropic.APIConnectionError)


def _prompt_too_long(exc: anthropic.APIStatusError) -> bool:
    """A 400 "prompt is too long", or a 413 body too large: a smaller chunk may pass."""
    if exc.status_code == 413:
        return True
    text = (exc.api_message or str(exc)).lower()
    return exc.status_code == 400 and ("too long" in text or "context window" in text)


class ChunkReviewer(ChunkOrchestrator):
    """Review chunks with Claude: chunk_review's policy, each call sent through the SDK."""

    def __init__(
        self,
        client: anthropic.Anthropic,
        *,
        model: str,
        max_output_tokens: int = 4096,
        concurrency: int = 4,
        max_concurrency: int | None = None,
        fallback_model: str | None = None,
        count_tokens: bool = False,
        effort: str | None = None,
    ) -> None:
        self._client = client
        self._effort = effort
        # A model that takes server-side fallbacks gets the fallback model in its request,
        # and the API retries a refusal itself; others fall back here, with a second call.
        server = fallback_model is not None and fallback_model != model
        self._server_fallback = (
            fallback_model if server and model_spec(model).server_fallbacks else None
        )
        super().__init__(
            self._send_via_sdk,
            model=model,
            max_output_tokens=max_output_tokens,
            concurrency=concurrency,
            max_concurrency=max_concurrency,
            fallback_model=None if self._server_fallback else fallback_model,
            count=self._count_via_sdk if count_tokens else None,
        )

    def _count_via_sdk(
        self, *, model: str, system: list[dict[str, Any]], messages: list[dict[str, Any]]
    ) -> int | None:
        """Exact input tokens from `messages.count_tokens` (free, not billed: no ledger row)."""
        try:
            counted = self._client.messages.count_tokens(
                model=model,
                system=cast("list[TextBlockParam]", system),
                messages=cast("list[MessageParam]", messages),
                output_config={"format": {"type": "json_schema", "schema": findings_json_schema()}},
            )
        except (anthropic.APIError, ClaudeError) as exc:
            log.info("count_tokens failed, using the estimate: %s", self._redact(_describe(exc)))
            return None
        return counted.input_tokens

    def _send_via_sdk(
        self,
        *,
        model: str,
        max_tokens: int,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        chunk_index: int,
        attempts: Iterator[int],
        records: list[CallRecord],
    ) -> Reply:
        spec = model_spec(model)
        fallback = self._server_fallback if model == self.model else None
        recorder = _AttemptRecorder(
            model=model,
            chunk_index=chunk_index,
            attempts=attempts,
            records=records,
            fallback=fallback,
            on_headers=self.rate_limits.observe,
        )
        client = self._client.with_options(middleware=[*self._client.middleware, recorder])
        options = spec.request_options(effort=self._effort)
        output_config: dict[str, Any] = {
            "format": {"type": "json_schema", "schema": findings_json_schema()},
            **options.pop("output_config", {}),
        }
        extra: dict[str, Any] = {}
        if fallback is not None:
            extra["extra_body"] = {"fallbacks": [{"model": fallback}]}
            extra["extra_headers"] = {"anthropic-beta": SERVER_FALLBACK_BETA}
        try:
            # No temperature and no tool_choice, for any model (see ModelSpec.request_options).
            message = client.messages.create(
                model=model,
                max_tokens=min(max_tokens, spec.max_output_tokens),
                system=cast("list[TextBlockParam]", system),
                messages=cast("list[MessageParam]", messages),
                output_config=cast("Any", output_config),
                **options,
                **extra,
            )
        except (anthropic.APIError, ClaudeError) as exc:
            # APIError: what the SDK raises after its retries, or for an answer it cannot read.
            return Reply(
                error=self._redact(_describe(exc)),
                transient=_is_transient(exc),
                too_long=isinstance(exc, anthropic.APIStatusError) and _prompt_too_long(exc),
            )
        return reply_of(message)

    def _redact(self, text: str) -> str:
        key = self._client.api_key
        return text.replace(key, "[redacted]") if key else text


def reply_of(message: Message) -> Reply:
    """Classify an answer for the stop_reason policy (findings parsed on `end_turn`)."""
    reply = Reply(stop_reason=message.stop_reason)
    if message.stop_reason == "refusal":
        reply.refusal = _refusal_text(message)
        reply.refusal_category = message.stop_details.category if message.stop_details else None
    elif message.stop_reason == "end_turn":
        text = "".join(b.text for b in message.content if b.type == "text")
        try:
            reply.findings, reply.dropped = parse_findings(text)
        except InvalidOutputError as exc:
            reply.error = f"invalid output: {exc}"
            reply.invalid_output = True
    return reply


def token_counts(usage: Usage) -> dict[str, Any]:
    """An answer's token counts as `CallRecord` fields (the cache writes by TTL when told)."""
    split = usage.cache_creation
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens or 0,
        "cache_read_input_tokens": usage.cache_read_input_tokens or 0,
        "cache_write_5m_tokens": split.ephemeral_5m_input_tokens if split else None,
        "cache_write_1h_tokens": split.ephemeral_1h_input_tokens if split else None,
    }


def outcome_of(stop_reason: str | None) -> str:
    """The CallRecord outcome of an answer that stopped for `stop_reason`."""
    return _OUTCOMES.get(stop_reason or "", "unexpected_stop")


def _refusal_text(message: Message) -> str:
    details = message.stop_details
    parts = [p for p in (details and details.category, details and details.explanation) if p]
    return ": ".join(parts) if parts else "the model declined to review this chunk"
