"""The chunk review policy without the SDK: a scripted `send` stands in for Claude."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from reviewer.claude.realtime import ChunkOrchestrator
from reviewer.core.chunking import Chunk
from reviewer.core.diff import FileStatus, Hunk
from reviewer.core.findings import Finding, Severity
from reviewer.core.lines import DiffLine, HunkLines
from reviewer.core.models import model_spec
from reviewer.core.policy import Reply
from reviewer.core.prompt import PromptContext, prefix_tokens
from reviewer.core.render import ChunkPart
from reviewer.errors import BudgetExceeded
from reviewer.spend.usage import CallRecord

MODEL = "claude-sonnet-4-6"
CONTEXT = PromptContext(repo="octo/app", title="Fix the parser", description="Handles CRLF.")


def _chunk(index: int, *paths: str) -> Chunk:
    parts = []
    for path in paths:
        added = tuple(DiffLine("added", f"value_{n} = {n}", None, n) for n in range(1, 4))
        hunk = Hunk(
            old_start=0,
            old_count=0,
            new_start=1,
            new_count=3,
            section="",
            lines=HunkLines.of(added),
        )
        parts.append(ChunkPart(path=path, status=FileStatus.ADDED, hunks=(hunk,)))
    return Chunk(index, tuple(parts), estimated_input_tokens=400)


def _finding(path: str) -> Finding:
    return Finding(path=path, line=1, severity=Severity.MAJOR, category="bug", title="T", body="B")


class ScriptedSend:
    """A SendFn that answers from `replies` in turn and records one attempt per call."""

    def __init__(self, *replies: Reply | Exception) -> None:
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []

    def __call__(
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
        self.calls.append({"model": model, "max_tokens": max_tokens, "messages": messages})
        records.append(CallRecord(model, chunk_index, next(attempts), "ok"))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def test_max_tokens_is_retried_larger_then_split_and_merged() -> None:
    send = ScriptedSend(
        Reply(stop_reason="max_tokens"),
        Reply(stop_reason="max_tokens"),
        Reply(stop_reason="end_turn", findings=[_finding("left.py")], dropped=1),
        Reply(stop_reason="end_turn", findings=[_finding("right.py")]),
    )
    records: list[CallRecord] = []
    orchestrator = ChunkOrchestrator(send, model=MODEL, max_output_tokens=4096)

    outcome = orchestrator.review(CONTEXT, [_chunk(0, "left.py", "right.py")], sink=records.append)

    (result,) = outcome.results
    assert (result.status, result.dropped) == ("ok", 1)
    assert sorted(f.path for f in result.findings) == ["left.py", "right.py"]
    assert [c["max_tokens"] for c in send.calls] == [4096, 8192, 4096, 4096]
    assert [(r.chunk_index, r.attempt) for r in records] == [(0, 1), (0, 2), (0, 3), (0, 4)]


def test_a_split_chunk_whose_halves_fail_transiently_stays_transient() -> None:
    overloaded = Reply(error="HTTP 529 overloaded_error: Overloaded", transient=True)
    send = ScriptedSend(
        Reply(stop_reason="max_tokens"), Reply(stop_reason="max_tokens"), overloaded, overloaded
    )
    records: list[CallRecord] = []

    outcome = ChunkOrchestrator(send, model=MODEL, max_output_tokens=4096).review(
        CONTEXT, [_chunk(0, "left.py", "right.py")], sink=records.append
    )

    (result,) = outcome.results
    assert len(send.calls) == 4, "the chunk was split and each half sent once"
    assert (result.status, result.transient) == ("error", True)
    assert result.error == "HTTP 529 overloaded_error: Overloaded"


def test_invalid_output_marks_the_last_attempt() -> None:
    send = ScriptedSend(Reply(stop_reason="end_turn", error="invalid output", invalid_output=True))
    records: list[CallRecord] = []

    outcome = ChunkOrchestrator(send, model=MODEL).review(
        CONTEXT, [_chunk(0, "a.py")], sink=records.append
    )

    assert outcome.results[0].status == "error"
    assert [(r.outcome, r.error) for r in records] == [("invalid_output", "invalid output")]


def test_attempts_are_recorded_when_send_raises() -> None:
    send = ScriptedSend(RuntimeError("boom"))
    records: list[CallRecord] = []

    with pytest.raises(RuntimeError, match="boom"):
        ChunkOrchestrator(send, model=MODEL).review(
            CONTEXT, [_chunk(0, "a.py")], sink=records.append
        )

    assert [r.outcome for r in records] == ["ok"]


class TimedSend(ScriptedSend):
    """Answers every call with no findings and logs when each chunk's call starts and ends."""

    def __init__(self, barrier: threading.Barrier | None = None) -> None:
        super().__init__()
        self.events: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.barrier = barrier

    def __call__(self, **kw: Any) -> Reply:
        with self.lock:
            self.events.append(("start", kw["chunk_index"]))
        if self.barrier is not None:
            self.barrier.wait(timeout=5)  # raises unless the calls really overlap
        time.sleep(0.01)
        kw["records"].append(CallRecord(MODEL, kw["chunk_index"], next(kw["attempts"]), "ok"))
        with self.lock:
            self.events.append(("end", kw["chunk_index"]))
        return Reply(stop_reason="end_turn")


