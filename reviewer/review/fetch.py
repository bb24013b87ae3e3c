"""The pull-request steps of a review: who asked, whether to review, and what to fetch."""

from __future__ import annotations

from datetime import UTC, datetime

from reviewer.config.effective import resolve
from reviewer.config.repo import load_repo_config
from reviewer.config.schema import CONFIG_PATH, RepoConfig, ReviewOptions
from reviewer.core.diff import PullRequestDiff, parse_diff
from reviewer.core.inert import code, inert_line
from reviewer.errors import ConfigError
from reviewer.github import payloads
from reviewer.model import ProgressFn, PullInfo, ReviewRequest, ReviewResult, ReviewTarget
from reviewer.review.checkout import ReadFn, git_reader, read_guidance
from reviewer.review.ports import PullRequests
from reviewer.settings import Settings


def fetch_target(
    request: ReviewRequest,
    settings: Settings,
    gh: PullRequests,
    say: ProgressFn,
    *,
    marker_key: bytes,
) -> ReviewTarget | ReviewResult:
    """Check who asked and whether to review at all, then fetch the diff to review.

    Hidden markers count only in the bot's own comments and under `marker_key`'s MAC.
    """
    repo, number = request.repo, request.pr_number
    assert number is not None
    pull = gh.get_pull(repo, number)

    def skip(reason: str) -> ReviewResult:
        say(f"skipped: {reason}")
        return ReviewResult(status="skipped", reason=reason, head_sha=pull.head_sha)

    if pull.state != "open":
        return skip("the pull request is closed")
    if request.expected_head_sha and pull.head_sha != request.expected_head_sha:
        return skip("the head moved since this review was asked for; a newer job reviews it")
    if request.delivery_id is not None:
        key = payloads.delivery_key(request.delivery_id)
        posted = gh.publisher(repo, number, marker_key).find(key=key, commit_id=pull.head_sha)
        if posted is not None:  # a rerun after the review was posted: nothing more to do
            say("skipped: this delivery's review is already posted")
            return ReviewResult(
                status="skipped",
                reason="this delivery's review is already posted",
                head_sha=pull.head_sha,
                review_id=posted.review_id,
                review_url=posted.html_url,
            )
    repo_config = _base_config(request, settings, gh, pull, marker_key)
    if isinstance(repo_config, ReviewResult):
        return repo_config
    effective = resolve(settings, repo_config, {}).config
    review = effective.review
    # A person asked (a command, or the CLI): the rules for automatic reviews do not apply.
    asked = request.trigger in ("command", "cli")
    command = request.command
    if request.trigger == "command" and command is not None and command != review.command:
        # Not this repository's command: ignored quietly, before any permission check.
        return skip(f"{command} is not this repository's command ({review.command})")
    if request.trigger == "command" and request.requested_by:
        refusal = _check_commander(request, gh)
        if refusal is not None:
            return refusal
    reason = None if asked else _automatic_skip(request, pull, review)
    if reason is not None:
        return skip(reason)

    bot = gh.bot_login()
    last = gh.last_reviewed_head(repo, number, bot, marker_key=marker_key)
    if last == pull.head_sha and not asked:
        return skip(f"head {pull.head_sha[:7]} was already reviewed")
    notes: list[str] = []
    diff: PullRequestDiff | None = None
    if request.diff_text is not None:
        # A checkout's own `git diff base...head` (the Action): no API size limits.
        diff = parse_diff(request.diff_text)
        notes.append("Reviewed the diff of the local checkout.")
    elif last and review.incremental and not asked:
        diff = gh.get_incremental_diff(repo, pull, last)
        notes.append(
            f"Reviewed the commits since {last[:7]} only."
            if diff is not None
            else "History was rewritten or the base changed since the last review: "
            "reviewed the whole pull request."
        )
    if diff is None:
        diff, fetch_notes = gh.get_pull_files_diff(repo, number)
        notes += fetch_notes
    say(f"fetched {len(diff.files)} files of {repo}#{number} at {pull.head_sha[:7]}")
    # Guidance files come from the base branch, like the configuration: never from the head.
    guidance, applied = read_guidance(
        lambda path: gh.get_file_text(repo, path, pull.base_sha),
        effective.guidance.files,
        effective.guidance.max_bytes,
    )
    if applied:
        notes.append(applied)
    head_sha = pull.head_sha

    def from_api(path: str) -> str | None:
        return gh.get_file_text(repo, path, head_sha)

    read_head: ReadFn = from_api
    if request.checkout and request.diff_text is not None:
        read_head = git_reader(request.checkout, head_sha)  # the diff came from this checkout
    return ReviewTarget(
        repo=repo,
        diff=diff,
        pr_number=number,
        head_sha=pull.head_sha,
        title=pull.title or "",
        description=pull.body or "",
        repo_config=repo_config,
        known_fingerprints=frozenset(
            gh.previous_fingerprints(repo, number, bot, marker_key=marker_key)
        ),
        rereview=last is not None,
        notes=notes,
        draft=pull.draft,
        age_hours=hours_since(pull.created_at),
        read_head=read_head,
        guidance=guidance,
    )


