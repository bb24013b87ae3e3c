"""The stop_reason policy as a table: each reply and attempt state maps to one next step."""

from __future__ import annotations

import pytest

from reviewer.core.policy import (
    MAX_RETRY_OUTPUT_TOKENS,
    Attempt,
    ChunkResult,
    Reply,
    Step,
    conclude,
    larger_max_tokens,
    merge,
    next_step,
)

FRESH = Attempt(max_tokens=4096, fallback_model="claude-haiku-4-5")


@pytest.mark.parametrize(
    ("reply", "attempt", "step"),
    [
        (Reply(stop_reason="end_turn"), FRESH, Step.ACCEPT),
        (Reply(stop_reason="max_tokens"), FRESH, Step.RETRY_LARGER),
        (Reply(stop_reason="max_tokens"), Attempt(8192, retried_larger=True), Step.SPLIT),
        # Already at the ceiling: a larger retry is impossible, so split at once.
        (Reply(stop_reason="max_tokens"), Attempt(MAX_RETRY_OUTPUT_TOKENS), Step.SPLIT),
        (Reply(stop_reason="model_context_window_exceeded"), FRESH, Step.SPLIT),
        (Reply(too_long=True), FRESH, Step.SPLIT),
        (Reply(error="HTTP 400 prompt is too long", too_long=True), FRESH, Step.SPLIT),
        (Reply(stop_reason="refusal", refusal_category="cyber"), FRESH, Step.FALL_BACK),
        (Reply(stop_reason="refusal"), Attempt(4096), Step.ACCEPT),
        (Reply(stop_reason="refusal"), Attempt(4096, "m", on_fallback=True), Step.ACCEPT),
        (Reply(stop_reason="refusal", refusal_category="reasoning_extraction"), FRESH, Step.ACCEPT),
        (Reply(error="HTTP 529 overloaded_error", transient=True), FRESH, Step.ACCEPT),
        (Reply(stop_reason="pause_turn"), FRESH, Step.ACCEPT),
    ],
)
def test_next_step(reply: Reply, attempt: Attempt, step: Step) -> None:
    assert next_step(reply, attempt) is step


def test_a_larger_retry_doubles_up_to_the_ceiling() -> None:
    assert larger_max_tokens(4096) == 8192
    assert larger_max_tokens(12_000) == MAX_RETRY_OUTPUT_TOKENS


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply(stop_reason="end_turn", dropped=2), "ok"),
        (Reply(stop_reason="refusal", refusal="cyber"), "refused"),
        (Reply(stop_reason="max_tokens"), "truncated"),
        (Reply(stop_reason="model_context_window_exceeded"), "error"),
        (Reply(error="HTTP 500", transient=True), "error"),
        (Reply(stop_reason="pause_turn"), "error"),
    ],
)
def test_conclude_maps_a_reply_to_a_chunk_status(reply: Reply, status: str) -> None:
    result = conclude(3, reply)
    assert (result.index, result.status) == (3, status)
    assert result.transient == reply.transient


def test_merge_keeps_the_worst_status_and_a_transient_error() -> None:
    merged = merge(
        1,
        [
            ChunkResult(1, "ok", "end_turn"),
            ChunkResult(1, "error", None, error="HTTP 529", transient=True),
        ],
    )
    assert (merged.status, merged.transient, merged.error) == ("error", True, "HTTP 529")
