"""The stop_reason policy: what one model reply means and what to do next (pure).

The real-time runner and a batch runner both classify each answer into a `Reply`, ask
`next_step` what to do with it, and turn the reply they keep into a `ChunkResult` with
`conclude`:

- `end_turn`: validate (the findings were parsed into the reply) and accept.
- `max_tokens`: retry once with a larger `max_tokens`, then split the chunk.
- `model_context_window_exceeded`, or a request refused as too long: split.
- `refusal`: fall back to the other model, once; a `reasoning_extraction` refusal is never
  retried (another model would be asked the same thing).
- an error (the SDK already retried what can be retried) or any other stop: accept as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from reviewer.core.findings import Finding
from reviewer.errors import BudgetExceeded

# A `max_tokens` stop is retried once with twice the budget, up to this many tokens.
MAX_RETRY_OUTPUT_TOKENS = 16_384
# Refusal categories that no other attempt may retry.
NEVER_RETRIED_REFUSALS = frozenset({"reasoning_extraction"})

ChunkStatus = Literal["ok", "refused", "truncated", "error", "skipped"]


@dataclass(frozen=True)
class ChunkResult:
    """What reviewing one chunk gave. `transient` marks an error a later retry may not hit
    (overload, 5xx, rate limit, connection), so a job queue can try the review again."""

    index: int
    status: ChunkStatus
    stop_reason: str | None
    findings: tuple[Finding, ...] = ()
    dropped: int = 0
    error: str | None = None
    refusal: str | None = None
    transient: bool = False
    # stop_details.category of a refusal (cyber, bio, reasoning_extraction, ...), if named.
    refusal_category: str | None = None


@dataclass(frozen=True)
class ChunkReviewOutcome:
    """One result per chunk, in index order; `budget_stop` says why chunks were skipped."""

    results: tuple[ChunkResult, ...]
    budget_stop: BudgetExceeded | None = None


@dataclass
class Reply:
    """One finished call, classified."""

    stop_reason: str | None = None
    findings: list[Finding] = field(default_factory=list)
    dropped: int = 0
    refusal: str | None = None
    refusal_category: str | None = None
    error: str | None = None
    transient: bool = False
    too_long: bool = False
    invalid_output: bool = False


class Step(StrEnum):
    """What to do after a reply."""

    ACCEPT = "accept"  # conclude the chunk with this reply
    RETRY_LARGER = "retry_larger"  # the same request with a larger max_tokens
    SPLIT = "split"  # review the chunk's halves instead
    FALL_BACK = "fall_back"  # the same request to the fallback model


@dataclass(frozen=True)
class Attempt:
    """Where a chunk stands: the call just made and what is left to try."""

    max_tokens: int
    retried_larger: bool = False
    fallback_model: str | None = None
    on_fallback: bool = False


def larger_max_tokens(max_tokens: int) -> int:
    """The `max_tokens` of the one retry after a `max_tokens` stop."""
    return min(2 * max_tokens, MAX_RETRY_OUTPUT_TOKENS)


def next_step(reply: Reply, attempt: Attempt) -> Step:
    """The policy: the step that follows `reply`, given what was already tried."""
    stop = reply.stop_reason
    if reply.error is not None and not reply.too_long:
        return Step.ACCEPT
    if stop == "max_tokens":
        if (
            not attempt.retried_larger
            and larger_max_tokens(attempt.max_tokens) > attempt.max_tokens
        ):
            return Step.RETRY_LARGER
        return Step.SPLIT
    if stop == "model_context_window_exceeded" or reply.too_long:
        return Step.SPLIT
    if stop == "refusal":
        if reply.refusal_category in NEVER_RETRIED_REFUSALS:
            return Step.ACCEPT
        if attempt.fallback_model and not attempt.on_fallback:
            return Step.FALL_BACK
    return Step.ACCEPT


def conclude(index: int, reply: Reply) -> ChunkResult:
    """The chunk result a reply stands for."""
    stop = reply.stop_reason
    if reply.error is not None:
        return ChunkResult(index, "error", stop, error=reply.error, transient=reply.transient)
    if stop == "end_turn":
        return ChunkResult(index, "ok", stop, findings=tuple(reply.findings), dropped=reply.dropped)
    if stop == "refusal":
        return ChunkResult(
            index, "refused", stop, refusal=reply.refusal, refusal_category=reply.refusal_category
        )
    if stop == "max_tokens":
        return ChunkResult(index, "truncated", stop, error="the answer was cut at max_tokens")
    if stop == "model_context_window_exceeded" or reply.too_long:
        error = "the chunk does not fit the model's context window and cannot be split"
        return ChunkResult(index, "error", stop, error=error)
    return ChunkResult(index, "error", stop, error=f"unexpected stop_reason {stop}")


def merge(index: int, results: Sequence[ChunkResult]) -> ChunkResult:
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
        refusal_category=next((r.refusal_category for r in results if r.refusal_category), None),
    )
