"""Review chunks in real time: concurrent calls, each answer handled by `core.policy`."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from reviewer.claude.concurrency import RateLimits, allowed_in_flight, warm_up_first
from reviewer.core.chunking import Chunk, split_chunk
from reviewer.core.models import model_spec
from reviewer.core.policy import (
    Attempt,
    ChunkResult,
    ChunkReviewOutcome,
    Reply,
    Step,
    conclude,
    larger_max_tokens,
    merge,
    next_step,
)
from reviewer.core.prompt import PromptContext, build_request, prefix_tokens
from reviewer.core.tokens import context_window
from reviewer.errors import BudgetExceeded
from reviewer.spend.usage import BudgetGate, CallRecord, UsageSink

log = logging.getLogger(__name__)

# A chunk is halved at most this many times (2**3 = 8 pieces) before giving up.
MAX_SPLIT_DEPTH = 3


class SendFn(Protocol):
    """Make one call (the SDK may send several attempts) and classify its answer.

    One CallRecord per attempt goes into `records`, also when the call raises.
    """

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
    ) -> Reply: ...


class CountFn(Protocol):
    """Count a request's input tokens exactly (free, rate-limited); None when it cannot."""

    def __call__(
        self, *, model: str, system: list[dict[str, Any]], messages: list[dict[str, Any]]
    ) -> int | None: ...


@dataclass
class _Review:
    """State shared by the chunks of one review."""

    context: PromptContext
    sink: UsageSink
    gate: BudgetGate | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    budget_stop: BudgetExceeded | None = None
    _prefix: dict[str, int] = field(default_factory=dict)

    def prefix_tokens(self, model: str) -> int:
        """The estimate of the request without its chunk, per model (tokenizers differ)."""
        with self.lock:
            if model not in self._prefix:
                self._prefix[model] = prefix_tokens(self.context, model)
            return self._prefix[model]

    def stop(self, exc: BudgetExceeded) -> None:
        with self.lock:
            if self.budget_stop is None:
                self.budget_stop = exc


@dataclass
class _Job:
    """One top-level chunk: its halves and retries share its index and attempt numbers."""

    review: _Review
    index: int
    attempts: Iterator[int] = field(default_factory=lambda: itertools.count(1))


