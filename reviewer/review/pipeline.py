"""The review use case: request → target → plan → Claude → anchors → one published review."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reviewer.config.effective import resolve
from reviewer.config.repo import RepoConfig, load_repo_config
from reviewer.core.anchoring import ReviewDraft, anchor
from reviewer.core.chunking import plan_chunks
from reviewer.core.diff import changed_line_count, parse_diff
from reviewer.core.filters import FileDecision, select_files
from reviewer.core.models import model_spec
from reviewer.core.prompt import PromptContext, prefix_tokens
from reviewer.core.render import context_size
from reviewer.core.reports import ChunkReport, FileReport
from reviewer.core.summary import build_summary, plural
from reviewer.core.tokens import estimate_from_size, input_budget
from reviewer.errors import ConfigError
from reviewer.model import (
    Plan,
    ProgressFn,
    ReviewRequest,
    ReviewResult,
    ReviewTarget,
)
from reviewer.review.checkout import read_context, read_guidance, worktree_reader
from reviewer.review.fetch import fetch_target
from reviewer.review.model_run import call_model
from reviewer.review.ports import PullRequests, ReviewServices
from reviewer.spend.pricing import estimate_cost

# Findings for one chunk rarely need more; the dry-run estimate assumes this many output tokens.
ESTIMATED_OUTPUT_TOKENS_PER_CHUNK = 1_000


def run_review(
    request: ReviewRequest,
    services: ReviewServices,
    *,
    progress: ProgressFn | None = None,
) -> ReviewResult:
    """Review what `request` names and return what happened; post to GitHub unless dry-run.

    Transient failures (GitHub 5xx, Anthropic overload after the SDK's own retries) raise a
    ReviewerError whose `retryable` is true, before anything was posted; everything else ends
    in a ReviewResult.
    """
    say = progress or (lambda _message: None)
    if request.diff_text is not None and request.pr_number is None:
        target = ReviewTarget(
            repo=request.repo,
            diff=parse_diff(request.diff_text),
            repo_config=_local_repo_config(request.config_path),
        )
        if request.checkout is not None:
            _local_files(target, request.checkout, services)
        return _review(request, services, target, None, say)
    if request.pr_number is None:
        raise ConfigError("a review needs a diff or a pull request number")
    gh = services.pull_requests(request.installation_id)
    fetched = fetch_target(request, services.settings, gh, say)
    if isinstance(fetched, ReviewResult):
        return fetched
    return _review(request, services, fetched, gh, say)


def _local_files(target: ReviewTarget, checkout: str, services: ReviewServices) -> None:
    """A local diff's context and guidance come from the working tree, as it is now."""
    read = worktree_reader(checkout)
    guidance = resolve(services.settings, target.repo_config, {}).config.guidance
    target.guidance, applied = read_guidance(
        read, guidance.files, guidance.max_bytes, source="the working tree"
    )
    if applied:
        target.notes.append(applied)
    target.read_head = read


def _local_repo_config(path: str | None) -> RepoConfig | None:
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", path=path) from exc
    return load_repo_config(text, source=path)


def plan_review(request: ReviewRequest, services: ReviewServices, target: ReviewTarget) -> Plan:
    """Everything short of calling the model: config, filters, model choice, chunks, estimate."""
    settings = services.settings
    overrides: dict[str, Any] = {"model.default": request.model} if request.model else {}
    if request.context:
        overrides["review.context"] = request.context
    config = resolve(settings, target.repo_config, overrides)
    paths = config.config.paths
    decisions = select_files(target.diff, include=paths.include, exclude=paths.exclude)
    files = [d.file for d in decisions if d.reviewed]
    model = config.choose_model([f.path for f in files], changed_line_count(files))
    price = services.prices.price(model)  # unknown model: error, no spend
    context = PromptContext(
        repo=target.repo,
        title=target.title,
        description=target.description,
        instructions=config.config.instructions,
        path_instructions=tuple((rule.path, rule.instructions) for rule in paths.instructions),
        guidance=target.guidance,
        language=config.config.output.language or "",
    )
    prefix = prefix_tokens(context, model)
    try:
        budget = input_budget(
            model,
            system_tokens=prefix,
            output_reserve=model_spec(model).output_tokens(settings.max_output_tokens),
            max_chunk_tokens=settings.max_chunk_tokens,
        )
    except ValueError as exc:  # the prompt and the output reserve leave no room
        raise ConfigError(str(exc), key="max_output_tokens") from exc
    extra = read_context(files, config.config.review.context, target.read_head)
    too_long: dict[str, str] = {}
    chunks = plan_chunks(files, budget_tokens=budget, model=model, context=extra, too_long=too_long)
    if too_long:  # skipped with the reason, so the rest is still reviewed
        decisions = tuple(
            FileDecision(d.file, False, too_long[d.file.path]) if d.file.path in too_long else d
            for d in decisions
        )
    input_tokens = sum(c.estimated_input_tokens + prefix for c in chunks)
    cost = estimate_cost(
        price,
        input_tokens=input_tokens,
        output_tokens=ESTIMATED_OUTPUT_TOKENS_PER_CHUNK * len(chunks),
    )
    context_tokens = sum(
        estimate_from_size(*context_size(part.context), model)
        for chunk in chunks
        for part in chunk.parts
    )
    return Plan(
        model, config, decisions, chunks, context, prefix, input_tokens, cost,
        context_tokens=context_tokens, changed_lines=changed_line_count(files),
    )  # fmt: skip


def _review(
    request: ReviewRequest,
    services: ReviewServices,
    target: ReviewTarget,
    gh: PullRequests | None,
    say: ProgressFn,
) -> ReviewResult:
    plan = plan_review(request, services, target)
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
        extra={"notes": list(target.notes), "context": _context_report(plan)},
    )
    if request.dry_run:
        return base
    run = call_model(request, services, target, plan, say)
    findings = [f for r in run.outcome.results for f in r.findings]
    output = plan.config.config.output
    anchored = anchor(
        findings,
        target.diff,
        max_comments=output.max_comments,
        min_severity=output.min_severity,
        min_confidence=output.min_confidence,
        suggestions=output.suggestions,
        known_fingerprints=target.known_fingerprints,
    )
    chunk_reports = tuple(
        ChunkReport(c.index, c.files, c.estimated_input_tokens + plan.prefix_tokens,
                    r.status, r.stop_reason, r.error or r.refusal, r.refusal_category)
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
            "low_confidence": list(anchored.low_confidence),
            "already_posted": anchored.already_posted,
            "over_cap": len(anchored.overflow),  # the last ones of `unanchored`
            "context": _context_report(plan),
        },
    )
    if gh is None or target.pr_number is None or not request.post:
        return result
    draft = ReviewDraft(
        commit_id=target.head_sha or "",
        body=summary.body,
        comments=anchored.comments,
        event=plan.config.review_event(c.severity for c in anchored.comments),
        followups=summary.followups,
        key=request.delivery_id,
    )
    return _publish(gh, target.repo, target.pr_number, draft, result, say)


