"""Review chunks concurrently under the stop_reason policy; each call goes through `send`."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from reviewer.core.chunking import Chunk, split_chunk
from reviewer.core.findings import Finding
from reviewer.core.prompt import PromptContext, build_request, prefix_tokens
from reviewer.core.tokens import context_window
from reviewer.errors import BudgetExceeded
from reviewer.model import ChunkResult, ChunkReviewOutcome
from reviewer.spend.usage import BudgetGate, CallRecord, UsageSink

log = logging.getLogger(__name__)

# A `max_tokens` stop is retried once with twice the budget, up to this many tokens.
MAX_RETRY_OUTPUT_TOKENS = 16_384
# A chunk is halved at most this many times (2**3 = 8 pieces) before giving up.
MAX_SPLIT_DEPTH = 3


@dataclass
class Reply:
    """One finished call, classified."""

    stop_reason: str | None = None
    findings: list[Finding] = field(default_factory=list)
    dropped: int = 0
    refusal: str | None = None
    error: str | None = None
    transient: bool = False
    too_long: bool = False
    invalid_output: bool = False


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
        fallback_model: str | None = None,
        count: CountFn | None = None,
    ) -> None:
        self._send = send
        self._count = count
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.concurrency = max(1, concurrency)
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
        """
        review = _Review(context, sink, gate)
        ordered = sorted(chunks, key=lambda c: c.index)
        if not ordered:
            return ChunkReviewOutcome(())
        workers = min(self.concurrency, len(ordered))
        first: tuple[ChunkResult, ...] = ()
        if len(ordered) > workers:
            # More than one wave of calls: the first call alone writes the prompt cache that
            # every later call then reads (at a tenth of the price), at the cost of one call's
            # latency. Calls started together would each write it.
            first = (self._review_chunk(review, ordered[0]),)
            ordered = ordered[1:]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="claude") as pool:
            futures: list[Future[ChunkResult]] = [
                pool.submit(self._review_chunk, review, chunk) for chunk in ordered
            ]
            try:
                results = first + tuple(f.result() for f in futures)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return ChunkReviewOutcome(results, review.budget_stop)

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
        reply = self._call(job, piece, model=self.model, max_tokens=self.max_output_tokens)
        if reply.stop_reason == "max_tokens":
            larger = min(2 * self.max_output_tokens, MAX_RETRY_OUTPUT_TOKENS)
            if larger > self.max_output_tokens:
                reply = self._call(job, piece, model=self.model, max_tokens=larger)
            if reply.stop_reason == "max_tokens":
                return self._split(job, piece, depth, self._conclude(job, reply))
        if reply.stop_reason == "model_context_window_exceeded" or reply.too_long:
            return self._split(job, piece, depth, self._conclude(job, reply))
        if reply.stop_reason == "refusal" and self.fallback_model:
            refused = self._conclude(job, reply)
            tokens = self.max_output_tokens
            again = self._call(job, piece, model=self.fallback_model, max_tokens=tokens)
            fallback = self._conclude(job, again)
            if fallback.status == "ok":
                return fallback
            why = fallback.refusal or fallback.error or fallback.status
            note = f"{refused.refusal}; fallback {self.fallback_model}: {why}"
            return dataclasses.replace(refused, refusal=note)
        return self._conclude(job, reply)

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
        return _merge(job.index, results)

    def _conclude(self, job: _Job, reply: Reply) -> ChunkResult:
        index, stop = job.index, reply.stop_reason
        if reply.error is not None:
            return ChunkResult(index, "error", stop, error=reply.error, transient=reply.transient)
        if stop == "end_turn":
            findings = tuple(reply.findings)
            return ChunkResult(index, "ok", stop, findings=findings, dropped=reply.dropped)
        if stop == "refusal":
            return ChunkResult(index, "refused", stop, refusal=reply.refusal)
        if stop == "max_tokens":
            return ChunkResult(index, "truncated", stop, error="the answer was cut at max_tokens")
        if stop == "model_context_window_exceeded":
            error = "the chunk does not fit the model's context window and cannot be split"
            return ChunkResult(index, "error", stop, error=error)
        return ChunkResult(index, "error", stop, error=f"unexpected stop_reason {stop}")

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


def _merge(index: int, results: Sequence[ChunkResult]) -> ChunkResult:
    """Fold the results of a chunk's halves into one: the worst status, every finding."""
    rank = {"ok": 0, "refused": 1, "truncated": 2, "error": 3, "skipped": 4}
    worst = max(results, key=lambda r: rank[r.status])
    errors = [r.error for r in results if r.error]
    refusals = [r.refusal for r in results if r.refusal]
    return ChunkResult(
        index=index,
        status=worst.status,
        stop_reason=worst.stop_reason,
        findings=tuple(f for r in results for f in r.findings),
        dropped=sum(r.dropped for r in results),
        error="; ".join(dict.fromkeys(errors)) or None,
        refusal="; ".join(dict.fromkeys(refusals)) or None,
        transient=any(r.transient for r in results if r.status == "error"),
    )