class ChunkOrchestrator:
    """Review chunks concurrently, following the stop_reason policy for each answer."""

    def __init__(
        self,
        send: SendFn,
        *,
        model: str,
        max_output_tokens: int = 4096,
        concurrency: int = 4,
        max_concurrency: int | None = None,
        fallback_model: str | None = None,
        count: CountFn | None = None,
    ) -> None:
        self._send = send
        self._count = count
        self.model = model
        self.max_output_tokens = max_output_tokens
        # Calls in flight before the API states its rate-limit headroom, and the most that
        # headroom may raise it to (see reviewer.claude.concurrency).
        self.concurrency = max(1, concurrency)
        self.max_concurrency = max(self.concurrency, max_concurrency or self.concurrency)
        self.rate_limits = RateLimits()  # fed every response's headers by the sender
        self.fallback_model = fallback_model if fallback_model != model else None

    def review(
        self,
        context: PromptContext,
        chunks: Sequence[Chunk],
        *,
        sink: UsageSink,
        gate: BudgetGate | None = None,
    ) -> ChunkReviewOutcome:
        """Review `chunks`; every attempt's usage goes to `sink`, `gate` is asked before each call.

        The gate is told the chunk's estimate plus the estimate of the prompt around it.
        Calls start while fewer are in flight than `allowed_in_flight` permits, given the
        rate-limit headroom of the latest response.
        """
        review = _Review(context, sink, gate)
        ordered = sorted(chunks, key=lambda c: c.index)
        if not ordered:
            return ChunkReviewOutcome(())
        prefix = review.prefix_tokens(self.model)
        tokens_per_call = prefix + max(c.estimated_input_tokens for c in ordered)
        results: list[ChunkResult | None] = [None] * len(ordered)
        waiting = deque(enumerate(ordered))
        if warm_up_first(
            chunks=len(ordered),
            start=self.concurrency,
            prefix_tokens=prefix,
            min_cacheable_tokens=model_spec(self.model).min_cacheable_tokens,
        ):
            # The first call alone writes the prompt cache that every later call reads (at a
            # tenth of the price), and its answer states the rate-limit headroom. Calls
            # started together would each write the cache; a prefix under the model's
            # minimum cacheable length is not cached at all, so no warm-up waits for it.
            position, first = waiting.popleft()
            results[position] = self._review_chunk(review, first)
        workers = self.max_concurrency
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="claude") as pool:
            running: dict[Future[ChunkResult], int] = {}
            try:
                while waiting or running:
                    allowed = allowed_in_flight(
                        self.rate_limits.headroom(),
                        start=self.concurrency,
                        cap=self.max_concurrency,
                        tokens_per_call=tokens_per_call,
                    )
                    while waiting and len(running) < allowed:
                        position, chunk = waiting.popleft()
                        running[pool.submit(self._review_chunk, review, chunk)] = position
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        results[running.pop(future)] = future.result()
            except BaseException:
                for future in running:
                    future.cancel()
                raise
        return ChunkReviewOutcome(tuple(r for r in results if r is not None), review.budget_stop)

    def _review_chunk(self, review: _Review, chunk: Chunk) -> ChunkResult:
        job = _Job(review, chunk.index)
        try:
            if review.budget_stop is not None:
                raise review.budget_stop
            result = self._review_piece(job, chunk, depth=0)
        except BudgetExceeded as exc:
            review.stop(exc)
            return ChunkResult(chunk.index, "skipped", None, error=exc.message)
        if result.status == "error":
            log.warning("chunk %d: %s", chunk.index, result.error)
        return dataclasses.replace(result, index=chunk.index)

    def _review_piece(self, job: _Job, piece: Chunk, *, depth: int) -> ChunkResult:
        attempt = Attempt(self.max_output_tokens, fallback_model=self.fallback_model)
        reply = self._call(job, piece, model=self.model, max_tokens=attempt.max_tokens)
        while True:
            step = next_step(reply, attempt)
            if step is Step.RETRY_LARGER:
                attempt = replace(attempt, max_tokens=larger_max_tokens(attempt.max_tokens),
                                  retried_larger=True)  # fmt: skip
                reply = self._call(job, piece, model=self.model, max_tokens=attempt.max_tokens)
                continue
            if step is Step.SPLIT:
                return self._split(job, piece, depth, conclude(job.index, reply))
            if step is Step.FALL_BACK and self.fallback_model:
                return self._fall_back(job, piece, conclude(job.index, reply))
            return conclude(job.index, reply)

    def _fall_back(self, job: _Job, piece: Chunk, refused: ChunkResult) -> ChunkResult:
        """Ask the fallback model once; its answer stands if it reviewed the chunk."""
        assert self.fallback_model is not None
        tokens = self.max_output_tokens
        again = self._call(job, piece, model=self.fallback_model, max_tokens=tokens)
        fallback = conclude(job.index, again)
        if fallback.status == "ok":
            return fallback
        why = fallback.refusal or fallback.error or fallback.status
        note = f"{refused.refusal}; fallback {self.fallback_model}: {why}"
        return dataclasses.replace(refused, refusal=note)

    def _split(self, job: _Job, piece: Chunk, depth: int, failed: ChunkResult) -> ChunkResult:
        """Review the two halves of `piece`; `failed` stands when it cannot be split."""
        if depth >= MAX_SPLIT_DEPTH:
            return failed
        try:
            halves = split_chunk(piece, model=self.model)
        except ValueError:
            return failed
        results: list[ChunkResult] = []
        for half in halves:
            try:
                results.append(self._review_piece(job, half, depth=depth + 1))
            except BudgetExceeded as exc:
                if not results:
                    raise  # nothing found yet: the caller marks the whole chunk skipped
                # Keep what the first half found (and was billed for); skip the rest.
                job.review.stop(exc)
                results.append(ChunkResult(job.index, "skipped", None, error=exc.message))
                break
        return merge(job.index, results)

    def _call(self, job: _Job, piece: Chunk, *, model: str, max_tokens: int) -> Reply:
        """Make one call (the SDK may send several attempts) and record every attempt."""
        review = job.review
        if review.budget_stop is not None:
            raise review.budget_stop  # another chunk ran out of budget
        system, messages = build_request(review.context, piece)
        input_tokens = piece.estimated_input_tokens + review.prefix_tokens(model)
        counted = (
            self._count(model=model, system=system, messages=messages) if self._count else None
        )
        if counted is not None:
            if counted + max_tokens > context_window(model):
                return Reply(too_long=True)  # split now rather than pay for a refused call
            input_tokens = counted
        if review.gate is not None:
            review.gate.before_call(
                model=model, input_tokens=input_tokens, max_output_tokens=max_tokens
            )
        records: list[CallRecord] = []
        reply: Reply | None = None
        try:
            reply = self._send(
                model=model,
                max_tokens=max_tokens,
                system=system,
                messages=messages,
                chunk_index=job.index,
                attempts=job.attempts,
                records=records,
            )
            return reply
        finally:
            if reply is not None and reply.invalid_output and records[-1:]:
                # Only now is it known that the last, billed, answer was unusable.
                last = records[-1]
                records[-1] = dataclasses.replace(last, outcome="invalid_output", error=reply.error)
            for record in records:
                review.sink(record)
            if not records and review.gate is not None:
                review.gate.release()  # no attempt was sent (every attempt leaves a record)