def _context_report(plan: Plan) -> dict[str, Any]:
    """What the read-only context added: the figure `tokens_per_changed_line`."""
    lines = sum(len(part.context) for chunk in plan.chunks for part in chunk.parts)
    per_line = plan.context_tokens / plan.changed_lines if plan.changed_lines else 0.0
    return {
        "mode": plan.config.config.review.context,
        "lines": lines,
        "tokens": plan.context_tokens,
        "changed_lines": plan.changed_lines,
        "tokens_per_changed_line": round(per_line, 2),
    }


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


def _publish(
    gh: PullRequests,
    repo: str,
    number: int,
    draft: ReviewDraft,
    result: ReviewResult,
    say: ProgressFn,
) -> ReviewResult:
    """Post the one review, unless the head moved while the model was reading."""
    if gh.head_moved(repo, number, draft.commit_id):
        say("skipped: the head moved during the review; nothing posted")
        return dataclasses.replace(
            result,
            status="skipped",
            reason="the head moved during the review; nothing was posted",
        )
    posted = gh.publisher(repo, number).publish(draft)
    say(f"posted review {posted.review_id} with {len(posted.posted)} inline comments")
    extra = dict(result.extra)
    extra["moved_to_body"] = len(posted.moved_to_body)
    return dataclasses.replace(
        result, review_id=posted.review_id, review_url=posted.html_url, extra=extra
    )
