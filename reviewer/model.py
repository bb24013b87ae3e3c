"""The review's public types: what a trigger asks for, what is reviewed, and what came of it.

Entry points build a `ReviewRequest`; the review use case fetches a `ReviewTarget`, plans it
into a `Plan`, runs the model (one `ChunkResult` per chunk) and returns a `ReviewResult`.
Adapters speak these types too (`PullInfo`, `PublishResult`), so no private type crosses a
module boundary. Per-file and per-chunk reports are plain data in `reviewer.core.reports`; a
chunk's model outcome is `reviewer.core.policy.ChunkResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from reviewer.config.effective import EffectiveConfig
from reviewer.config.schema import RepoConfig
from reviewer.core.anchoring import InlineComment
from reviewer.core.chunking import Chunk
from reviewer.core.diff import PullRequestDiff
from reviewer.core.filters import FileDecision
from reviewer.core.findings import Finding
from reviewer.core.prompt import PromptContext
from reviewer.core.reports import ChunkReport, FileReport

ProgressFn = Callable[[str], None]

Trigger = Literal["auto", "command", "action", "cli"]
# budget_exhausted: the budget stopped every chunk before any was reviewed (not "clean").
# submitted: a batch was submitted and is not collected yet (--batch --no-wait).
Status = Literal[
    "reviewed", "dry_run", "skipped", "refused", "failed", "budget_exhausted", "submitted"
]
Mode = Literal["realtime", "batch", "auto"]


@dataclass(frozen=True)
class ReviewRequest:
    """What a trigger (webhook job, Action, CLI) asks the engine to review.

    `diff_text` set: review that local diff (no GitHub). Otherwise fetch `repo`#`pr_number`.
    `expected_head_sha`: the head the trigger saw; a PR whose head moved since is skipped.
    `requested_by`: the commenter of a command; the engine checks their permission first.
    `announce_refusal`: False when that person was told recently; a refusal is then silent.
    """

    repo: str
    pr_number: int | None = None
    trigger: Trigger = "cli"
    diff_text: str | None = None
    expected_head_sha: str | None = None
    installation_id: int | None = None
    requested_by: str | None = None
    comment_id: int | None = None
    # What the trigger saw: the pull_request action ("opened", ...) and the comment's
    # command word; the engine checks them against the repository's review.events/command.
    event_action: str | None = None
    command: str | None = None
    delivery_id: str | None = None
    dry_run: bool = False
    post: bool = True
    model: str | None = None
    config_path: str | None = None
    announce_refusal: bool = True
    # realtime | batch | auto; None: the operator's REVIEWER_REVIEW_MODE, else the repository's.
    mode: Mode | None = None
    # Batch mode: wait for the batch (None: the trigger's default), at most this long.
    wait: bool = True
    batch_max_wait_s: float | None = None
    # `review.context` from the command line (none, hunk, definition, file); None: config.
    context: str | None = None
    # A local checkout: the Action's workspace (files read with git at the head) or, for a
    # local diff, the working tree whose files are read as they are.
    checkout: str | None = None


@dataclass(frozen=True)
class ReviewResult:
    status: Status
    reason: str | None = None
    model: str | None = None
    head_sha: str | None = None
    files: tuple[FileReport, ...] = ()
    chunks: tuple[ChunkReport, ...] = ()
    comments: tuple[InlineComment, ...] = ()
    unanchored: tuple[Finding, ...] = ()
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: Decimal = Decimal(0)
    estimated_input_tokens: int = 0
    estimated_cost_usd: Decimal = Decimal(0)
    month_to_date_usd: Decimal | None = None
    budget_stop: str | None = None
    review_id: int | None = None
    review_url: str | None = None
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(c.finding for c in self.comments) + self.unanchored


@dataclass
class ReviewTarget:
    """What is under review, however it was fetched (a local diff or a pull request)."""

    repo: str
    diff: PullRequestDiff
    pr_number: int | None = None
    head_sha: str | None = None
    title: str = ""
    description: str = ""
    repo_config: RepoConfig | None = None
    known_fingerprints: frozenset[str] = frozenset()
    rereview: bool = False
    notes: list[str] = field(default_factory=list)
    draft: bool = False
    # Hours since the pull request was opened, when known (review.mode auto).
    age_hours: float | None = None
    # The head's text of a file (None: none), for read-only context; None: no context.
    read_head: Callable[[str], str | None] | None = None
    # (path, text) of the guidance files read from the base branch, in order.
    guidance: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything short of calling the model: which files, which chunks, what it would cost."""

    model: str
    config: EffectiveConfig
    decisions: tuple[FileDecision, ...]
    chunks: tuple[Chunk, ...]
    context: PromptContext
    prefix_tokens: int
    estimated_input_tokens: int
    estimated_cost_usd: Decimal
    # Read-only context (review.context): estimated tokens it adds over the changed lines.
    context_tokens: int = 0
    changed_lines: int = 0


@dataclass(frozen=True)
class PullInfo:
    """What the reviewer needs to know about one pull request."""

    number: int
    head_sha: str
    base_sha: str
    base_ref: str
    head_ref: str
    head_repo_full_name: str | None  # None when the fork was deleted
    draft: bool
    state: str  # "open" | "closed"
    merged: bool
    title: str
    body: str
    author: str
    author_is_bot: bool
    html_url: str
    changed_files: int = 0
    created_at: str = ""  # ISO 8601, as the API sends it

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PullInfo:
        """Build from a REST pull-request object (as in `GET /pulls/{n}` or a webhook)."""
        head, base, user = data["head"], data["base"], data.get("user") or {}
        head_repo = head.get("repo") or {}
        return cls(
            number=int(data["number"]),
            head_sha=head["sha"],
            base_sha=base["sha"],
            base_ref=base["ref"],
            head_ref=head["ref"],
            head_repo_full_name=head_repo.get("full_name"),
            draft=bool(data.get("draft")),
            state=data["state"],
            merged=bool(data.get("merged") or data.get("merged_at")),
            title=data.get("title") or "",
            body=data.get("body") or "",
            author=user.get("login", ""),
            author_is_bot=user.get("type") == "Bot",
            html_url=data.get("html_url", ""),
            changed_files=int(data.get("changed_files") or 0),
            created_at=str(data.get("created_at") or ""),
        )


@dataclass(frozen=True)
class PublishResult:
    """The review GitHub holds now, and where each comment of the draft ended up."""

    review_id: int
    html_url: str
    posted: tuple[InlineComment, ...]
    moved_to_body: tuple[InlineComment, ...] = ()
    reused: bool = False  # GitHub had created it before a failed answer: not posted again
    probes: int = 0
    overflow_comments: int = 0


CheckConclusion = Literal["success", "failure", "neutral"]


@dataclass(frozen=True)
class CheckRunReport:
    """How one review ends as its check run: the conclusion, the output, the annotations."""

    conclusion: CheckConclusion
    title: str
    summary: str
    comments: tuple[InlineComment, ...] = ()


@dataclass(frozen=True)
class Answer:
    """A model's plain-text answer (a reply in a thread, `/ask`), or why there is none."""

    text: str
    stop_reason: str | None = None
    error: str | None = None


ConversationStatus = Literal["answered", "dismissed", "ignored", "refused", "failed"]


@dataclass(frozen=True)
class ConversationResult:
    """What came of a reply in a thread or an `/ask`: answered, or why not."""

    status: ConversationStatus
    reason: str | None = None
    comment_id: int | None = None  # the bot's answer
    html_url: str | None = None
    cost_usd: Decimal = Decimal(0)
    calls: int = 0
