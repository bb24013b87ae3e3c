"""Review chunks through the Message Batches API: half price, answered within 24 hours.

A review is sent in rounds. Round 1 holds one request per chunk (`custom_id` = the review
key and the chunk's index). Each result goes through the same `core.policy` as a real-time
answer: `max_tokens` retries larger then splits, a too-long context splits, a refusal falls
back, `errored` is retried once, `expired` re-queued once, `canceled` reported (it cost
nothing). What needs another request goes into the next round: a follow-up batch when nobody
waits, real time when someone does. The state between rounds is JSON in the batch-jobs
table, so any process that shares the ledger database can collect.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import anthropic
from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from anthropic.types.messages.batch_create_params import Request

from reviewer.claude.batch_ports import JobRecord, JobStore, ModelRunnerLike
from reviewer.claude.batch_requests import batch_request, find_lost_batch
from reviewer.claude.batch_results import ResultReader
from reviewer.core.batch_state import (
    Piece,
    RoundStatus,
    RunState,
    custom_id,
    final_results,
    piece_chunk,
    piece_key,
    result_json,
    split_round,
)
from reviewer.core.chunking import Chunk
from reviewer.core.policy import (
    ChunkResult,
    ChunkReviewOutcome,
)
from reviewer.core.prompt import PromptContext, prefix_tokens
from reviewer.errors import BudgetExceeded, ClaudeError
from reviewer.spend.usage import BudgetGate, HandOverGate, UsageSink

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
RealtimeFactory = Callable[[str, int, bool], ModelRunnerLike]


class BatchRunner:
    """Submit, watch, collect and cancel one review's Message Batches."""

    def __init__(
        self,
        client: anthropic.Anthropic,
        store: JobStore,
        *,
        model: str,
        max_output_tokens: int = 4096,
        fallback_model: str | None = None,
        realtime: RealtimeFactory | None = None,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 10.0,
        max_poll_s: float = 120.0,
        effort: str | None = None,
    ) -> None:
        self.effort = effort
        self._client = client
        self._store = store
        self.model = model
        self.max_output_tokens = max_output_tokens
        self.fallback_model = fallback_model if fallback_model != model else None
        self._realtime = realtime
        self._clock = clock
        self._sleep = sleep
        self.poll_s = poll_s
        self.max_poll_s = max_poll_s
        # Requests sent to the API by this runner, for the benchmark's figures.
        self.requests_sent = 0

    def job(self, key_or_batch_id: str) -> JobRecord | None:
        """The job with this key, or whose current batch has this id."""
        return self._store.get(key_or_batch_id)

    def finish(
        self, key: str, *, status: str, result_json: str | None = None, error: str | None = None
    ) -> None:
        """Mark the job collected (with the review's result), canceled or failed."""
        self._store.update(
            key, now=self._clock(), status=status, result_json=result_json, error=error
        )

    # -- submitting -------------------------------------------------------------------------

    def submit(
        self,
        key: str,
        context: PromptContext,
        chunks: Sequence[Chunk],
        *,
        repository: str,
        pr_number: int | None,
        request_json: str,
        gate: HandOverGate | None = None,
    ) -> str:
        """Send round 1 (once: a job already submitted is left alone); return its batch id."""
        job = self._store.get(key)
        if job is not None and job.status != "submitting":
            return job.batch_id or key
        if job is not None:
            state = RunState.from_json(job.state_json)
        else:
            state = RunState(
                pieces=[
                    Piece(custom_id(key, c.index), c.index, (), self.model, self.max_output_tokens)
                    for c in sorted(chunks, key=lambda c: c.index)
                ]
            )
        return self._send_round(
            key,
            context,
            chunks,
            state,
            repository=repository,
            pr_number=pr_number,
            request_json=request_json,
            gate=gate,
            resuming=job is not None,
        )

    def _send_round(
        self,
        key: str,
        context: PromptContext,
        chunks: Sequence[Chunk],
        state: RunState,
        *,
        repository: str,
        pr_number: int | None,
        request_json: str,
        gate: HandOverGate | None,
        resuming: bool,
    ) -> str:
        requests = [
            batch_request(context, self._piece_chunk(chunks, p), p, effort=self.effort)
            for p in state.pieces
        ]
        if gate is not None and not resuming:
            # The whole round's worst case, reserved before anything is sent.
            prefix = prefix_tokens(context, self.model)
            inputs = sum(
                self._piece_chunk(chunks, p).estimated_input_tokens + prefix for p in state.pieces
            )
            gate.before_call(
                model=self.model,
                input_tokens=inputs,
                max_output_tokens=sum(p.max_tokens for p in state.pieces),
            )
            # The results come back later, maybe to another process: they settle it there.
            reservation = gate.hand_over()
            if reservation is not None:
                state.reservations.append([reservation, self.model])
        parts = split_round(requests)
        job = self._store.get(key)
        if job is None or not resuming:
            state.batches = []
            job = self._store.intend(
                key=key,
                repository=repository,
                pr_number=pr_number,
                requests=len(requests),
                request_json=request_json,
                state_json=state.to_json(),
                now=self._clock(),
            )
        since = job.submitted_after
        for number, part in enumerate(parts):
            if number < len(state.batches):
                continue  # sent before a crash, and its id was recorded
            found = (
                find_lost_batch(self._client, self._store.known_batch_ids(), part, since)
                if resuming
                else None
            )
            batch_id = found or self._create(part)
            state.batches.append(batch_id)
            self._store.update(
                key, now=self._clock(), batch_id=state.batches[0], state_json=state.to_json()
            )
        self._store.update(key, now=self._clock(), status="submitted")
        return state.batches[0]

    def _piece_chunk(self, chunks: Sequence[Chunk], piece: Piece) -> Chunk:
        return piece_chunk(chunks, piece, model=self.model)

    def _create(self, requests: list[Request]) -> str:
        try:
            batch = self._client.messages.batches.create(requests=requests)
        except anthropic.APIError as exc:
            raise ClaudeError(f"cannot submit the batch: {exc}", retryable=True) from exc
        self.requests_sent += len(requests)
        return batch.id

    # -- watching ---------------------------------------------------------------------------

    def status(self, key: str) -> RoundStatus:
        """Ask the API how the job's current round is doing."""
        job = self._job(key)
        state = RunState.from_json(job.state_json)
        batches = [self._retrieve(b) for b in state.batches]
        statuses = {b.processing_status for b in batches}
        overall = (
            "ended"
            if statuses == {"ended"}
            else ("canceling" if "canceling" in statuses else "in_progress")
        )
        return RoundStatus(
            overall,
            total=len(state.pieces),
            processing=sum(b.request_counts.processing for b in batches),
            batch_ids=tuple(state.batches),
        )

    def wait(
        self, key: str, *, progress: Progress | None = None, max_wait_s: float | None = None
    ) -> RoundStatus:
        """Poll with backoff until the round ends or `max_wait_s` passes."""
        delay, waited = self.poll_s, 0.0
        while True:
            status = self.status(key)
            if progress is not None:
                done = status.total - status.processing
                progress(
                    f"batch {', '.join(status.batch_ids)}: {status.status}, "
                    f"{done} of {status.total} requests done, waited {waited:.0f}s"
                )
            if status.status == "ended":
                return status
            if max_wait_s is not None and waited >= max_wait_s:
                return status
            pause = delay if max_wait_s is None else min(delay, max(max_wait_s - waited, 0))
            self._sleep(pause)
            waited += pause
            delay = min(delay * 1.5, self.max_poll_s)

    def cancel(self, key: str) -> RoundStatus:
        """Ask the API to cancel the round; requests already processed still count."""
        job = self._job(key)
        state = RunState.from_json(job.state_json)
        for batch_id in state.batches:
            try:
                self._client.messages.batches.cancel(batch_id)
            except anthropic.APIError as exc:
                raise ClaudeError(f"cannot cancel batch {batch_id}: {exc}") from exc
        state.canceled = True
        self._store.update(key, now=self._clock(), state_json=state.to_json())
        return self.status(key)

    # -- collecting -------------------------------------------------------------------------

    def collect(
        self,
        key: str,
        context: PromptContext,
        chunks: Sequence[Chunk],
        *,
        sink: UsageSink,
        gate: HandOverGate | None = None,
        waiting: bool,
        canceled_to_realtime: bool = False,
    ) -> ChunkReviewOutcome | None:
        """Read the ended round's results through the policy; None while more is pending.

        What needs another request is reviewed in real time when `waiting` (someone waits
        for the review), else sent as the next round. `canceled_to_realtime`: requests
        canceled (by a wait limit) are reviewed in real time rather than reported.
        """
        job = self._job(key)
        state = RunState.from_json(job.state_json)
        follow_ups: list[Piece] = []
        canceled: list[Piece] = []
        by_id = {p.custom_id: p for p in state.pieces}
        reader = ResultReader(self.model, self.max_output_tokens, self.fallback_model)
        for batch_id in state.batches:
            written = self._store.written_custom_ids(batch_id)
            for item in self._results(batch_id):
                piece = by_id.get(item.custom_id)
                if piece is None:
                    continue
                record, result, more = reader.settle(piece, item, batch_id, state.round, chunks)
                if item.custom_id not in written:
                    sink(record)
                if result is not None and result.status == "skipped" and canceled_to_realtime:
                    canceled.append(piece)
                elif result is not None:
                    state.done[piece_key(piece)] = result_json(result)
                follow_ups += more
        if canceled:
            follow_ups += canceled
        # The round's results are written: its worst-case reservation is over.
        for reservation, _model in state.reservations:
            self._store.settle_reservation(reservation)
        state.reservations = []
        budget_stop: BudgetExceeded | None = None
        if follow_ups and (waiting or canceled):
            budget_stop = self._realtime_round(context, chunks, follow_ups, state, sink, gate)
            follow_ups = []
        if follow_ups:
            pending = RunState.from_json(state.to_json())  # as it stands, if no round goes out
            state.round += 1
            state.pieces = [
                dataclasses.replace(p, custom_id=custom_id(key, p.index, p.split, state.round))
                for p in follow_ups
            ]
            try:
                self._send_round(
                    key,
                    context,
                    chunks,
                    state,
                    repository="",
                    pr_number=None,
                    request_json="",
                    gate=gate,
                    resuming=False,
                )
                return None
            except BudgetExceeded as exc:
                # The follow-up round does not fit the budget: what it held is skipped.
                state, budget_stop = pending, exc
                for piece in follow_ups:
                    state.done[piece_key(piece)] = result_json(
                        ChunkResult(piece.index, "skipped", None, error=exc.message)
                    )
        state.pieces = []
        self._store.update(key, now=self._clock(), state_json=state.to_json())
        return ChunkReviewOutcome(final_results(state, chunks), budget_stop)

    def _results(self, batch_id: str) -> list[MessageBatchIndividualResponse]:
        try:
            return list(self._client.messages.batches.results(batch_id))
        except anthropic.APIError as exc:
            raise ClaudeError(
                f"cannot read batch {batch_id}'s results: {exc}", retryable=True
            ) from exc

    def _realtime_round(
        self,
        context: PromptContext,
        chunks: Sequence[Chunk],
        pieces: list[Piece],
        state: RunState,
        sink: UsageSink,
        gate: BudgetGate | None,
    ) -> BudgetExceeded | None:
        """Review `pieces` in real time (someone waits), each with its model and max_tokens."""
        if self._realtime is None:
            raise ClaudeError("no real-time runner to finish the batch review with")
        groups: dict[tuple[str, int, bool], list[Piece]] = {}
        for piece in pieces:
            groups.setdefault((piece.model, piece.max_tokens, piece.on_fallback), []).append(piece)
        stop: BudgetExceeded | None = None
        for (model, max_tokens, on_fallback), group in groups.items():
            runner = self._realtime(model, max_tokens, not on_fallback)
            ordered = sorted(group, key=lambda p: p.index)
            outcome = runner.review(
                context, [self._piece_chunk(chunks, p) for p in ordered], sink=sink, gate=gate
            )
            stop = stop or outcome.budget_stop
            for piece, result in zip(ordered, outcome.results, strict=True):
                state.done[piece_key(piece)] = result_json(result)
        return stop

    def _job(self, key: str) -> JobRecord:
        job = self._store.get(key)
        if job is None:
            raise ClaudeError(f"no batch job {key!r} in the ledger database")
        return job

    def _retrieve(self, batch_id: str) -> MessageBatch:
        try:
            return self._client.messages.batches.retrieve(batch_id)
        except anthropic.APIError as exc:
            raise ClaudeError(f"cannot read batch {batch_id}: {exc}", retryable=True) from exc
