"""What a use case needs from the world, as Protocols; adapters implement them.

A use case in `reviewer/review/` imports these, never an adapter module: the GitHub client
(`reviewer.github.client.GitHubClient`), the Claude runners (`reviewer.claude`) and the spend
book (`reviewer.spend.budget.ReviewSpend`) satisfy them structurally, and
`reviewer.services.Services` hands them out, opened once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from reviewer.core.anchoring import ReviewDraft
from reviewer.core.chunking import Chunk
from reviewer.core.diff import PullRequestDiff
from reviewer.core.lifecycle import FindingRecord
from reviewer.core.policy import ChunkReviewOutcome
from reviewer.core.prompt import PromptContext
from reviewer.core.threads import ReviewThread
from reviewer.model import Answer, CheckRunReport, ProgressFn, PublishResult, PullInfo, Trigger
from reviewer.settings import Settings
from reviewer.spend.pricing import PriceTable
from reviewer.spend.usage import BudgetGate, CallRecord, HandOverGate, UsageSink


class Publisher(Protocol):
    """Where a review of one pull request goes (a review today; a check run beside it)."""

    def find(self, *, key: str, commit_id: str) -> PublishResult | None:
        """What was already published for `commit_id` under the hidden `key`, if anything."""
        ...

    def publish(self, draft: ReviewDraft) -> PublishResult:
        """Publish `draft` once; never twice, whatever fails on the way."""
        ...


class CheckRuns(Protocol):
    """The "Claude review" check run of a repository's head commits (GitHub Apps only)."""

    def find(self, *, head_sha: str, key: str | None) -> int | None:
        """The run an earlier attempt of this review (same `key`) left unfinished, if any."""
        ...

    def start(self, *, head_sha: str, key: str | None) -> int:
        """The run of this review, `in_progress`: found again (a retry), else created."""
        ...

    def complete(self, check_run_id: int, report: CheckRunReport) -> None:
        """Add the annotations (at most 50 a request) and set the conclusion."""
        ...


class PullRequests(Protocol):
    """GitHub as a review reads it and writes to it, for one identity."""

    def get_pull(self, repo: str, number: int) -> PullInfo: ...

    def head_moved(self, repo: str, number: int, expected_head_sha: str) -> bool: ...

    def get_pull_files_diff(self, repo: str, number: int) -> tuple[PullRequestDiff, list[str]]: ...

    def get_incremental_diff(
        self, repo: str, pull: PullInfo, since_sha: str
    ) -> PullRequestDiff | None: ...

    def get_file_text(self, repo: str, path: str, ref: str) -> str | None: ...

    def bot_login(self) -> str: ...

    def last_reviewed_head(
        self, repo: str, number: int, bot_login: str | None = None, *, marker_key: bytes
    ) -> str | None: ...

    def previous_fingerprints(
        self, repo: str, number: int, bot_login: str | None = None, *, marker_key: bytes
    ) -> set[str]: ...

    def may_trigger(self, repo: str, login: str, *, is_bot: bool) -> bool: ...

    def add_reaction(self, repo: str, comment_id: int, content: str = "eyes") -> None: ...

    def post_issue_comment(self, repo: str, number: int, body: str) -> str: ...

    def has_bot_comment(self, repo: str, number: int, marker: str) -> bool: ...

    def publisher(self, repo: str, number: int, marker_key: bytes) -> Publisher: ...

    def check_runs(self, repo: str) -> CheckRuns: ...

    def threads(self, repo: str, number: int) -> ThreadActions: ...


class ThreadActions(Protocol):
    """The review threads of one pull request (GraphQL for listing, resolving and hiding)."""

    def all(self) -> list[ReviewThread]: ...

    def resolve(self, thread_id: str) -> None: ...

    def minimize(self, node_id: str) -> None: ...

    def reply(self, first_comment_id: int, body: str) -> int:
        """Answer in a thread, to its first comment; return the new comment's id."""
        ...

    def thumbs_down(self, comment_id: int) -> list[str]:
        """Normalised logins of who reacted 👎 to a review comment."""
        ...


