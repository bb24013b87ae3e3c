"""Sending a batch round: each piece as a request, and finding a batch whose id was lost
to a crash between creating it and recording it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import anthropic
from anthropic.types import MessageParam, TextBlockParam
from anthropic.types.messages import MessageBatch
from anthropic.types.messages.batch_create_params import Request

from reviewer.core.batch_state import Piece
from reviewer.core.chunking import Chunk
from reviewer.core.findings import findings_json_schema
from reviewer.core.models import model_spec
from reviewer.core.prompt import PromptContext, build_request

# A batch can outlast the default 5-minute cache: its breakpoints ask for one hour.
BATCH_CACHE_TTL = "1h"
# Listing recent batches for one lost between the intent and its id: created this long
# before the intent still counts (clock skew between this machine and the API).
LOST_BATCH_SKEW = timedelta(minutes=5)


def batch_request(
    context: PromptContext, chunk: Chunk, piece: Piece, *, effort: str | None
) -> Request:
    """One piece as a batch request: the same parameters as a real-time call."""
    system, messages = build_request(context, chunk, ttl=BATCH_CACHE_TTL)
    # The same parameters as a real-time call (claude/client.py), per model's data.
    spec = model_spec(piece.model)
    options = spec.request_options(effort=effort)
    output_config: dict[str, Any] = {
        "format": {"type": "json_schema", "schema": findings_json_schema()},
        **options.pop("output_config", {}),
    }
    params = {
        "model": piece.model,
        "max_tokens": min(piece.max_tokens, spec.max_output_tokens),
        "system": cast("list[TextBlockParam]", system),
        "messages": cast("list[MessageParam]", messages),
        "output_config": output_config,
        **options,
    }
    return cast(Request, {"custom_id": piece.custom_id, "params": params})


def find_lost_batch(
    client: anthropic.Anthropic, known: set[str], requests: list[Request], since: datetime
) -> str | None:
    """A batch this job created before a crash lost its id: created after the intent,
    as many requests, held by no job, and (once ended) answering our custom ids."""
    wanted = {r["custom_id"] for r in requests}
    candidates: list[MessageBatch] = []
    for batch in client.messages.batches.list(limit=100):
        if batch.created_at < since - LOST_BATCH_SKEW:
            break  # newest first: the rest are older
        counts = batch.request_counts
        total = (
            counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
        )
        if batch.id in known or total != len(requests):
            continue
        if batch.processing_status == "ended":
            first = next(iter(client.messages.batches.results(batch.id)), None)
            if first is not None and first.custom_id in wanted:
                return batch.id
            continue
        candidates.append(batch)
    if len(candidates) == 1:
        return candidates[0].id
    return None
