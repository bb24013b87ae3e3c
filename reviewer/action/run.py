"""Review the pull request of a GitHub Actions event: the logic of `reviewer action`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import click

from reviewer.action.converse import Job, conversation_job
from reviewer.action.gitdiff import GitError, diff_range, has_commit
from reviewer.action.report import (
    format_outputs,
    render_notice,
    render_summary,
    result_outputs,
    was_posted,
)
from reviewer.core.findings import Finding, Severity
from reviewer.core.text import format_usd
from reviewer.errors import ConfigError, ReviewerError
from reviewer.model import ReviewRequest, ReviewResult
from reviewer.review.ports import ReviewServices
from reviewer.settings import Settings

PR_EVENTS = frozenset({"pull_request", "pull_request_target"})
PR_ACTIONS = ("opened", "reopened", "synchronize", "ready_for_review")
_SHA_RE = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


class ReviewFn(Protocol):
    def __call__(
        self,
        request: ReviewRequest,
        services: ReviewServices,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> ReviewResult: ...


@dataclass(frozen=True)
class ActionEnv:
    """The variables GitHub Actions sets for every step, read once from the environment."""

    event_name: str
    event_path: Path | None
    repository: str
    api_url: str
    server_url: str
    workspace: Path | None
    step_summary: Path | None
    output: Path | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ActionEnv:
        def path(name: str) -> Path | None:
            value = environ.get(name)
            return Path(value) if value else None

        return cls(
            event_name=environ.get("GITHUB_EVENT_NAME", ""),
            event_path=path("GITHUB_EVENT_PATH"),
            repository=environ.get("GITHUB_REPOSITORY", ""),
            api_url=environ.get("GITHUB_API_URL") or "https://api.github.com",
            server_url=environ.get("GITHUB_SERVER_URL") or "https://github.com",
            workspace=path("GITHUB_WORKSPACE"),
            step_summary=path("GITHUB_STEP_SUMMARY"),
            output=path("GITHUB_OUTPUT"),
        )


@dataclass(frozen=True)
class Target:
    """The pull request an event asks to review, and who asked."""

    pr_number: int
    trigger: Literal["action", "command"]
    head_sha: str | None = None
    base_sha: str | None = None
    requested_by: str | None = None
    comment_id: int | None = None
    from_fork: bool = False
    sender: str | None = None
    event_action: str | None = None  # the pull_request action, checked against review.events


@dataclass(frozen=True)
class Ignored:
    """The event is not one the Action reviews; `reason` says why (the step still passes)."""

    reason: str


def load_event(path: Path | None) -> dict[str, Any]:
    """Read the webhook body GitHub wrote to GITHUB_EVENT_PATH."""
    if path is None:
        raise ConfigError("GITHUB_EVENT_PATH is not set", key="GITHUB_EVENT_PATH")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"GITHUB_EVENT_PATH: cannot read {path}: {exc.strerror}", key="GITHUB_EVENT_PATH"
        ) from exc
    except ValueError as exc:
        raise ConfigError(f"GITHUB_EVENT_PATH: {path} is not JSON", path=str(path)) from exc
    if not isinstance(payload, dict):
        raise ConfigError(f"GITHUB_EVENT_PATH: {path} is not a JSON object", path=str(path))
    return payload


def is_command(body: str, command: str) -> bool:
    """True when the comment's first word is the command (`/review`, `/review please`),
    matched as the App matches it: exactly, case and all."""
    words = body.split(maxsplit=1)
    return bool(words) and words[0] == command


def is_fork(pull_request: Mapping[str, Any]) -> bool:
    """True when the head branch lives in another repository (or its fork was deleted)."""
    head_repo = (pull_request.get("head") or {}).get("repo")
    base_repo = (pull_request.get("base") or {}).get("repo") or {}
    if not head_repo:  # GitHub sends null once the fork is deleted
        return True
    return bool(head_repo.get("full_name") != base_repo.get("full_name"))


def parse_event(event_name: str, payload: Mapping[str, Any], *, command: str) -> Target | Ignored:
    """Decide from the event alone what to review; no network, no environment.

    Drafts, closed pull requests and heads already reviewed are the engine's to skip: it
    knows the repository's configuration.
    """
    action = payload.get("action")
    sender = (payload.get("sender") or {}).get("login")
    if event_name in PR_EVENTS:
        if action not in PR_ACTIONS:
            return Ignored(
                f"`{event_name}` with action `{action}` is not reviewed "
                f"(only {', '.join(PR_ACTIONS)})."
            )
        pr = payload.get("pull_request") or {}
        number = pr.get("number", payload.get("number"))
        if not isinstance(number, int):
            raise ConfigError(f"the {event_name} event carries no pull request number")
        return Target(
            pr_number=number,
            trigger="action",
            head_sha=(pr.get("head") or {}).get("sha"),
            base_sha=(pr.get("base") or {}).get("sha"),
            from_fork=is_fork(pr),
            sender=sender,
            event_action=str(action),
        )
    if event_name == "issue_comment":
        issue = payload.get("issue") or {}
        comment = payload.get("comment") or {}
        user = comment.get("user") or {}
        if action != "created":
            return Ignored(f"`issue_comment` with action `{action}` is not a command.")
        if not issue.get("pull_request"):
            return Ignored("The comment is on an issue, not on a pull request.")
        if not is_command(comment.get("body") or "", command):
            return Ignored(f"The comment does not start with `{command}`.")
        if issue.get("state") == "closed":
            return Ignored("The pull request is closed.")
        if user.get("type") == "Bot":
            return Ignored(f"`{command}` was written by a bot ({user.get('login')}); ignored.")
        number, comment_id, login = issue.get("number"), comment.get("id"), user.get("login")
        if not isinstance(number, int) or not isinstance(comment_id, int) or not login:
            raise ConfigError("the issue_comment event lacks the issue number, comment or user")
        return Target(
            pr_number=number,
            trigger="command",
            requested_by=login,
            comment_id=comment_id,
            sender=sender,
        )
    return Ignored(
        f"The `{event_name}` event is not handled: trigger the workflow on pull_request, "
        "pull_request_target or issue_comment."
    )


def secrets_withheld(event_name: str, target: Target, api_key: str | None) -> str | None:
    """Why GitHub gave this run no secrets, when that explains a missing API key."""
    if api_key or event_name != "pull_request":
        return None
    if target.from_fork:
        return (
            f"Pull request #{target.pr_number} comes from a fork. GitHub gives `pull_request` "
            "workflows from forks no secrets, so there is no Anthropic API key and nothing was "
            "reviewed. A maintainer can comment the review command, or see docs/action.md for "
            "the safe `pull_request_target` setup."
        )
    if target.sender == "dependabot[bot]":
        return (
            f"Pull request #{target.pr_number} was opened by Dependabot, whose workflows get "
            "only Dependabot secrets: add ANTHROPIC_API_KEY there to review its pull requests."
        )
    return None


def local_diff(workspace: Path, base_sha: str, head_sha: str) -> str | None:
    """`git diff base...head` from the checkout, or None when it lacks either commit.

    Diff drivers, textconv, external tools and the PR's own `.gitattributes` are ignored:
    see `gitdiff.diff_range`.
    """
    if not (_SHA_RE.match(base_sha) and _SHA_RE.match(head_sha)):
        return None
    if not (has_commit(workspace, base_sha) and has_commit(workspace, head_sha)):
        return None
    try:
        return diff_range(workspace, base_sha, head_sha)
    except GitError:  # e.g. a shallow clone without the merge base
        return None


def parse_fail_on(raw: str | None) -> Severity | None:
    """The `fail-on` severity, or None for never (empty or `none`)."""
    if raw is None or raw.strip().lower() in ("", "none", "never"):
        return None
    try:
        return Severity(raw.strip().lower())
    except ValueError as exc:
        choices = ", ".join(s.value for s in Severity)
        raise ConfigError(
            f"REVIEWER_FAIL_ON: {raw!r} is not one of {choices} or none", key="REVIEWER_FAIL_ON"
        ) from exc


def failing_findings(result: ReviewResult, fail_on: Severity | None) -> list[Finding]:
    """The posted findings at or above `fail_on`."""
    if fail_on is None or not was_posted(result):
        return []
    return [f for f in result.findings if f.severity.at_least(fail_on)]


def _escape_command(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _log(kind: str | None, message: str) -> None:
    """Print a line; `kind` makes it a workflow annotation (notice, warning, error)."""
    click.echo(f"::{kind}::{_escape_command(message)}" if kind else message)


def _append(path: Path | None, text: str) -> None:
    if path is None:
        return
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}", path=str(path)) from exc


def run(environ: Mapping[str, str], *, review: ReviewFn | None = None) -> int:
    """Run the Action for the event in `environ`; return the process exit code.

    `review` defaults to the engine, `reviewer.review.pipeline.run_review`.
    """
    env = ActionEnv.from_environ(environ)
    outputs = result_outputs(None)
    try:
        code, outputs = _run(env, environ, review)
    except ReviewerError as exc:
        message = exc.message
        if getattr(exc, "retryable", False):
            message += " (a transient failure: re-run the job)"
        _log("error", message)
        _append(env.step_summary, render_notice(f"**Failed**: {message}"))
        code = exc.exit_code
    _append(env.output, format_outputs(outputs))
    return code


def _run(
    env: ActionEnv, environ: Mapping[str, str], review: ReviewFn | None
) -> tuple[int, dict[str, str]]:
    nothing = result_outputs(None)
    if not env.event_name:
        raise ConfigError(
            "GITHUB_EVENT_NAME is not set: `reviewer action` runs inside a GitHub Actions job",
            key="GITHUB_EVENT_NAME",
        )
    payload = load_event(env.event_path)
    settings = Settings.from_env(environ)
    fail_on = parse_fail_on(settings.fail_on)
    repo_name = env.repository or str((payload.get("repository") or {}).get("full_name", ""))
    job = conversation_job(env.event_name, payload, repo_name, command=settings.command)
    if job is not None:
        return _converse(env, settings, job), nothing
    target = parse_event(env.event_name, payload, command=settings.command)
    if isinstance(target, Ignored):
        _log("notice", f"Nothing to review: {target.reason}")
        _append(env.step_summary, render_notice(f"Nothing to review: {target.reason}"))
        return 0, nothing
    withheld = secrets_withheld(env.event_name, target, settings.anthropic_api_key)
    if withheld:
        _log("warning", withheld)
        _append(env.step_summary, render_notice(f"**Not reviewed**: {withheld}"))
        return 0, nothing
    if not settings.anthropic_api_key:
        raise ConfigError(
            "no Anthropic API key: pass the anthropic-api-key input from a secret",
            key="ANTHROPIC_API_KEY",
        )
    if not settings.github_token:
        raise ConfigError("no GitHub token: the github-token input is empty", key="GITHUB_TOKEN")
    if not settings.marker_key:
        # The runner's data directory is gone after each run: a key generated there would
        # make every re-review distrust the markers of the one before. The API key is the
        # one secret every run has; the markers' key is derived from it (docs/action.md).
        from reviewer.services import derived_marker_key

        settings = settings.replace(marker_key=derived_marker_key(settings.anthropic_api_key))

    repo = env.repository or str((payload.get("repository") or {}).get("full_name", ""))
    diff_text = None
    if env.workspace and target.base_sha and target.head_sha:
        diff_text = local_diff(env.workspace, target.base_sha, target.head_sha)
    source = "the local checkout" if diff_text is not None else "the GitHub API"
    _log(None, f"Reviewing {repo}#{target.pr_number} ({env.event_name}) through {env.api_url}.")
    _log(None, f"The diff comes from {source}.")
    if (
        diff_text is None
        and target.base_sha
        and env.workspace
        and (env.workspace / ".git").exists()
    ):
        _log(None, "The checkout lacks the base or head commit (checkout with fetch-depth: 0).")
    request = ReviewRequest(
        repo=repo,
        pr_number=target.pr_number,
        trigger=target.trigger,
        diff_text=diff_text,
        expected_head_sha=target.head_sha,
        requested_by=target.requested_by,
        comment_id=target.comment_id,
        event_action=target.event_action,
        # Batch mode (the mode input, or the repository's): the job waits, up to the limit.
        wait=True,
        batch_max_wait_s=(
            settings.batch_max_wait_minutes * 60
            if settings.batch_max_wait_minutes is not None
            else None
        ),
        # The diff came from this checkout: read-only context is read there too, at the head.
        checkout=str(env.workspace) if diff_text is not None and env.workspace else None,
        # request.config_path names a local file; the repository's config must come from
        # the base branch (settings.config_path), never from the checked-out head.
    )
    if review is None:
        from reviewer.cli.main import warn_about_models
        from reviewer.review import pipeline  # imported late: it pulls in every stage

        warn_about_models(settings)
        review = pipeline.run_review
    from reviewer.services import open_services

    with open_services(settings) as services:
        result = review(request, services, progress=lambda line: _log(None, line))
    pr_url = f"{env.server_url}/{repo}/pull/{target.pr_number}"
    _append(
        env.step_summary,
        render_summary(result, repo=repo, pr_number=target.pr_number, pr_url=pr_url),
    )
    if settings.sarif_file is not None:
        _write_sarif(env.workspace, settings.sarif_file, result)
    outputs = result_outputs(result)
    _log(
        None,
        f"Review {result.status}: {outputs['findings']} finding(s), "
        f"{outputs['comments-posted']} inline comment(s), cost {format_usd(result.cost_usd)}."
        + (f" {result.reason}" if result.reason else ""),
    )
    if result.status == "reviewed" and not was_posted(result):
        _log("warning", "The engine reviewed the pull request but posted no review.")
    if result.status == "failed":
        _log("error", f"The review failed: {result.reason or 'see the log above'}")
        return 1, outputs
    if result.status == "budget_exhausted" and fail_on is not None:
        _log("error", "Not reviewed: the budget was reached before any chunk (fail-on).")
        return 3, outputs
    failing = failing_findings(result, fail_on)
    if failing and fail_on is not None:
        _log("error", f"{len(failing)} finding(s) at or above {fail_on.value} (fail-on).")
        return 1, outputs
    return 0, outputs


def _write_sarif(workspace: Path | None, path: Path, result: ReviewResult) -> None:
    """Write the review as SARIF for github/codeql-action/upload-sarif (`sarif-file`)."""
    from reviewer.cli.render import render_sarif

    target = path if path.is_absolute() or workspace is None else workspace / path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_sarif(result), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"sarif-file: cannot write {target}: {exc.strerror}", key="REVIEWER_SARIF_FILE"
        ) from exc
    _log(None, f"SARIF written to {target}.")


def _converse(env: ActionEnv, settings: Settings, job: Job | str) -> int:
    """Answer a reply in a thread or an `/ask`, or follow a resolved thread."""
    if isinstance(job, str):
        _log("notice", f"Nothing to answer: {job}")
        _append(env.step_summary, render_notice(f"Nothing to answer: {job}"))
        return 0
    if not settings.anthropic_api_key:
        raise ConfigError(
            "no Anthropic API key: pass the anthropic-api-key input from a secret",
            key="ANTHROPIC_API_KEY",
        )
    from reviewer.services import open_services

    with open_services(settings) as services:
        result = job(services)
    line = f"Conversation {result.status}" + (f": {result.reason}" if result.reason else "")
    line += f" ({result.calls} call(s), cost {format_usd(result.cost_usd)})."
    _log("error" if result.status == "failed" else None, line)
    _append(env.step_summary, render_notice(line))
    return 1 if result.status == "failed" else 0


@click.command("action")
def action() -> None:
    """Review the pull request of the running GitHub Actions event (used by action.yml)."""
    raise SystemExit(run(os.environ))
