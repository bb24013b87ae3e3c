"""The one place that wires the stages: request → diff → chunks → Claude → anchors → review."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from reviewer.config.effective import EffectiveConfig, resolve
from reviewer.config.repo import RepoConfig, load_repo_config
from reviewer.core.anchoring import ReviewDraft, anchor
from reviewer.core.chunking import Chunk, plan_chunks, unsplittable
from reviewer.core.diff import PullRequestDiff, changed_line_count, parse_diff
from reviewer.core.filters import FileDecision, select_files
from reviewer.core.prompt import PromptContext, prefix_tokens
from reviewer.core.summary import build_summary, plural
from reviewer.core.tokens import input_budget
from reviewer.errors import ConfigError
from reviewer.model import (
    ChunkReport,
    FileReport,
    ReviewRequest,
    ReviewResult,
    Status,
    Trigger,
)
from reviewer.settings import Settings
from reviewer.spend.pricing import PriceTable, estimate_cost

__all__ = [
    "ChunkReport",
    "FileReport",
    "ReviewRequest",
    "ReviewResult",
    "Status",
    "Trigger",
    "run_review",
]

ProgressFn = Callable[[str], None]
REPO_CONFIG_PATH = ".github/reviewer.yml"
# Findings for one chunk rarely need more; the dry-run estimate assumes this many output tokens.
ESTIMATED_OUTPUT_TOKENS_PER_CHUNK = 1_000


@dataclass
class _Target:
    """What is under review, however it was fetched."""

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


@dataclass(frozen=True)
class Plan:
    """The dry-run result: which files, which chunks, what it would cost."""

    model: str
    config: EffectiveConfig
    decisions: tuple[FileDecision, ...]
    chunks: tuple[Chunk, ...]
    context: PromptContext
    prefix_tokens: int
    estimated_input_tokens: int
    estimated_cost_usd: Decimal


def run_review(
    request: ReviewRequest,
    settings: Settings,
    *,
    github: Any | None = None,
    anthropic_client: Any | None = None,
    ledger: Any | None = None,
    progress: ProgressFn | None = None,
) -> ReviewResult:
    """Review what `request` names and return what happened; post to GitHub unless dry-run.

    Clients default to ones built from `settings`. Transient failures (GitHub 5xx, Anthropic
    overload after the SDK's own retries) raise a ReviewerError whose `retryable` is true,
    before anything was posted; everything else ends in a ReviewResult.
    """
    say = progress or (lambda _message: None)
    if request.diff_text is not None and request.pr_number is None:
        target = _Target(
            repo=request.repo,
            diff=parse_diff(request.diff_text),
            repo_config=_local_repo_config(request.config_path),
        )
        return _review(request, settings, target, None, anthropic_client, ledger, say)
    if request.pr_number is None:
        raise ConfigError("a review needs a diff or a pull request number")
    from reviewer.review.fetch import fetch_target  # PyGithub is only loaded for PR reviews

    gh = github
    if gh is None:
        from reviewer.github.client import GitHubClient

        gh = GitHubClient.from_settings(settings, installation_id=request.installation_id)
    fetched = fetch_target(request, settings, gh, say)
    if isinstance(fetched, ReviewResult):
        return fetched
    return _review(request, settings, fetched, gh, anthropic_client, ledger, say)


def _local_repo_config(path: str | None) -> RepoConfig | None:
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", path=path) from exc
    return load_repo_config(text, source=path)


def plan_review(request: ReviewRequest, settings: Settings, target: _Target) -> Plan:
    """Everything short of calling the model: config, filters, model choice, chunks, estimate."""
    overrides: dict[str, Any] = {"model.default": request.model} if request.model else {}
    config = resolve(settings, target.repo_config, overrides)
    paths = config.config.paths
    decisions = select_files(target.diff, include=paths.include, exclude=paths.exclude)
    files = [d.file for d in decisions if d.reviewed]
    model = config.choose_model([f.path for f in files], changed_line_count(files))
    price = PriceTable.load(settings.prices_path).price(model)  # unknown model: error, no spend
    context = PromptContext(
        repo=target.repo,
        title=target.title,
        description=target.description,
        instructions=config.config.instructions,
        path_instructions=tuple((rule.path, rule.instructions) for rule in paths.instructions),
    )
    prefix = prefix_tokens(context, model)
    try:
        budget = input_budget(
            model,
            system_tokens=prefix,
            output_reserve=settings.max_output_tokens,
            max_chunk_tokens=settings.max_chunk_tokens,
        )
    except ValueError as exc:  # the prompt and the output reserve leave no room
        raise ConfigError(str(exc), key="max_output_tokens") from exc
    too_long = unsplittable(files, budget_tokens=budget, model=model)
    if too_long:  # skipped with the reason, so the rest is still reviewed
        decisions = tuple(
            FileDecision(d.file, False, too_long[d.file.path]) if d.file.path in too_long else d
            for d in decisions
        )
        files = [f for f in files if f.path not in too_long]
    chunks = plan_chunks(files, budget_tokens=budget, model=model)
    input_tokens = sum(c.estimated_input_tokens + prefix for c in chunks)
    cost = estimate_cost(
        price,
        input_tokens=input_tokens,
        output_tokens=ESTIMATED_OUTPUT_TOKENS_PER_CHUNK * len(chunks),
    )
    return Plan(model, config, decisions, chunks, context, prefix, input_tokens, cost)


def _review(
    request: ReviewRequest,
    settings: Settings,
    target: _Target,
    gh: Any | None,
    anthropic_client: Any | None,
    ledger: Any | None,
    say: ProgressFn,
) -> ReviewResult:
    plan = plan_review(request, settings, target)
    files = _file_reports(plan.decisions)
    say(
        f"{sum(f.reviewed for f in files)} of {plural(len(files), 'file')} to review in "
        f"{plural(len(plan.chunks), 'chunk')} with {plan.model}"
    )
    base = ReviewResult(
        status="dry_run",
        model=plan.model,
        head_sha=target.head_sha,
        files=files,
        chunks=tuple(
            ChunkReport(c.index, c.files, c.estimated_input_tokens + plan.prefix_tokens)
            for c in plan.chunks
        ),
        estimated_input_tokens=plan.estimated_input_tokens,
        estimated_cost_usd=plan.estimated_cost_usd,
        extra={"notes": list(target.notes)},
    )
    if request.dry_run:
        return base
    from reviewer.review.model_run import call_model  # the SDK is only loaded when a call is needed

    run = call_model(request, settings, target, plan, anthropic_client, ledger, say)
    findings = [f for r in run.outcome.results for f in r.findings]
    output = plan.config.config.output
    anchored = anchor(
        findings,
        target.diff,
        max_comments=output.max_comments,
        min_severity=output.min_severity,
        suggestions=output.suggestions,
        known_fingerprints=target.known_fingerprints,
    )
    chunk_reports = tuple(
        ChunkReport(c.index, c.files, c.estimated_input_tokens + plan.prefix_tokens,
                    r.status, r.stop_reason, r.error or r.refusal)
        for c, r in zip(plan.chunks, run.outcome.results, strict=True)
    )  # fmt: skip
    budget_stop = run.outcome.budget_stop.message if run.outcome.budget_stop else None
    summary = build_summary(
        model=plan.model,
        files=files,
        chunks=chunk_reports,
        anchored=anchored,
        cost_usd=run.cost_usd,
        month_to_date_usd=run.month_to_date_usd,
        budget_stop=budget_stop,
        dropped=sum(r.dropped for r in run.outcome.results),
        notes=[*target.notes, *plan.config.notices],
        rereview=target.rereview,
        config_details=plan.config.to_markdown_details(),
    )
    stopped = budget_stop is not None and all(r.status == "skipped" for r in run.outcome.results)
    result = ReviewResult(
        status="budget_exhausted" if stopped else "reviewed",
        model=plan.model,
        head_sha=target.head_sha,
        files=files,
        chunks=chunk_reports,
        comments=anchored.comments,
        unanchored=anchored.unanchored + tuple(c.finding for c in anchored.overflow),
        usage=run.usage,
        cost_usd=run.cost_usd,
        estimated_input_tokens=plan.estimated_input_tokens,
        estimated_cost_usd=plan.estimated_cost_usd,
        month_to_date_usd=run.month_to_date_usd,
        budget_stop=budget_stop,
        summary=summary.body,
        extra={
            "notes": list(target.notes),
            "below_threshold": list(anchored.below_threshold),
            "already_posted": anchored.already_posted,
            "over_cap": len(anchored.overflow),  # the last ones of `unanchored`
        },
    )
    if gh is None or target.pr_number is None or not request.post:
        return result
    from reviewer.review.fetch import publish

    draft = ReviewDraft(
        commit_id=target.head_sha or "",
        body=summary.body,
        comments=anchored.comments,
        event=plan.config.review_event(c.severity for c in anchored.comments),
        followups=summary.followups,
        key=request.delivery_id,
    )
    return publish(request, gh, target.repo, target.pr_number, draft, result, say)


def _file_reports(decisions: Sequence[FileDecision]) -> tuple[FileReport, ...]:
    return tuple(
        FileReport(
            path=d.file.path,
            status=d.file.status.value,
            reviewed=d.reviewed,
            reason=d.reason,
            added=d.file.added,
            removed=d.file.removed,
        )
        for d in decisions
    )