class FindingStore(Protocol):
    """Every finding the bot posted, and what became of it (open, fixed, dismissed)."""

    def for_pull(self, repo: str, number: int) -> list[FindingRecord]: ...

    def save(self, records: Sequence[FindingRecord]) -> None:
        """Insert new findings, update known ones (by repository, PR and fingerprint)."""
        ...


class SpendBook(Protocol):
    """One review's spend: the budget gate before each call, the sink after each attempt."""

    def before_call(self, *, model: str, input_tokens: int, max_output_tokens: int) -> None:
        """Raise errors.BudgetExceeded when the call's worst case would pass a budget."""
        ...

    def release(self) -> None:
        """The call `before_call` last let through on this thread sent nothing: free it."""
        ...

    def hand_over(self) -> str | None:
        """Take this thread's reservation out of the next attempt's hands (a batch round)."""
        ...

    def __call__(self, record: CallRecord, /) -> None:
        """Price and write down one attempt (LedgerError when it cannot be written)."""
        ...

    @property
    def total(self) -> Decimal:
        """What this review's calls have cost so far."""
        ...

    def month_to_date(self) -> Decimal:
        """What the repository has spent this calendar month, this review included."""
        ...


class ModelRunner(Protocol):
    """Review chunks with a model under the stop_reason policy (real time, or a batch)."""

    def review(
        self,
        context: PromptContext,
        chunks: Sequence[Chunk],
        *,
        sink: UsageSink,
        gate: BudgetGate | None = None,
    ) -> ChunkReviewOutcome: ...


class BatchJobInfo(Protocol):
    """A batch job as the ledger database keeps it."""

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
    def request_json(self) -> str: ...
    @property
    def result_json(self) -> str | None: ...


class BatchRoundStatus(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def total(self) -> int: ...
    @property
    def processing(self) -> int: ...
    @property
    def batch_ids(self) -> tuple[str, ...]: ...


class BatchModelRunner(Protocol):
    """Review chunks as Message Batches (`reviewer.claude.batch.BatchRunner`)."""

    def job(self, key_or_batch_id: str) -> BatchJobInfo | None: ...

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
    ) -> str: ...

    def status(self, key: str) -> BatchRoundStatus: ...

    def wait(
        self,
        key: str,
        *,
        progress: ProgressFn | None = None,
        max_wait_s: float | None = None,
    ) -> BatchRoundStatus: ...

    def cancel(self, key: str) -> BatchRoundStatus: ...

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
    ) -> ChunkReviewOutcome | None: ...

    def finish(self, key: str, *, status: str, result_json: str | None = None,
               error: str | None = None) -> None: ...  # fmt: skip


class Answerer(Protocol):
    """A model answering in plain text: gated before the call, every attempt to the sink."""

    model: str

    def answer(
        self,
        *,
        system: str,
        prompt: str,
        sink: UsageSink,
        gate: BudgetGate | None = None,
        chunk_index: int = 0,
    ) -> Answer: ...


class ReviewServices(Protocol):
    """The services one process opened once (`reviewer.services.open_services`)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def prices(self) -> PriceTable: ...

    @property
    def marker_key(self) -> bytes:
        """The key of the MAC on the bot's hidden markers (see reviewer.core.markers)."""
        ...

    def pull_requests(self, installation_id: int | None = None) -> PullRequests:
        """GitHub for this installation (or the configured token); built once, then reused."""
        ...

    def model_runner(self, model: str) -> ModelRunner:
        """The runner for `model` with the process's Claude client."""
        ...

    def batch_runner(self, model: str) -> BatchModelRunner:
        """The Message Batches runner for `model`, its jobs in the ledger database."""

    def answerer(self, model: str) -> Answerer:
        """A plain-text answerer for `model` with the process's Claude client."""
        ...

    def findings(self) -> FindingStore:
        """The findings table, in the ledger's database."""
        ...

    def spend_book(
        self,
        *,
        repo: str,
        pr_number: int | None,
        head_sha: str | None,
        trigger: Trigger,
        monthly_usd: Decimal | None,
        review_usd: Decimal | None,
        review_id: str | None = None,
        kind: str = "review",
    ) -> SpendBook:
        """A review's spend in the process's ledger (`review_id`: a batch job's key)."""
        ...
