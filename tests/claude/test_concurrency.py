"""Concurrency: how many calls go at once, driven by the rate-limit headers of the answers."""

from __future__ import annotations

import threading
from typing import Any

import anthropic

from reviewer.claude.client import ChunkReviewer, make_client
from reviewer.claude.concurrency import (
    Headroom,
    RateLimits,
    allowed_in_flight,
    read_headroom,
    warm_up_first,
)
from reviewer.claude.realtime import ChunkOrchestrator, Reply
from reviewer.core.chunking import Chunk, ChunkPart
from reviewer.core.diff import FileStatus, Hunk
from reviewer.core.lines import DiffLine, HunkLines
from reviewer.core.prompt import PromptContext
from reviewer.spend.usage import CallRecord
from tests.fakes.messages_server import FakeMessages, fake_settings, ratelimit_headers

MODEL = "claude-sonnet-4-6"
# Its minimum cacheable prefix (4,096 tokens) is longer than this prompt's: no warm-up call.
UNCACHED_MODEL = "claude-haiku-4-5"
CONTEXT = PromptContext(repo="octo/app", title="T")


def _chunk(index: int) -> Chunk:
    line = DiffLine("added", f"x = {index}", None, 1)
    part = ChunkPart(
        f"f{index}.py", FileStatus.ADDED, (Hunk(0, 0, 1, 1, "", HunkLines.of([line])),)
    )
    return Chunk(index, (part,), estimated_input_tokens=1_000)


# The pure rules


def test_headroom_is_read_from_the_rate_limit_headers() -> None:
    headers = ratelimit_headers(requests=7, input_tokens=90_000)
    assert read_headroom(headers) == Headroom(7, 90_000)
    assert read_headroom({"anthropic-ratelimit-requests-remaining": "3"}) == Headroom(3, None)
    assert read_headroom({"request-id": "req_1"}) is None
    assert read_headroom({"anthropic-ratelimit-requests-remaining": "many"}) is None


def test_allowed_in_flight_follows_the_headroom_up_to_the_cap() -> None:
    def allowed(headroom: Headroom | None) -> int:
        return allowed_in_flight(headroom, start=4, cap=16, tokens_per_call=10_000)

    assert allowed(None) == 4  # nothing stated yet: the configured start
    assert allowed(Headroom(1_000, 5_000_000)) == 16  # plenty: the cap
    assert allowed(Headroom(3, 5_000_000)) == 3  # three requests left this minute
    assert allowed(Headroom(1_000, 55_000)) == 5  # input tokens for five calls
    assert allowed(Headroom(0, 0)) == 1  # never zero: the SDK's retries wait out a 429


def test_the_first_call_warms_the_cache_only_if_it_can_and_it_pays() -> None:
    def warm(chunks: int, prefix: int, minimum: int = 1024) -> bool:
        return warm_up_first(
            chunks=chunks, start=4, prefix_tokens=prefix, min_cacheable_tokens=minimum
        )

    assert warm(10, 2_000)
    assert not warm(10, 900)  # too short to be cached: a warm-up would buy nothing
    assert not warm(4, 2_000)  # one wave: all go at once
    assert not warm(10, 3_000, minimum=4096)  # e.g. Haiku 4.5


# The scheduler, with a scripted sender


class Scripted:
    """A SendFn whose calls answer with `headers` once `hold` calls are in flight together
    (or no more will start), and that records how many were in flight at each start."""

    def __init__(self, total: int, headers: dict[str, str], hold: list[int]) -> None:
        self.total, self.headers, self.hold = total, headers, hold
        self.limits = RateLimits()
        self.condition = threading.Condition()
        self.in_flight = self.started = self.answered = self.released = 0
        self.starts: list[tuple[int, int]] = []  # (answers seen before it, in flight)

    def __call__(self, *, records: list[CallRecord], **_: Any) -> Reply:
        with self.condition:
            self.in_flight += 1
            self.started += 1
            self.starts.append((self.answered, self.in_flight))
            expected = self.hold[min(self.answered, len(self.hold) - 1)]
            mine = self.released
            if self.in_flight >= expected or self.started == self.total:
                self.released += 1  # the group is complete: every call in flight answers
                self.condition.notify_all()
            self.condition.wait_for(lambda: self.released > mine, timeout=10)
            self.in_flight -= 1
            self.answered += 1
        self.limits.observe(self.headers)
        return Reply(stop_reason="end_turn")