def test_first_call_alone_warms_the_cache_when_there_are_several_waves() -> None:
    send = TimedSend()
    chunks = [_chunk(i, f"f{i}.py") for i in range(5)]
    outcome = ChunkOrchestrator(send, model=MODEL, concurrency=2).review(
        CONTEXT, chunks, sink=lambda r: None
    )
    assert [r.index for r in outcome.results] == [0, 1, 2, 3, 4]
    assert send.events[:2] == [("start", 0), ("end", 0)]
    assert len(send.events) == 10


def test_no_warm_up_call_when_the_prefix_is_under_the_models_cacheable_minimum() -> None:
    # claude-haiku-4-5 caches nothing under 4,096 tokens; this prefix is estimated below it,
    # so all four calls go out in pairs (the barrier fails unless two calls overlap).
    model = "claude-haiku-4-5"
    assert prefix_tokens(CONTEXT, model) < model_spec(model).min_cacheable_tokens
    send = TimedSend(barrier=threading.Barrier(2))
    chunks = [_chunk(i, f"f{i}.py") for i in range(4)]
    outcome = ChunkOrchestrator(send, model=model, concurrency=2).review(
        CONTEXT, chunks, sink=lambda r: None
    )
    assert [r.status for r in outcome.results] == ["ok"] * 4


def test_one_wave_of_calls_runs_at_once() -> None:
    send = TimedSend(barrier=threading.Barrier(3))
    chunks = [_chunk(i, f"f{i}.py") for i in range(3)]
    outcome = ChunkOrchestrator(send, model=MODEL, concurrency=4).review(
        CONTEXT, chunks, sink=lambda r: None
    )
    assert [r.status for r in outcome.results] == ["ok", "ok", "ok"]


class AllowGate:
    """A BudgetGate that lets `allowed` calls through, then stops the review."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed

    def before_call(self, *, model: str, input_tokens: int, max_output_tokens: int) -> None:
        self.allowed -= 1
        if self.allowed < 0:
            raise BudgetExceeded("budget spent", budget="review", limit="1", spent="1")

    def release(self) -> None:
        pass  # nothing is held: this gate only counts


def test_budget_stop_between_halves_keeps_the_first_half_findings() -> None:
    send = ScriptedSend(
        Reply(too_long=True),  # the whole chunk: split it
        Reply(stop_reason="end_turn", findings=[_finding("left.py")]),
    )
    outcome = ChunkOrchestrator(send, model=MODEL).review(
        CONTEXT, [_chunk(0, "left.py", "right.py")], sink=lambda r: None, gate=AllowGate(2)
    )
    (result,) = outcome.results
    assert result.status == "skipped" and result.error == "budget spent"
    assert [f.path for f in result.findings] == ["left.py"]
    assert outcome.budget_stop is not None
    assert len(send.calls) == 2


def test_a_reasoning_extraction_refusal_is_never_retried_on_the_fallback() -> None:
    send = ScriptedSend(
        Reply(
            stop_reason="refusal",
            refusal="reasoning_extraction",
            refusal_category="reasoning_extraction",
        )
    )
    orchestrator = ChunkOrchestrator(
        send, model="claude-sonnet-4-6", fallback_model="claude-opus-4-6"
    )
    outcome = orchestrator.review(
        PromptContext(repo="o/r"), [_chunk(0, "a.py")], sink=lambda record: None
    )
    [result] = outcome.results
    assert result.status == "refused" and result.refusal == "reasoning_extraction"
    assert [call["model"] for call in send.calls] == ["claude-sonnet-4-6"]
