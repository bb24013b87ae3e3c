"""The Claude client against the real SDK talking to a fake Messages API on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from reviewer.claude.client import ChunkReviewer, make_client
from reviewer.core.chunking import Chunk
from reviewer.core.diff import FileStatus, Hunk
from reviewer.core.findings import findings_json_schema
from reviewer.core.lines import DiffLine, HunkLines
from reviewer.core.policy import ChunkReviewOutcome
from reviewer.core.prompt import PromptContext
from reviewer.core.render import ChunkPart
from reviewer.errors import BudgetExceeded, ConfigError
from reviewer.settings import Settings
from reviewer.spend.usage import CallRecord
from tests.fakes.messages_server import (
    ECHO_KEY,
    FAKE_API_KEY,
    USAGE_KEYS,
    Answer,
    FakeMessages,
    error_answer,
    fake_settings,
    findings_answer,
)

MODEL = "claude-sonnet-4-6"
FALLBACK = "claude-opus-4-6"
CONTEXT = PromptContext(repo="octo/app", title="Fix the parser", description="Handles CRLF.")


def _part(path: str, lines: int = 6) -> ChunkPart:
    added = tuple(
        DiffLine("added", f"value_{n} = compute({n})", None, n) for n in range(1, lines + 1)
    )
    hunk = Hunk(
        old_start=0,
        old_count=0,
        new_start=1,
        new_count=lines,
        section="",
        lines=HunkLines.of(added),
    )
    return ChunkPart(path=path, status=FileStatus.ADDED, hunks=(hunk,))


def _chunk(index: int, *paths: str, lines: int = 6) -> Chunk:
    return Chunk(index, tuple(_part(p, lines) for p in paths), estimated_input_tokens=400)


def _finding(path: str, line: int = 1, **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "path": path,
        "line": line,
        "severity": "major",
        "category": "bug",
        "title": f"Problem in {path}",
        "body": "Explained.",
    }
    item.update(changes)
    return item


def _paths_in(request: dict[str, Any], candidates: tuple[str, ...]) -> set[str]:
    """Which of `candidates` the request's user messages mention."""
    text = json.dumps(request.get("messages", []))
    return {p for p in candidates if p in text}


class Sink:
    """A UsageSink that keeps every record; calls may come from several threads."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self._lock = threading.Lock()

    def __call__(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)


class CountingGate:
    """A BudgetGate that allows `allowed` calls, then raises BudgetExceeded."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def before_call(self, *, model: str, input_tokens: int, max_output_tokens: int) -> None:
        with self._lock:
            self.calls.append(
                {"model": model, "input_tokens": input_tokens, "max_output": max_output_tokens}
            )
            if len(self.calls) > self.allowed:
                raise BudgetExceeded(
                    "the review budget of $0.10 is spent",
                    budget="review",
                    limit="0.10",
                    spent="0.11",
                )

    def release(self) -> None:
        pass  # nothing is held: this gate only counts


@pytest.fixture
def settings(fake_claude: FakeMessages) -> Settings:
    return fake_settings(fake_claude)


@pytest.fixture
def client(settings: Settings) -> Iterator[anthropic.Anthropic]:
    with make_client(settings) as sdk:
        yield sdk


def _review(
    client: anthropic.Anthropic,
    chunks: list[Chunk],
    *,
    gate: CountingGate | None = None,
    **options: Any,
) -> tuple[ChunkReviewOutcome, Sink]:
    sink = Sink()
    reviewer = ChunkReviewer(client, model=MODEL, **options)
    return reviewer.review(CONTEXT, chunks, sink=sink, gate=gate), sink


def assert_usage_recorded(sink: Sink, fake: FakeMessages) -> None:
    """Every attempt the server saw reached the sink once, with the tokens it billed."""
    assert len(sink.records) == len(fake.requests) == len(fake.served)
    totals = fake.usage_totals()
    for key in USAGE_KEYS:
        assert sum(getattr(r, key) for r in sink.records) == totals[key], key
    answered = sorted(r.request_id for r in sink.records if r.request_id)
    assert len(answered) == len(set(answered))
    assert len(answered) == sum(1 for a in fake.served if not a.drop)