def _orchestrate(
    sender: Scripted, chunks: int, *, model: str = UNCACHED_MODEL, **options: Any
) -> ChunkOrchestrator:
    orchestrator = ChunkOrchestrator(sender, model=model, **options)
    orchestrator.rate_limits = sender.limits
    outcome = orchestrator.review(CONTEXT, [_chunk(i) for i in range(chunks)], sink=lambda _: None)
    assert [r.status for r in outcome.results] == ["ok"] * chunks
    assert [r.index for r in outcome.results] == list(range(chunks))
    return orchestrator


def test_concurrency_rises_to_the_cap_when_the_headers_allow_it() -> None:
    sender = Scripted(20, ratelimit_headers(requests=4_000, input_tokens=2_000_000), [4, 8])
    _orchestrate(sender, 20, concurrency=4, max_concurrency=8)
    before = [n for seen, n in sender.starts if seen == 0]
    after = [n for seen, n in sender.starts if seen > 0]
    assert max(before) == 4  # the configured start, before any answer
    assert max(after) == 8  # then the cap the headers allow


def test_concurrency_falls_to_what_the_remaining_requests_allow() -> None:
    sender = Scripted(12, ratelimit_headers(requests=2), [4, 2])
    _orchestrate(sender, 12, concurrency=4, max_concurrency=16)
    assert max(n for seen, n in sender.starts if seen == 0) == 4
    assert max(n for seen, n in sender.starts if seen > 0) <= 2
    assert any(n == 2 for seen, n in sender.starts if seen > 0)


def test_concurrency_falls_to_what_the_remaining_input_tokens_hold() -> None:
    # Each call is estimated at its chunk (1,000) plus the prompt around it: 3,000 tokens
    # hold at most one call.
    sender = Scripted(6, ratelimit_headers(input_tokens=3_000), [3, 1])
    _orchestrate(sender, 6, concurrency=3, max_concurrency=16)
    assert max(n for seen, n in sender.starts if seen > 0) == 1


def test_without_headers_the_configured_concurrency_holds() -> None:
    sender = Scripted(10, {}, [3])
    _orchestrate(sender, 10, concurrency=3, max_concurrency=16)
    assert max(n for _, n in sender.starts) == 3


def test_a_cacheable_prefix_sends_the_first_call_alone_then_the_rest() -> None:
    sender = Scripted(10, ratelimit_headers(requests=4_000, input_tokens=2_000_000), [1, 9])
    _orchestrate(sender, 10, model=MODEL, concurrency=4, max_concurrency=16)
    assert sender.starts[0] == (0, 1)
    assert all(seen >= 1 for seen, _ in sender.starts[1:])
    assert max(n for _, n in sender.starts) == 9


def test_one_wave_sends_everything_at_once_without_a_warm_up() -> None:
    sender = Scripted(4, {}, [4])
    _orchestrate(sender, 4, model=MODEL, concurrency=4, max_concurrency=16)
    assert [seen for seen, _ in sender.starts] == [0, 0, 0, 0]


# The headers come from the SDK's responses


def test_the_sdk_sender_feeds_every_answers_headers_to_the_limits(
    fake_claude: FakeMessages,
) -> None:
    fake_claude.headers = ratelimit_headers(requests=5, input_tokens=123_000)
    client: anthropic.Anthropic
    with make_client(fake_settings(fake_claude)) as client:
        reviewer = ChunkReviewer(client, model=MODEL, concurrency=2, max_concurrency=8)
        assert reviewer.rate_limits.headroom() is None
        reviewer.review(CONTEXT, [_chunk(0)], sink=lambda _: None)
    assert reviewer.rate_limits.headroom() == Headroom(5, 123_000)
