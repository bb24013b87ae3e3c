"""A fake Anthropic Messages API on loopback, for the real SDK to talk to through `base_url`.

    def test_ok(fake_claude: FakeMessages) -> None:
        fake_claude.enqueue_error(529)                      # the SDK retries it...
        fake_claude.enqueue_findings([{"path": "a.py", ...}], usage={"input_tokens": 900})
        client = make_client(fake_settings(fake_claude))    # ...and gets this answer
        ...
        assert fake_claude.requests[0]["output_config"]["format"]["type"] == "json_schema"
        assert fake_claude.usage_totals()["input_tokens"] == 900

`GET /v1/models` and `/v1/models/{id}` list `fake.models` (see `model_info`); set
`fake.api_keys` to make every endpoint answer 401 to any other key.

Answers come from `responder(request_json)` when it returns one, else from the queue, else
from `default` (an empty findings list unless changed; `None` makes an unscripted request a
500 that names itself). Every request body is kept in `requests`, every answer in `served`.

Message Batches (`/v1/messages/batches`: create, retrieve, list, cancel, results) answer
`in_progress` for the first `batch_polls` retrieves of a batch, then `ended` with a
`results_url`; results come back as JSONL in an order unlike the requests'. Each request's
outcome comes from `batch_outcomes[custom_id]` ("succeeded", "errored", "expired",
"canceled", or an Answer), else it succeeds with the answer a real-time request with the
same params would get (responder, queue, default), billed at the batch tier. A canceled
batch's requests end canceled, except those `batch_done_before_cancel(custom_id)` says
finished first. Batches are kept in `batches`, what their results billed in `batch_served`.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from reviewer.settings import Settings

FAKE_API_KEY = "sk-ant-test-fake"
# In a scripted body, this text is replaced by the API key the request sent, as a careless
# proxy or server might echo it in an error: what the client shows a user must redact it.
ECHO_KEY = "{x-api-key}"
DEFAULT_MODEL = "claude-sonnet-4-6"
# The models `GET /v1/models` lists unless a test changes `FakeMessages.models`.
FAKE_MODELS = ("claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5")
# The SDK reads retry-after-ms before retry-after; a zero wait would fall back to its own
# exponential backoff (0.5 s and up), so scripted errors ask for 1 ms instead.
FAST_RETRY_HEADERS: Mapping[str, str] = {"retry-after-ms": "1", "retry-after": "0"}

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


@dataclass(frozen=True)
class Answer:
    """One scripted reply: a JSON body with a status, or a dropped connection."""

    status: int = 200
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False

    @property
    def usage(self) -> Mapping[str, Any]:
        """The usage this answer bills (empty for errors and drops)."""
        if self.status != 200 or self.body is None:
            return {}
        usage = self.body.get("usage")
        return usage if isinstance(usage, Mapping) else {}


def make_usage(
    input_tokens: int = 1200,
    output_tokens: int = 150,
    cache_creation_input_tokens: int = 0,
    cache_read_input_tokens: int = 0,
    *,
    ephemeral_1h_input_tokens: int = 0,
    service_tier: str = "standard",
) -> dict[str, Any]:
    """A realistic `usage` object; cache writes are 5-minute ones unless said otherwise."""
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_creation_input_tokens,
        "cache_read_input_tokens": cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_creation_input_tokens - ephemeral_1h_input_tokens,
            "ephemeral_1h_input_tokens": ephemeral_1h_input_tokens,
        },
        "service_tier": service_tier,
    }


def message_answer(
    text: str,
    *,
    stop_reason: str = "end_turn",
    usage: Mapping[str, Any] | None = None,
    stop_details: Mapping[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
) -> Answer:
    """A 200 with a Message whose one text block is `text`; `usage` keys override defaults."""
    body = {
        "id": "msg_fake",  # numbered when served
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "stop_details": dict(stop_details) if stop_details is not None else None,
        "usage": make_usage(**(usage or {})),
    }
    return Answer(200, body)


def findings_answer(
    findings: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    usage: Mapping[str, Any] | None = None,
) -> Answer:
    """A 200 whose text is the structured-output JSON `{"findings": [...]}`."""
    text = json.dumps({"findings": findings})
    return message_answer(text, stop_reason=stop_reason, usage=usage)


def refusal_answer(
    category: str | None = "cyber",
    explanation: str | None = "This looks like exploit development.",
    *,
    usage: Mapping[str, Any] | None = None,
) -> Answer:
    """A 200 that stopped with `refusal`, with `stop_details` as the API sends them."""
    details = {"type": "refusal", "category": category, "explanation": explanation}
    return message_answer("", stop_reason="refusal", usage=usage, stop_details=details)


def error_answer(
    status: int,
    body: Mapping[str, Any] | None = None,
    *,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """An API error (`{"type": "error", "error": {...}}`), fast-retry headers by default."""
    if body is None:
        kind = _ERROR_TYPES.get(status, "api_error")
        error = {"type": kind, "message": message or kind.replace("_", " ")}
        body = {"type": "error", "error": error}
    return Answer(status, body, dict(FAST_RETRY_HEADERS if headers is None else headers))


def ratelimit_headers(
    *, requests: int | None = None, input_tokens: int | None = None
) -> dict[str, str]:
    """The `anthropic-ratelimit-*-remaining` headers the API sends with every response."""
    headers = {}
    if requests is not None:
        headers["anthropic-ratelimit-requests-remaining"] = str(requests)
    if input_tokens is not None:
        headers["anthropic-ratelimit-input-tokens-remaining"] = str(input_tokens)
    return headers


def drop_answer() -> Answer:
    """Close the connection without answering."""
    return Answer(status=0, drop=True)


Responder = Callable[[dict[str, Any]], Answer | None]
BatchOutcome = str | Answer  # "succeeded", "errored", "expired", "canceled", or an Answer

CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_BATCH_REQUESTS = 100_000
_BATCH_ID_RE = r"msgbatch_fake_[0-9]+"
_CREATED_AT = "2026-11-30T00:00:00Z"


@dataclass
class FakeBatch:
    """One Message Batch as the fake holds it."""

    id: str
    requests: list[dict[str, Any]]
    polls_left: int
    created_at: str
    status: str = "in_progress"  # in_progress | canceling | ended
    cancel_requested: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def custom_ids(self) -> list[str]:
        return [r["custom_id"] for r in self.requests]


class FakeMessages:
    """The scripted `POST /v1/messages` endpoint of one test; safe under concurrent calls."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self.served: list[Answer] = []
        self.default: Answer | None = findings_answer([])
        self.responder: Responder | None = None
        # Sent with every answer (an answer's own headers win): e.g. ratelimit_headers(...).
        self.headers: dict[str, str] = {}
        self._queue: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        server.expect_request("/v1/messages", method="POST").respond_with_handler(self._handle)
        # POST /v1/messages/count_tokens: answers from `counts` in turn (an int is a count,
        # an Answer an error), else a size-based count; its requests go to `count_requests`.
        self.counts: deque[int | Answer] = deque()
        self.count_requests: list[dict[str, Any]] = []
        server.expect_request("/v1/messages/count_tokens", method="POST").respond_with_handler(
            self._handle_count
        )
        # GET /v1/models and /v1/models/{id}: the ids in `models` (unknown ids: 404
        # not_found_error). `api_keys`, when set, is the only keys any endpoint accepts (else 401).
        self.models: dict[str, dict[str, Any]] = {m: model_info(m) for m in FAKE_MODELS}
        self.api_keys: set[str] | None = None
        self.model_requests: list[str] = []
        server.expect_request("/v1/models", method="GET").respond_with_handler(self._handle_models)
        server.expect_request(re.compile(r"^/v1/models/[^/]+$"), method="GET").respond_with_handler(
            self._handle_model
        )
        # Message Batches.
        self.batches: dict[str, FakeBatch] = {}
        self.batch_polls = 1
        self.batch_outcomes: dict[str, BatchOutcome] = {}
        self.batch_done_before_cancel: Callable[[str], bool] = lambda _custom_id: False
        self.batch_served: list[Answer] = []
        self._batch_ids = itertools.count(1)
        batches = "/v1/messages/batches"
        one = re.compile(f"^{batches}/({_BATCH_ID_RE})$")
        server.expect_request(batches, method="POST").respond_with_handler(self._batch_create)
        server.expect_request(batches, method="GET").respond_with_handler(self._batch_list)
        server.expect_request(one, method="GET").respond_with_handler(self._batch_retrieve)
        server.expect_request(
            re.compile(f"^{batches}/({_BATCH_ID_RE})/cancel$"), method="POST"
        ).respond_with_handler(self._batch_cancel)
        server.expect_request(
            re.compile(f"^{batches}/({_BATCH_ID_RE})/results$"), method="GET"
        ).respond_with_handler(self._batch_results)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def enqueue(self, *answers: Answer) -> None:
        with self._lock:
            self._queue.extend(answers)

    def enqueue_findings(
        self,
        findings: list[dict[str, Any]],
        *,
        usage: Mapping[str, Any] | None = None,
        stop_reason: str = "end_turn",
    ) -> None:
        self.enqueue(findings_answer(findings, usage=usage, stop_reason=stop_reason))

    def enqueue_raw(
        self,
        text: str,
        *,
        stop_reason: str = "end_turn",
        usage: Mapping[str, Any] | None = None,
        stop_details: Mapping[str, Any] | None = None,
    ) -> None:
        self.enqueue(
            message_answer(text, stop_reason=stop_reason, usage=usage, stop_details=stop_details)
        )

    def enqueue_refusal(
        self,
        category: str | None = "cyber",
        explanation: str | None = "This looks like exploit development.",
        *,
        usage: Mapping[str, Any] | None = None,
    ) -> None:
        self.enqueue(refusal_answer(category, explanation, usage=usage))

    def enqueue_error(
        self,
        status: int,
        body: Mapping[str, Any] | None = None,
        *,
        message: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.enqueue(error_answer(status, body, message=message, headers=headers))

    def enqueue_drop(self) -> None:
        self.enqueue(drop_answer())

    @property
    def pending(self) -> int:
        """Scripted answers not served yet."""
        with self._lock:
            return len(self._queue)

    def usage_totals(self) -> dict[str, int]:
        """The token sums of every answer served, as the API would bill them."""
        with self._lock:
            served = list(self.served)
        return {key: sum(int(a.usage.get(key, 0)) for a in served) for key in USAGE_KEYS}

    def _next_answer(self, body: dict[str, Any]) -> Answer:
        if self.responder is not None:
            answer = self.responder(body)
            if answer is not None:
                return answer
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.default is not None:
            return self.default
        return error_answer(500, message="fake Messages API: no answer scripted for this request")

    def _refused_key(self, request: Request) -> Response | None:
        """A 401 when `api_keys` is set and the request's key is not one of them."""
        if self.api_keys is None or _sent_key(request) in self.api_keys:
            return None
        return _json_response(error_answer(401, message="invalid x-api-key"))

    def _handle_models(self, request: Request) -> Response:
        self.model_requests.append(request.path)
        refused = self._refused_key(request)
        if refused is not None:
            return refused
        ids = list(self.models)
        after = request.args.get("after_id")
        start = ids.index(after) + 1 if after in ids else 0
        limit = int(request.args.get("limit", 20))
        page = ids[start : start + limit]
        body = {
            "data": [self.models[m] for m in page],
            "has_more": start + limit < len(ids),
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }
        return Response(json.dumps(body), mimetype="application/json")

    def _handle_model(self, request: Request) -> Response:
        self.model_requests.append(request.path)
        refused = self._refused_key(request)
        if refused is not None:
            return refused
        model_id = request.path.rsplit("/", 1)[-1]
        if model_id not in self.models:
            return _json_response(error_answer(404, message=f"model: {model_id}"))
        return Response(json.dumps(self.models[model_id]), mimetype="application/json")

    def _handle(self, request: Request) -> Response:
        refused = self._refused_key(request)
        if refused is not None:
            return refused
        body = json.loads(request.get_data(as_text=True) or "null")
        with self._lock:
            self.requests.append(body)
            self.request_headers.append(dict(request.headers))
            number = next(self._ids)
        answer = self._next_answer(body)
        with self._lock:
            self.served.append(answer)
        if answer.drop:
            # Shut the socket under werkzeug: it finds a broken pipe when it writes the
            # response, treats it as a dropped connection, and the client sees no answer.
            sock: socket.socket = request.environ["werkzeug.socket"]
            sock.shutdown(socket.SHUT_RDWR)
            return Response(status=500)
        payload = dict(answer.body or {})
        if payload.get("type") == "message":
            payload["id"] = f"msg_fake_{number:04d}"
            # The requested model answers; with server-side `fallbacks`, a scripted answer
            # may come from the fallback model instead.
            if isinstance(body, dict) and body.get("model") and "fallbacks" not in body:
                payload["model"] = body["model"]
        headers = {"request-id": f"req_fake_{number:04d}", **self.headers, **answer.headers}
        text = json.dumps(payload).replace(ECHO_KEY, _sent_key(request))
        return Response(text, status=answer.status, headers=headers, mimetype="application/json")

    def _handle_count(self, request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True) or "null")
        with self._lock:
            self.count_requests.append(body)
            scripted = self.counts.popleft() if self.counts else None
        if isinstance(scripted, Answer):
            return Response(
                json.dumps(scripted.body), status=scripted.status, headers=dict(scripted.headers),
                mimetype="application/json",
            )  # fmt: skip
        count = _size_count(body) if scripted is None else scripted
        return Response(json.dumps({"input_tokens": count}), mimetype="application/json")

    # Message Batches ---------------------------------------------------------------------

    def batch_usage_totals(self) -> dict[str, int]:
        """The token sums every batch result billed (at the batch tier)."""
        with self._lock:
            served = list(self.batch_served)
        return {key: sum(int(a.usage.get(key, 0)) for a in served) for key in USAGE_KEYS}

    def end_batch(self, batch_id: str) -> None:
        """End a batch now, whatever `batch_polls` said."""
        with self._lock:
            batch = self.batches[batch_id]
        self._finish(batch)

    def _batch_json(self, batch: FakeBatch) -> dict[str, Any]:
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if batch.status == "ended":
            for result in batch.results:
                counts[result["result"]["type"]] += 1
        else:
            counts["processing"] = len(batch.requests)
        ended = batch.status == "ended"
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": batch.status,
            "request_counts": counts,
            "created_at": batch.created_at,
            "expires_at": "2026-12-01T00:00:00Z",
            "ended_at": _CREATED_AT if ended else None,
            "cancel_initiated_at": _CREATED_AT if batch.cancel_requested else None,
            "archived_at": None,
            "results_url": (
                f"{self.base_url}/v1/messages/batches/{batch.id}/results" if ended else None
            ),
        }

    def _json(self, payload: Any, status: int = 200) -> Response:
        return Response(json.dumps(payload), status=status, mimetype="application/json")

    def _batch(self, request: Request) -> FakeBatch | None:
        match = re.search(_BATCH_ID_RE, request.path)
        with self._lock:
            return self.batches.get(match.group(0)) if match else None

    def _not_found(self) -> Response:
        return self._json(error_answer(404).body, 404)

    def _batch_create(self, request: Request) -> Response:
        body = json.loads(request.get_data(as_text=True) or "null")
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not 0 < len(requests) <= MAX_BATCH_REQUESTS:
            return self._json(error_answer(400, message="requests: 1 to 100,000").body, 400)
        ids = [r.get("custom_id") for r in requests]
        bad = [i for i in ids if not isinstance(i, str) or not CUSTOM_ID_RE.match(i)]
        if bad or len(set(ids)) != len(ids):
            message = f"custom_id invalid or repeated: {bad[:1] or ids}"
            return self._json(error_answer(400, message=message).body, 400)
        with self._lock:
            batch_id = f"msgbatch_fake_{next(self._batch_ids):04d}"
            created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            batch = FakeBatch(batch_id, requests, self.batch_polls, created)
            self.batches[batch_id] = batch
        return self._json(self._batch_json(batch))

    def _batch_list(self, request: Request) -> Response:
        limit = int(request.args.get("limit", 20))
        with self._lock:
            newest_first = list(reversed(self.batches.values()))
        after = request.args.get("after_id")
        if after is not None:
            ids = [b.id for b in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
        page = newest_first[:limit]
        return self._json(
            {
                "data": [self._batch_json(b) for b in page],
                "has_more": len(newest_first) > limit,
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
            }
        )

    def _batch_retrieve(self, request: Request) -> Response:
        batch = self._batch(request)
        if batch is None:
            return self._not_found()
        with self._lock:
            ready = batch.status == "in_progress" and batch.polls_left <= 0
            batch.polls_left -= 1
        if ready or batch.status == "canceling":
            self._finish(batch)
        return self._json(self._batch_json(batch))

    def _batch_cancel(self, request: Request) -> Response:
        batch = self._batch(request)
        if batch is None:
            return self._not_found()
        with self._lock:
            if batch.status == "in_progress":
                batch.status, batch.cancel_requested = "canceling", True
        return self._json(self._batch_json(batch))

    def _batch_results(self, request: Request) -> Response:
        batch = self._batch(request)
        if batch is None or batch.status != "ended":
            return self._not_found()
        # Unordered, as the API warns: the last request's result first.
        lines = [json.dumps(r) for r in reversed(batch.results)]
        return Response("\n".join(lines) + "\n", mimetype="application/binary")

    def _finish(self, batch: FakeBatch) -> None:
        """Decide every request's outcome and end the batch (once)."""
        with self._lock:
            if batch.status == "ended":
                return
            batch.status = "ended"
        results = []
        for item in batch.requests:
            custom_id, params = item["custom_id"], item["params"]
            with self._lock:
                outcome: BatchOutcome = self.batch_outcomes.get(custom_id, "succeeded")
            if batch.cancel_requested and not self.batch_done_before_cancel(custom_id):
                outcome = "canceled"
            results.append({"custom_id": custom_id, "result": self._outcome(outcome, params)})
        with self._lock:
            batch.results = results

    def _outcome(self, outcome: BatchOutcome, params: dict[str, Any]) -> dict[str, Any]:
        if outcome in ("expired", "canceled"):
            return {"type": outcome}
        if outcome == "errored":
            return {"type": "errored", "error": error_answer(500).body}
        answer = outcome if isinstance(outcome, Answer) else self._next_answer(params)
        if answer.drop or answer.status != 200 or answer.body is None:
            body = answer.body if answer.body and not answer.drop else error_answer(500).body
            return {"type": "errored", "error": body}
        message = json.loads(json.dumps(answer.body))
        with self._lock:
            number = next(self._ids)
        message["id"] = f"msg_fake_{number:04d}"
        if params.get("model"):
            message["model"] = params["model"]
        message["usage"] = {**message.get("usage", {}), "service_tier": "batch"}
        with self._lock:
            self.batch_served.append(Answer(200, message))
        return {"type": "succeeded", "message": message}


def _json_response(answer: Answer) -> Response:
    return Response(
        json.dumps(answer.body), status=answer.status, headers=dict(answer.headers),
        mimetype="application/json",
    )  # fmt: skip


def model_info(
    model_id: str,
    *,
    lifecycle: str = "active",
    retires_at: str | None = None,
    display_name: str | None = None,
) -> dict[str, Any]:
    """One `ModelInfo` as `GET /v1/models/{id}` answers it."""
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name or model_id.replace("-", " ").title(),
        "created_at": "2026-01-01T00:00:00Z",
        "lifecycle": lifecycle,
        "deprecated_at": "2026-06-01T00:00:00Z" if lifecycle != "active" else None,
        "retires_at": retires_at,
        "max_input_tokens": 200_000,
        "max_tokens": 64_000,
    }


def _sent_key(request: Request) -> str:
    """The API key of a request: the SDK sends it as x-api-key or as a Bearer token."""
    bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return request.headers.get("x-api-key") or bearer


def _size_count(body: Any) -> int:
    """A stand-in for the real tokenizer: one token per four bytes of the request."""
    return max(1, len(json.dumps(body)) // 4)


def fake_settings(fake: FakeMessages, **overrides: Any) -> Settings:
    """Settings that point the reviewer at `fake`, with a fake key and quick retries."""
    values: dict[str, Any] = {
        "anthropic_api_key": FAKE_API_KEY,
        "anthropic_base_url": fake.base_url,
        "max_retries": 2,
        "request_timeout_s": 10.0,
        "max_retry_after_s": 5.0,
    }
    values.update(overrides)
    settings = Settings(**values)
    settings.validate()
    return settings


@pytest.fixture
def fake_claude(httpserver: HTTPServer) -> Iterator[FakeMessages]:
    """A fresh fake Messages API; fails the test if a request matched no handler."""
    fake = FakeMessages(httpserver)
    yield fake
    httpserver.check_assertions()
    httpserver.check_handler_errors()
