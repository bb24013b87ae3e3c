"""What the batch runner is handed: where its jobs are kept, and a real-time runner to
finish with when someone waits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from reviewer.core.chunking import Chunk
from reviewer.core.policy import ChunkReviewOutcome
from reviewer.core.prompt import PromptContext
from reviewer.spend.usage import BudgetGate, UsageSink


class ModelRunnerLike(Protocol):
    """A real-time runner (`reviewer.claude.client.ChunkReviewer`)."""

    def review(
        self,
        context: PromptContext,
        chunks: Sequence[Chunk],
        *,
        sink: UsageSink,
        gate: BudgetGate | None = None,
    ) -> ChunkReviewOutcome: ...


class JobRecord(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def batch_id(self) -> str | None: ...
    @property
    def round(self) -> int: ...
    @property
    def requests(self) -> int: ...
    @property
    def submitted_after(self) -> datetime: ...
    @property
    def request_json(self) -> str: ...
    @property
    def state_json(self) -> str: ...
    @property
    def result_json(self) -> str | None: ...


class JobStore(Protocol):
    """Where batch jobs are kept (`reviewer.spend.batch_jobs.BatchJobs`)."""

    def get(self, key_or_batch_id: str) -> JobRecord | None: ...

    def intend(
        self,
        *,
        key: str,
        repository: str,
        pr_number: int | None,
        requests: int,
        request_json: str,
        state_json: str,
        now: datetime,
    ) -> JobRecord: ...

    def update(self, key: str, *, now: datetime, **values: Any) -> None: ...

    def known_batch_ids(self) -> set[str]: ...

    def written_custom_ids(self, batch_id: str) -> set[str]: ...

    def settle_reservation(self, reservation_id: str) -> None: ...