def test_normal_answer(fake_claude: FakeMessages, client: anthropic.Anthropic) -> None:
    usage = {"input_tokens": 1500, "output_tokens": 220, "cache_creation_input_tokens": 900,
             "ephemeral_1h_input_tokens": 300, "cache_read_input_tokens": 2000}  # fmt: skip
    fake_claude.enqueue_findings([_finding("a.py", 2), _finding("a.py", 5)], usage=usage)
    outcome, sink = _review(client, [_chunk(0, "a.py")])

    (result,) = outcome.results
    assert (result.index, result.status, result.stop_reason) == (0, "ok", "end_turn")
    assert [f.line for f in result.findings] == [2, 5]
    assert result.dropped == 0
    assert outcome.budget_stop is None
    (record,) = sink.records
    assert record == CallRecord(
        model=MODEL, chunk_index=0, attempt=1, outcome="ok", stop_reason="end_turn",
        request_id="req_fake_0001", status_code=200, input_tokens=1500, output_tokens=220,
        cache_creation_input_tokens=900, cache_read_input_tokens=2000,
        cache_write_5m_tokens=600, cache_write_1h_tokens=300, service_tier="standard",
    )  # fmt: skip
    assert_usage_recorded(sink, fake_claude)


def test_requests_carry_schema_model_and_cache_breakpoints(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    _review(client, [_chunk(0, "a.py")], max_output_tokens=3000)

    (body,) = fake_claude.requests
    assert body["model"] == MODEL
    assert body["max_tokens"] == 3000
    assert body["output_config"] == {
        "format": {"type": "json_schema", "schema": findings_json_schema()}
    }
    assert "temperature" not in body
    assert "tools" not in body
    system = body["system"]
    assert isinstance(system, list)
    assert any(block.get("cache_control") for block in system)
    assert "a.py" in json.dumps(body["messages"])
    headers = {k.lower(): v for k, v in fake_claude.request_headers[0].items()}
    assert "sk-ant-test-fake" in (headers.get("x-api-key", "") + headers.get("authorization", ""))


def test_max_tokens_is_retried_larger_then_split(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    paths = ("left.py", "right.py")

    def respond(body: dict[str, Any]) -> Answer | None:
        mentioned = _paths_in(body, paths)
        if mentioned == set(paths):
            return findings_answer([], stop_reason="max_tokens", usage={"output_tokens": 4096})
        (path,) = mentioned
        return findings_answer([_finding(path, 3)], usage={"input_tokens": 700})

    fake_claude.responder = respond
    outcome, sink = _review(client, [_chunk(0, *paths)], max_output_tokens=4096)

    (result,) = outcome.results
    assert result.status == "ok"
    assert sorted(f.path for f in result.findings) == sorted(paths)
    assert [b["max_tokens"] for b in fake_claude.requests] == [4096, 8192, 4096, 4096]
    assert [r.outcome for r in sink.records] == ["truncated", "truncated", "ok", "ok"]
    assert [r.attempt for r in sink.records[:2]] == [1, 2]
    assert {r.chunk_index for r in sink.records} == {0}
    assert_usage_recorded(sink, fake_claude)


def test_max_tokens_then_ok_with_the_larger_budget(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    fake_claude.enqueue_findings([], stop_reason="max_tokens")
    fake_claude.enqueue_findings([_finding("a.py")])
    outcome, sink = _review(client, [_chunk(0, "a.py")], max_output_tokens=10_000)

    assert outcome.results[0].status == "ok"
    assert [b["max_tokens"] for b in fake_claude.requests] == [10_000, 16_384]
    assert_usage_recorded(sink, fake_claude)


def test_max_tokens_on_an_unsplittable_chunk_is_truncated(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    fake_claude.default = findings_answer([], stop_reason="max_tokens")
    outcome, sink = _review(client, [_chunk(0, "one.py", lines=1)])

    (result,) = outcome.results
    assert result.status == "truncated"
    assert result.stop_reason == "max_tokens"
    assert len(fake_claude.requests) == 2
    assert_usage_recorded(sink, fake_claude)


def test_refusal_without_fallback(fake_claude: FakeMessages, client: anthropic.Anthropic) -> None:
    fake_claude.enqueue_refusal("cyber", "This looks like exploit development.")
    outcome, sink = _review(client, [_chunk(0, "exploit.py")])

    (result,) = outcome.results
    assert result.status == "refused"
    assert result.stop_reason == "refusal"
    assert result.refusal == "cyber: This looks like exploit development."
    assert result.findings == ()
    assert [r.outcome for r in sink.records] == ["refused"]
    assert_usage_recorded(sink, fake_claude)


def test_refusal_with_fallback_model(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    fake_claude.enqueue_refusal(None, None)
    fake_claude.enqueue_findings([_finding("exploit.py", 4)])
    outcome, sink = _review(client, [_chunk(0, "exploit.py")], fallback_model=FALLBACK)

    (result,) = outcome.results
    assert result.status == "ok"
    assert [f.line for f in result.findings] == [4]
    assert [b["model"] for b in fake_claude.requests] == [MODEL, FALLBACK]
    assert [(r.model, r.outcome) for r in sink.records] == [(MODEL, "refused"), (FALLBACK, "ok")]
    assert_usage_recorded(sink, fake_claude)


def test_refusal_by_both_models(fake_claude: FakeMessages, client: anthropic.Anthropic) -> None:
    fake_claude.enqueue_refusal("bio", "No.")
    fake_claude.enqueue_refusal("bio", "Still no.")
    outcome, sink = _review(client, [_chunk(0, "lab.py")], fallback_model=FALLBACK)

    (result,) = outcome.results
    assert result.status == "refused"
    assert result.refusal is not None
    assert "bio: No." in result.refusal
    assert FALLBACK in result.refusal
    assert len(fake_claude.requests) == 2
    assert_usage_recorded(sink, fake_claude)


@pytest.mark.parametrize("how", ["stop_reason", "400", "413"])
def test_context_window_exceeded_splits_the_chunk(
    fake_claude: FakeMessages, client: anthropic.Anthropic, how: str
) -> None:
    paths = ("big_a.py", "big_b.py")

    def respond(body: dict[str, Any]) -> Answer | None:
        mentioned = _paths_in(body, paths)
        if mentioned == set(paths):
            if how == "413":
                return error_answer(413, message="Request exceeds the maximum size")
            if how == "400":
                return error_answer(
                    400, message="prompt is too long: 210000 tokens > 200000 maximum"
                )
            return findings_answer([], stop_reason="model_context_window_exceeded")
        (path,) = mentioned
        return findings_answer([_finding(path)])

    fake_claude.responder = respond
    outcome, sink = _review(client, [_chunk(0, *paths)])

    (result,) = outcome.results
    assert result.status == "ok"
    assert sorted(f.path for f in result.findings) == sorted(paths)
    assert len(fake_claude.requests) == 3  # a 400 is not retried by the SDK
    first = sink.records[0]
    assert first.outcome == ("context_exceeded" if how == "stop_reason" else "error")
    assert_usage_recorded(sink, fake_claude)


def test_context_window_exceeded_and_unsplittable_is_an_error(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    fake_claude.enqueue_raw("", stop_reason="model_context_window_exceeded")
    outcome, sink = _review(client, [_chunk(0, "one.py", lines=1)])

    (result,) = outcome.results
    assert result.status == "error"
    assert result.transient is False
    assert_usage_recorded(sink, fake_claude)


def test_one_invalid_finding_is_dropped_the_others_stay(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    bad = _finding("a.py", 0)  # line must be at least 1
    fake_claude.enqueue_findings([_finding("a.py", 1), bad, _finding("a.py", 9, side="LEFT")])
    outcome, sink = _review(client, [_chunk(0, "a.py")])

    (result,) = outcome.results
    assert result.status == "ok"
    assert [f.line for f in result.findings] == [1, 9]
    assert result.dropped == 1
    assert_usage_recorded(sink, fake_claude)


def test_an_answer_that_is_not_json_is_an_error(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    fake_claude.enqueue_raw("Here are my findings: none!")
    outcome, sink = _review(client, [_chunk(0, "a.py")])

    (result,) = outcome.results
    assert result.status == "error"
    assert result.error is not None
    assert result.error.startswith("invalid output")
    assert [r.outcome for r in sink.records] == ["invalid_output"]
    assert_usage_recorded(sink, fake_claude)


@pytest.mark.parametrize("stop", ["pause_turn", "tool_use", "stop_sequence"])
def test_unexpected_stop_reason_is_an_error(
    fake_claude: FakeMessages, client: anthropic.Anthropic, stop: str
) -> None:
    fake_claude.enqueue_raw('{"findings": []}', stop_reason=stop)
    outcome, sink = _review(client, [_chunk(0, "a.py")])

    assert outcome.results[0].status == "error"
    assert outcome.results[0].error == f"unexpected stop_reason {stop}"
    assert [r.outcome for r in sink.records] == ["unexpected_stop"]
    assert_usage_recorded(sink, fake_claude)


def test_429_with_retry_after_is_retried_by_the_sdk(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    fake_claude.enqueue_error(429, headers={"retry-after": "0.05"})
    fake_claude.enqueue_findings([_finding("a.py")])
    outcome, sink = _review(client, [_chunk(0, "a.py")])

    assert outcome.results[0].status == "ok"
    first, second = sink.records
    assert (first.status_code, first.outcome, first.input_tokens) == (429, "error", 0)
    assert first.error is not None
    assert "rate_limit_error" in first.error
    assert first.request_id == "req_fake_0001"
    assert (second.status_code, second.outcome, second.attempt) == (200, "ok", 2)
    assert_usage_recorded(sink, fake_claude)


def test_retry_after_longer_than_the_cap_fails_fast(
    fake_claude: FakeMessages, settings: Settings
) -> None:
    fake_claude.enqueue_error(429, headers={"retry-after": "30"})
    fake_claude.enqueue_findings([_finding("a.py")])  # never asked for
    with make_client(settings.replace(max_retry_after_s=1.0)) as capped:
        outcome, sink = _review(capped, [_chunk(0, "a.py")])

    (result,) = outcome.results
    assert result.status == "error"
    assert result.transient is True
    assert result.error is not None
    assert "30s" in result.error
    assert len(fake_claude.requests) == 1
    assert fake_claude.pending == 1
    assert [r.status_code for r in sink.records] == [429]
    assert_usage_recorded(sink, fake_claude)


def test_overloaded_529_after_every_retry(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    fake_claude.default = error_answer(529)
    outcome, sink = _review(client, [_chunk(0, "a.py")])

    (result,) = outcome.results
    assert result.status == "error"
    assert result.transient is True
    assert result.error == "HTTP 529 overloaded_error: overloaded error"
    assert len(fake_claude.requests) == 3  # max_retries=2
    assert [r.attempt for r in sink.records] == [1, 2, 3]
    assert {(r.status_code, r.outcome) for r in sink.records} == {(529, "error")}
    assert_usage_recorded(sink, fake_claude)


def test_500_then_ok(fake_claude: FakeMessages, client: anthropic.Anthropic) -> None:
    fake_claude.enqueue_error(500)
    fake_claude.enqueue_findings([_finding("a.py")], usage={"input_tokens": 321})
    outcome, sink = _review(client, [_chunk(0, "a.py")])

    assert outcome.results[0].status == "ok"
    assert [r.status_code for r in sink.records] == [500, 200]
    assert_usage_recorded(sink, fake_claude)


def test_a_client_error_is_not_transient(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    fake_claude.enqueue_error(401, message=f"invalid x-api-key {ECHO_KEY}")
    outcome, sink = _review(client, [_chunk(0, "a.py")])

    (result,) = outcome.results
    assert (result.status, result.transient) == ("error", False)
    assert len(fake_claude.requests) == 1
    # The fake echoed the key in its error message (the attempt's record holds it as sent);
    # the error a user sees has it redacted.
    assert (
        sink.records[0].error == f"HTTP 401 authentication_error: invalid x-api-key {FAKE_API_KEY}"
    )
    assert result.error == "HTTP 401 authentication_error: invalid x-api-key [redacted]"
    assert_usage_recorded(sink, fake_claude)


def test_dropped_connection_is_retried(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    fake_claude.enqueue_drop()
    fake_claude.enqueue_findings([_finding("a.py")])
    outcome, sink = _review(client, [_chunk(0, "a.py")])

    assert outcome.results[0].status == "ok"
    first, second = sink.records
    assert (first.outcome, first.status_code, first.request_id) == ("error", None, None)
    assert first.error is not None
    assert first.error.startswith("connection error")
    assert second.outcome == "ok"
    assert_usage_recorded(sink, fake_claude)


def test_connection_dropped_on_every_attempt(fake_claude: FakeMessages, settings: Settings) -> None:
    fake_claude.default = Answer(status=0, drop=True)
    with make_client(settings.replace(max_retries=1)) as once:
        outcome, sink = _review(once, [_chunk(0, "a.py")])

    (result,) = outcome.results
    assert (result.status, result.transient) == ("error", True)
    assert len(sink.records) == 2
    assert_usage_recorded(sink, fake_claude)


def test_budget_gate_stops_the_review(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    gate = CountingGate(allowed=2)
    chunks = [_chunk(i, f"f{i}.py") for i in range(5)]
    outcome, sink = _review(client, chunks, gate=gate, concurrency=1)

    assert [r.status for r in outcome.results] == ["ok", "ok", "skipped", "skipped", "skipped"]
    assert [r.index for r in outcome.results] == [0, 1, 2, 3, 4]
    assert isinstance(outcome.budget_stop, BudgetExceeded)
    assert outcome.results[2].error == "the review budget of $0.10 is spent"
    assert len(fake_claude.requests) == 2
    assert len(gate.calls) == 3  # the third call was refused; no chunk asked after that
    assert gate.calls[0]["model"] == MODEL
    assert gate.calls[0]["input_tokens"] > 400  # the chunk plus the prompt prefix
    assert gate.calls[0]["max_output"] == 4096
    assert_usage_recorded(sink, fake_claude)


def test_budget_gate_is_asked_before_retries_and_halves(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    paths = ("left.py", "right.py")

    def respond(body: dict[str, Any]) -> Answer | None:
        if _paths_in(body, paths) == set(paths):
            return findings_answer([], stop_reason="max_tokens")
        return None

    fake_claude.responder = respond
    gate = CountingGate(allowed=3)  # the whole chunk twice, then one half
    outcome, sink = _review(client, [_chunk(0, *paths)], gate=gate)

    (result,) = outcome.results
    assert result.status == "skipped"
    assert outcome.budget_stop is not None
    assert [c["max_output"] for c in gate.calls] == [4096, 8192, 4096, 4096]
    assert len(fake_claude.requests) == 3
    assert_usage_recorded(sink, fake_claude)


def test_chunks_are_reviewed_concurrently_and_returned_in_order(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    paths = tuple(f"mod_{i}.py" for i in range(6))

    def respond(body: dict[str, Any]) -> Answer | None:
        (path,) = _paths_in(body, paths)
        return findings_answer([_finding(path, int(path[4]) + 1)])

    fake_claude.responder = respond
    chunks = [_chunk(i, p) for i, p in enumerate(paths)]
    outcome, sink = _review(client, list(reversed(chunks)), concurrency=3)

    assert [r.index for r in outcome.results] == list(range(6))
    assert [r.findings[0].path for r in outcome.results] == list(paths)
    assert sorted(r.chunk_index for r in sink.records) == list(range(6))
    assert_usage_recorded(sink, fake_claude)


def test_no_chunks_no_calls(fake_claude: FakeMessages, client: anthropic.Anthropic) -> None:
    outcome, sink = _review(client, [])
    assert outcome == ChunkReviewOutcome(())
    assert fake_claude.requests == []
    assert sink.records == []


def test_missing_api_key_fails_only_when_a_call_is_needed(
    fake_claude: FakeMessages, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-unused")
    with make_client(settings.replace(anthropic_api_key=None)) as keyless:
        assert _review(keyless, [])[0].results == ()
        with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY is not set"):
            _review(keyless, [_chunk(0, "a.py")])
    assert fake_claude.requests == []


def test_client_settings(settings: Settings) -> None:
    with make_client(settings.replace(max_retries=5, request_timeout_s=42.0)) as sdk:
        assert sdk.max_retries == 5
        assert sdk.timeout == 42.0
        assert str(sdk.base_url).rstrip("/") == settings.anthropic_base_url
        assert "sk-ant-test-fake" not in repr(settings)


def test_a_large_max_tokens_is_not_refused_by_the_sdk(
    fake_claude: FakeMessages, client: anthropic.Anthropic
) -> None:
    # With its default timeout the SDK refuses a non-streaming call whose max_tokens could
    # outlast it (about 21k and up): "Streaming is required ...", before sending anything.
    reviewer = ChunkReviewer(client, model=MODEL, max_output_tokens=30_000)
    outcome = reviewer.review(CONTEXT, [_chunk(0, "a.py")], sink=Sink())

    assert outcome.results[0].status == "ok"
    assert fake_claude.requests[0]["max_tokens"] == 30_000


def test_count_tokens_gives_the_gate_the_exact_count(
    client: anthropic.Anthropic, fake_claude: FakeMessages
) -> None:
    fake_claude.counts.append(777)
    gate = CountingGate(allowed=5)
    outcome, sink = _review(client, [_chunk(0, "a.py")], gate=gate, count_tokens=True)

    assert outcome.results[0].status == "ok"
    assert [c["input_tokens"] for c in gate.calls] == [777]
    [counted] = fake_claude.count_requests
    [sent] = fake_claude.requests
    # The count is of the very request that is then sent, schema included.
    for key in ("model", "system", "messages", "output_config"):
        assert counted[key] == sent[key]
    assert_usage_recorded(sink, fake_claude)  # counting is free: no ledger row for it


def test_count_tokens_splits_a_chunk_too_long_before_sending_it(
    client: anthropic.Anthropic, fake_claude: FakeMessages
) -> None:
    fake_claude.counts.extend([250_000, 900, 900])
    outcome, sink = _review(client, [_chunk(0, "a.py", "b.py")], count_tokens=True)

    assert outcome.results[0].status == "ok"
    assert len(fake_claude.count_requests) == 3
    sent = [json.dumps(r["messages"]) for r in fake_claude.requests]
    assert len(sent) == 2  # only the halves were sent, never the whole chunk
    assert sum("FILE: a.py" in s for s in sent) == sum("FILE: b.py" in s for s in sent) == 1
    assert_usage_recorded(sink, fake_claude)


def test_a_failed_count_falls_back_to_the_estimate(
    client: anthropic.Anthropic, fake_claude: FakeMessages
) -> None:
    fake_claude.counts.extend([error_answer(400)])
    gate = CountingGate(allowed=5)
    outcome, _ = _review(client, [_chunk(0, "a.py")], gate=gate, count_tokens=True)

    assert outcome.results[0].status == "ok"
    assert gate.calls[0]["input_tokens"] > 400  # the estimate: chunk plus prompt prefix
    assert len(fake_claude.requests) == 1
