"""The review's check run: in progress while reviewing, then red only for real findings.

`failure` when a finding is at or above the repository's `output.fail_on`; `neutral` when
the bot could not review (a budget ran out, every chunk refused or failed, an outage, the
head moved on): never red for the bot's own trouble; `success` otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from reviewer.config.effective import resolve
from reviewer.core.findings import Severity
from reviewer.core.summary import plural, severity_counts
from reviewer.errors import ReviewerError
from reviewer.model import CheckRunReport, ProgressFn, ReviewRequest, ReviewResult, ReviewTarget
from reviewer.review.ports import CheckRuns, PullRequests
from reviewer.settings import Settings

log = logging.getLogger(__name__)


def wanted(request: ReviewRequest, check_run: bool | None) -> bool:
    """`output.check_run`, or by default: on for the App (a delivery with an installation),
    off for the Action and the CLI (a personal token cannot write check runs)."""
    if request.dry_run or not request.post:
        return False
    return check_run if check_run is not None else request.installation_id is not None


def report(result: ReviewResult, fail_on: Severity | None) -> CheckRunReport:
    """The check run's conclusion and output for a finished review."""
    findings = result.findings
    failing = [f for f in findings if fail_on is not None and f.severity.at_least(fail_on)]
    summary = result.summary or result.reason or ""
    if failing and fail_on is not None:
        title = f"{plural(len(failing), 'finding')} at or above {fail_on.value}"
        return CheckRunReport("failure", title, summary, result.comments)
    trouble = _trouble(result)
    if trouble is not None:
        return CheckRunReport("neutral", trouble, summary or trouble, result.comments)
    if findings:
        title = f"{plural(len(findings), 'finding')} ({severity_counts(findings)})"
    else:
        title = "No findings"
    return CheckRunReport("success", title, summary or title, result.comments)


def not_reviewed(reason: str, *, retrying: bool) -> CheckRunReport:
    """The report of a review that stopped with an error before it finished."""
    text = f"Claude could not review this commit: {reason}"
    if retrying:
        text += " The failure was transient: a retry may succeed."
    return CheckRunReport("neutral", "Not reviewed", text)


def _trouble(result: ReviewResult) -> str | None:
    """Why the bot could not (fully) review, or None."""
    if result.status == "budget_exhausted":
        return "Not reviewed: a budget ran out"
    if result.status != "reviewed":
        return f"Not reviewed: {result.reason or result.status}"
    if result.budget_stop:
        return "Not fully reviewed: a budget ran out"
    if result.chunks and not any(c.status == "ok" for c in result.chunks):
        return "Not reviewed: Claude refused or failed on every part of the change"
    return None


def with_check_run(
    request: ReviewRequest,
    settings: Settings,
    target: ReviewTarget,
    gh: PullRequests | None,
    review: Callable[[], ReviewResult],
    say: ProgressFn,
) -> ReviewResult:
    """Run `review` inside the head's check run, when the repository wants one.

    A review submitted as a batch and not collected yet leaves its run in progress: the
    collect use case runs the rest of the review inside the same run (found by its key).
    """
    if gh is None or target.pr_number is None or not target.head_sha:
        return review()
    overrides: dict[str, Any] = {"model.default": request.model} if request.model else {}
    output = resolve(settings, target.repo_config, overrides).config.output
    if not wanted(request, output.check_run):
        return review()
    checks: CheckRuns = gh.check_runs(target.repo)
    try:
        run_id = checks.start(head_sha=target.head_sha, key=request.delivery_id)
    except ReviewerError as exc:  # e.g. a token that may not write checks: review anyway
        log.warning("no check run: %s", exc.message)
        say(f"no check run: {exc.message}")
        return review()
    try:
        result = review()
    except ReviewerError as exc:
        _complete(checks, run_id, not_reviewed(exc.message, retrying=_retryable(exc)), say)
        raise
    except Exception:
        _complete(checks, run_id, not_reviewed("an internal error", retrying=False), say)
        raise
    if result.status == "submitted":
        say(f"check run {run_id} stays in progress until the batch is collected")
        return result
    finished = report(result, output.fail_on)
    _complete(checks, run_id, finished, say)
    say(f"check run {run_id}: {finished.conclusion}")
    return result


def _retryable(exc: ReviewerError) -> bool:
    return bool(getattr(exc, "retryable", False))


def _complete(checks: CheckRuns, run_id: int, finished: CheckRunReport, say: ProgressFn) -> None:
    """Complete the run; a failure here never undoes or hides the review itself."""
    try:
        checks.complete(run_id, finished)
    except ReviewerError as exc:
        log.warning("could not complete check run %s: %s", run_id, exc.message)
        say(f"could not complete check run {run_id}: {exc.message}")
