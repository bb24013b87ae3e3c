"""Reading one batch result: its ledger record, and either the chunk's final result or the
requests it needs next (larger, split, on the fallback model, retried, re-queued), decided
by the same `core.policy` as a real-time answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from anthropic.types.messages import MessageBatchIndividualResponse

from reviewer.claude.client import outcome_of, reply_of, token_counts
from reviewer.claude.realtime import MAX_SPLIT_DEPTH
from reviewer.core.batch_state import Piece, custom_id, piece_chunk
from reviewer.core.chunking import Chunk, split_chunk
from reviewer.core.policy import (
    Attempt,
    ChunkResult,
    Reply,
    Step,
    conclude,
    larger_max_tokens,
    next_step,
)
from reviewer.spend.usage import CallRecord


@dataclass(frozen=True)
class ResultReader:
    """How a runner asks: its model, its max_tokens, and the model a refusal falls back to."""

    model: str
    max_output_tokens: int
    fallback_model: str | None

    def settle(
        self,
        piece: Piece,
        item: MessageBatchIndividualResponse,
        batch_id: str,
        round_: int,
        chunks: Sequence[Chunk],
    ) -> tuple[CallRecord, ChunkResult | None, list[Piece]]:
        """One result: its ledger record, and either a final result or follow-up pieces."""
        result = item.result
        base = CallRecord(
            model=piece.model,
            chunk_index=piece.index,
            attempt=round_,
            outcome=result.type,
            batch_id=batch_id,
            custom_id=piece.custom_id,
            service_tier="batch",
        )
        if result.type == "canceled":
            return (
                base,
                ChunkResult(
                    piece.index, "skipped", None, error="the batch was canceled before this chunk"
                ),
                [],
            )
        if result.type == "expired":
            if not piece.requeued:
                return base, None, [dataclasses.replace(piece, requeued=True)]
            return (
                base,
                ChunkResult(
                    piece.index, "error", None, error="the batch expired twice before this chunk"
                ),
                [],
            )
        if result.type == "errored":
            error = result.error.error
            reply = Reply(
                error=f"batch request errored: {error.type}: {error.message}",
                too_long="too long" in error.message.lower(),
                transient=error.type in ("api_error", "overloaded_error", "rate_limit_error"),
            )
            record = dataclasses.replace(base, outcome="error", error=reply.error)
            if not reply.too_long:
                if not piece.retried_error:
                    return record, None, [dataclasses.replace(piece, retried_error=True)]
                return record, conclude(piece.index, reply), []
            return record, *self.next_pieces(piece, reply, chunks)
        message = result.message
        record = dataclasses.replace(
            base,
            outcome=outcome_of(message.stop_reason),
            stop_reason=message.stop_reason,
            request_id=message.id,
            **token_counts(message.usage),
            service_tier=message.usage.service_tier or "batch",
        )
        reply = reply_of(message)
        if reply.invalid_output:
            record = dataclasses.replace(record, outcome="invalid_output", error=reply.error)
        return record, *self.next_pieces(piece, reply, chunks)

    def next_pieces(
        self, piece: Piece, reply: Reply, chunks: Sequence[Chunk]
    ) -> tuple[ChunkResult | None, list[Piece]]:
        attempt = Attempt(
            piece.max_tokens, piece.retried_larger, self.fallback_model, piece.on_fallback
        )
        step = next_step(reply, attempt)
        if step is Step.RETRY_LARGER:
            larger = larger_max_tokens(piece.max_tokens)
            return None, [dataclasses.replace(piece, max_tokens=larger, retried_larger=True)]
        if step is Step.SPLIT and len(piece.split) < MAX_SPLIT_DEPTH:
            try:
                split_chunk(piece_chunk(chunks, piece, model=self.model), model=self.model)
            except ValueError:
                return conclude(piece.index, reply), []
            return None, [
                Piece(
                    custom_id("", piece.index, (*piece.split, half)),
                    piece.index,
                    (*piece.split, half),
                    piece.model,
                    self.max_output_tokens,
                    on_fallback=piece.on_fallback,
                )
                for half in (0, 1)
            ]
        if step is Step.FALL_BACK and self.fallback_model:
            refused = conclude(piece.index, reply).refusal
            return None, [
                dataclasses.replace(
                    piece,
                    model=self.fallback_model,
                    on_fallback=True,
                    max_tokens=self.max_output_tokens,
                    refused=refused,
                )
            ]
        result = conclude(piece.index, reply)
        if piece.on_fallback and piece.refused and result.status != "ok":
            why = result.refusal or result.error or result.status
            note = f"{piece.refused}; fallback {piece.model}: {why}"
            result = ChunkResult(piece.index, "refused", "refusal", refusal=note)
        return result, []