def hours_since(timestamp: str, now: datetime | None = None) -> float | None:
    """Hours from an API timestamp (`2026-11-30T04:00:00Z`) to now; None if unreadable."""
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if then.tzinfo is None:
        return None
    return ((now or datetime.now(UTC)) - then).total_seconds() / 3600


def _base_config(
    request: ReviewRequest,
    settings: Settings,
    gh: PullRequests,
    pull: PullInfo,
    marker_key: bytes,
) -> RepoConfig | ReviewResult:
    """The repository's config from the base branch; a broken one is named on the PR."""
    # The base branch's file, never the head's: a PR must not set its own rules or budget.
    path = settings.config_path or CONFIG_PATH
    text = gh.get_file_text(request.repo, path, pull.base_sha)
    try:
        return load_repo_config(text, source=path)
    except ConfigError as exc:
        # Once per head: every later run on the same commit would say the same again.
        marker = payloads.invalid_config_marker(pull.head_sha, marker_key)
        if (
            request.post
            and not request.dry_run
            and not gh.has_bot_comment(request.repo, pull.number, marker)
        ):
            gh.post_issue_comment(
                request.repo,
                pull.number,
                "Claude review skipped: the configuration is invalid.\n\n"
                f"> {inert_line(exc.message)}"
                f"\n\n{marker}",
            )
        return ReviewResult(status="failed", reason=exc.message, head_sha=pull.head_sha)


def _automatic_skip(request: ReviewRequest, pull: PullInfo, review: ReviewOptions) -> str | None:
    """Why an automatic review (App event or Action) should not run, per review.* keys."""
    if not review.auto:
        return "automatic reviews are off for this repository"
    if request.event_action is not None and request.event_action not in review.events:
        return f"{request.event_action!r} is not in this repository's review.events"
    if pull.draft and not review.drafts:
        return "the pull request is a draft"
    return None


def _check_commander(request: ReviewRequest, gh: PullRequests) -> ReviewResult | None:
    """Refuse (politely, once) a command from someone without write access; ack the rest."""
    repo, number, login = request.repo, request.pr_number, request.requested_by
    assert number is not None and login is not None
    if not gh.may_trigger(repo, login, is_bot=login.endswith("[bot]")):
        if request.announce_refusal:
            gh.post_issue_comment(
                repo,
                number,
                # No live mention: the login is shown, not pinged (reviewer.core.inert).
                f"Sorry {code(login)}, only collaborators with write access can ask for a review.",
            )
        return ReviewResult(status="refused", reason=f"{login} may not trigger a review")
    if request.comment_id is not None:
        gh.add_reaction(repo, request.comment_id, "eyes")
    return None
