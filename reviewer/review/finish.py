"""The end of a review, shared by real time and batch mode: anchor, summarise, publish."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from reviewer.core.anchoring import ReviewDraft, anchor
from reviewer.core.filters import FileDecision
from reviewer.core.reports import ChunkReport, FileReport
from reviewer.core.summary import build_summary
from reviewer.model import Plan, ProgressFn, ReviewRequest, ReviewResult, ReviewTarget
from reviewer.review.history import FollowUp, history_sections
from reviewer.review.model_run import ModelRun
from reviewer.review.ports import PullRequests, ReviewServices


def finish_review(
    request: ReviewRequest,
    target: ReviewTarget,
    plan: Plan,
    run: ModelRun,
    gh: PullRequests | None,
    say: ProgressFn,
    *,
    marker_key: bytes | None,
    follow: FollowUp | None = None,
) -> ReviewResult:
    """Anchor what the model found, build the summary, and publish it (unless only printing).

    `marker_key` MACs the hidden markers of what is posted (None when nothing is posted).
    `follow` (a pull request's findings before this review) adds what is new, still open,
    fixed and dismissed to the summary, and records them once the review is posted.
    """
    files = file_reports(plan.decisions)
    findings = [f for r in run.outcome.results for f in r.findings]
    output = plan.config.config.output
    anchored = anchor(
        findings,
        target.diff,
        max_comments=output.max_comments,
        min_severity=output.min_severity,
        min_confidence=output.min_confidence,
        suggestions=output.suggestions,
        known_fingerprints=target.known_fingerprints | (follow.dismissed if follow else set()),
        marker_key=marker_key,
    )
    past = follow.account(anchored) if follow is not None else None
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
        batch_usd=(run.cost_usd, run.realtime_usd) if run.realtime_usd is not None else None,
        history=past.line() if past is not None and target.rereview else "",
        history_sections=history_sections(past) if past is not None else (),
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
            "context": context_report(plan),
        },
    )
    if gh is None or target.pr_number is None or not request.post or marker_key is None:
        return result
    draft = ReviewDraft(
        commit_id=target.head_sha or "",
        body=summary.body,
        comments=anchored.comments,
        event=plan.config.review_event(c.severity for c in anchored.comments),
        followups=summary.followups,
        key=request.delivery_id,
    )
    published = publish(gh, target.repo, target.pr_number, draft, result, say, marker_key)
    if follow is not None and past is not None and published.review_id is not None:
        follow.remember(past, posted=anchored.comments, commit_sha=draft.commit_id)
    return published


def posting_key(services: ReviewServices, gh: PullRequests | None) -> bytes | None:
    """The services' marker key when the review posts to a pull request; else None (no key
    is made for a local review)."""
    return services.marker_key if gh is not None else None


def context_report(plan: Plan) -> dict[str, Any]:
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


def file_reports(decisions: Sequence[FileDecision]) -> tuple[FileReport, ...]:
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


def publish(
    gh: PullRequests,
    repo: str,
    number: int,
    draft: ReviewDraft,
    result: ReviewResult,
    say: ProgressFn,
    marker_key: bytes,
) -> ReviewResult:
    """Post the one review, unless the head moved while the model was reading."""
    if gh.head_moved(repo, number, draft.commit_id):
        say("skipped: the head moved during the review; nothing posted")
        return dataclasses.replace(
            result,
            status="skipped",
            reason="the head moved during the review; nothing was posted",
        )
    posted = gh.publisher(repo, number, marker_key).publish(draft)
    say(f"posted review {posted.review_id} with {len(posted.posted)} inline comments")
    extra = dict(result.extra)
    extra["moved_to_body"] = len(posted.moved_to_body)
    return dataclasses.replace(
        result, review_id=posted.review_id, review_url=posted.html_url, extra=extra
    )
