"""What a trigger asks the engine for, and what the engine reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from reviewer.core.anchoring import InlineComment
from reviewer.core.findings import Finding

Trigger = Literal["auto", "command", "action", "cli"]
# budget_exhausted: the budget stopped every chunk before any was reviewed (not "clean").
Status = Literal["reviewed", "dry_run", "skipped", "refused", "failed", "budget_exhausted"]


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


@dataclass(frozen=True)
class FileReport:
    path: str
    status: str
    reviewed: bool
    reason: str | None
    added: int
    removed: int


@dataclass(frozen=True)
class ChunkReport:
    index: int
    files: tuple[str, ...]
    tokens: int  # estimated input tokens of the call, shared prefix included
    status: str = "planned"  # planned | ok | refused | truncated | error | skipped
    stop_reason: str | None = None
    error: str | None = None


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
