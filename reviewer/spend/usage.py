"""What one Messages API call attempt used, handed to a sink (the ledger persists it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CallRecord:
    """One attempt, billed or not: `outcome` is ok, truncated, refused, context_exceeded,
    invalid_output, unexpected_stop, or error (no usage came back)."""

    model: str
    chunk_index: int
    attempt: int
    outcome: str
    stop_reason: str | None = None
    request_id: str | None = None
    status_code: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    # The TTL breakdown of cache_creation_input_tokens, when the API sent one.
    cache_write_5m_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    service_tier: str | None = None
    error: str | None = None
    # Set for a Message Batches result: the batch and the request's custom_id.
    batch_id: str | None = None
    custom_id: str | None = None


class UsageSink(Protocol):
    def __call__(self, record: CallRecord, /) -> None: ...


class BudgetGate(Protocol):
    """Asked before every call; raises errors.BudgetExceeded to stop the review."""

    def before_call(self, *, model: str, input_tokens: int, max_output_tokens: int) -> None: ...

    def release(self) -> None:
        """The call `before_call` last let through on this thread sent nothing: free it."""
        ...


class HandOverGate(BudgetGate, Protocol):
    """A gate whose reservation can outlive the call: a batch is collected later, anywhere."""

    def hand_over(self) -> str | None:
        """Take the reservation `before_call` just made on this thread out of the gate's
        hands (its id, None when nothing was written): the collector settles it later."""
        ...
