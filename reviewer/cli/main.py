"""The `reviewer` command line: review a diff or a PR, and the service, spend and config tools."""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from reviewer.cli.exit import fail
from reviewer.cli.render import render_json, render_sarif, render_text
from reviewer.config.schema import CONFIG_PATH
from reviewer.core.findings import Severity
from reviewer.errors import ConfigError, ReviewerError
from reviewer.model import ReviewRequest, ReviewResult
from reviewer.review.checkout import worktree_root
from reviewer.settings import Settings

# Subcommands that live with the code they drive, loaded only when named.
LAZY_COMMANDS = {
    "spend": "reviewer.cli.spend:spend",
    "config": "reviewer.cli.config:config",
    "doctor": "reviewer.cli.doctor:doctor",
    "eval": "reviewer.cli.eval:eval_command",
    "action": "reviewer.action.run:action",
    "app": "reviewer.cli.app:app",
    "batch": "reviewer.cli.batch:batch",
    "serve": "webhook.cli:serve",
    "worker": "webhook.cli:worker",
}

_PR_RE = re.compile(
    r"^(?:https?://[^/]+/)?(?P<repo>[\w.-]+/[\w.-]+?)(?:#|/pulls?/)(?P<number>\d+)/?$"
)
EXIT_NOT_REVIEWED = 3  # with --fail-on: the budget stopped the review before any chunk
_REMOTE_RE = re.compile(r"github\.com[:/](?P<repo>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, attr = LAZY_COMMANDS[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
@click.version_option(package_name="reviewer")
def main() -> None:
    """Review GitHub pull requests with Claude."""


def warn_about_models(settings: Settings, model: str | None = None) -> None:
    """Check the configured models (price, models.json, retirement); warn on stderr."""
    from reviewer.claude.models import check_models
    from reviewer.spend.pricing import PriceTable

    prices = PriceTable.load(settings.prices_path)
    for warning in check_models([model or settings.model, settings.fallback_model], prices):
        click.echo(f"reviewer: warning: {warning}", err=True)


def parse_target(target: str) -> tuple[str, int]:
    """`owner/repo#123` or a pull request URL → ("owner/repo", 123)."""
    match = _PR_RE.match(target.strip())
    if match is None:
        raise ConfigError(f"not a pull request: {target!r} (expected OWNER/REPO#NUMBER or a URL)")
    return match["repo"], int(match["number"])


def local_repo_name() -> str:
    """The checkout's GitHub remote as OWNER/NAME, else "local"."""
    try:
        url = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "local"
    match = _REMOTE_RE.search(url)
    return match["repo"] if match else "local"


def read_diff(path: str) -> str:
    """Read a diff file (`-` for stdin); bytes that are not UTF-8 are replaced, not fatal."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read the diff {path}: {exc.strerror}") from exc
    return data.decode("utf-8", errors="replace")


@main.command()
@click.argument("target", required=False)
@click.option("--diff", "diff_path", help="A unified diff file to review, or - for stdin.")
@click.option(
    "--git",
    "git_range",
    metavar="BASE[...HEAD]",
    help="Review `git diff BASE...HEAD` of this checkout, drivers and .gitattributes ignored.",
)
@click.option("--dry-run", is_flag=True, help="Plan and estimate; call no model, post nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    help="text for people, json for scripts, sarif (2.1.0) for GitHub code scanning.",
)
@click.option("--model", help="Model id (overrides every configuration).")
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity]),
    help="Exit 1 when a finding at or above this severity exists.",
)
@click.option("--repo", "repo_name", help="OWNER/NAME to record the spend of a local diff under.")
@click.option(
    "--config",
    "config_path",
    help="A reviewer.yml to apply to a local diff [.github/reviewer.yml here, if present].",
)
@click.option("--no-post", is_flag=True, help="Review a pull request but only print.")
@click.option("--batch", "batch", is_flag=True, help="Send it as a Message Batch (half price).")
@click.option(
    "--no-wait", is_flag=True, help="With --batch: print the batch job and return at once."
)
@click.option(
    "--context",
    type=click.Choice(["none", "hunk", "definition", "file"]),
    help="Read-only code around each hunk (default: review.context, else definition).",
)
def review(
    target: str | None,
    diff_path: str | None,
    dry_run: bool,
    fmt: str,
    model: str | None,
    fail_on: str | None,
    repo_name: str | None,
    config_path: str | None,
    no_post: bool,
    git_range: str | None,
    batch: bool,
    no_wait: bool,
    context: str | None,
) -> None:
    """Review a pull request (OWNER/REPO#N) or a local diff (--diff FILE or --git BASE)."""
    try:
        settings = Settings.from_env()
        request = _request(
            target, diff_path, dry_run, model, repo_name, config_path, no_post, git_range
        )
        if no_wait and not batch:
            raise ConfigError("--no-wait goes with --batch")
        if batch:
            request = dataclasses.replace(request, mode="batch", wait=not no_wait)
        if context is not None:
            request = dataclasses.replace(request, context=context)
        result = _run(request, settings)
    except ReviewerError as exc:
        fail(exc)
    renderers = {"json": render_json, "sarif": render_sarif, "text": render_text}
    click.echo(renderers[fmt](result), nl=fmt == "json")
    if fail_on and result.status == "budget_exhausted":
        # Nothing was reviewed: a CI gate must not read that as "no findings".
        click.echo("reviewer: not reviewed: the budget was reached (exit 3)", err=True)
        sys.exit(EXIT_NOT_REVIEWED)
    if fail_on and any(f.severity.at_least(Severity(fail_on)) for f in result.findings):
        sys.exit(1)


def _request(
    target: str | None,
    diff_path: str | None,
    dry_run: bool,
    model: str | None,
    repo_name: str | None,
    config_path: str | None,
    no_post: bool,
    git_range: str | None = None,
) -> ReviewRequest:
    common: dict[str, Any] = {"dry_run": dry_run, "model": model, "trigger": "cli"}
    if diff_path is not None or git_range is not None:
        if target is not None or (diff_path is not None and git_range is not None):
            raise ConfigError("give one of a pull request, --diff or --git")
        repo = repo_name or local_repo_name()
        text = read_diff(diff_path) if diff_path is not None else git_diff(git_range or "")
        if config_path is None and Path(CONFIG_PATH).is_file():
            # As `reviewer config show` and docs/configuration.md say: the working tree's file.
            config_path = CONFIG_PATH
        # Context and guidance files of a local diff come from the working tree.
        checkout = worktree_root(os.getcwd())
        return ReviewRequest(
            repo=repo, diff_text=text, config_path=config_path, checkout=checkout, **common
        )
    if target is None:
        raise ConfigError("nothing to review: give OWNER/REPO#NUMBER or --diff FILE")
    repo, number = parse_target(target)
    return ReviewRequest(repo=repo, pr_number=number, post=not no_post, **common)


def git_diff(git_range: str) -> str:
    """`git diff BASE...HEAD` of the current checkout, as the Action makes it (gitdiff.py)."""
    from reviewer.action.gitdiff import GitError, diff_range

    base, _, head = git_range.partition("...")
    head = head or "HEAD"
    if not base or base.startswith("-") or head.startswith("-") or ".." in base + head:
        raise ConfigError(f"--git {git_range!r}: expected BASE or BASE...HEAD", key="git")
    try:
        return diff_range(Path.cwd(), base, head)
    except GitError as exc:
        first = (str(exc).splitlines() or ["git failed"])[0]
        raise ConfigError(f"--git {git_range}: {first}", key="git") from exc


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout stays the review."""
    click.echo(f"reviewer: {message}", err=True)


def _run(request: ReviewRequest, settings: Settings) -> ReviewResult:
    from reviewer.review.pipeline import run_review
    from reviewer.services import open_services

    if not request.dry_run:  # a dry run never loads the SDK, whose list of retiring models this is
        warn_about_models(settings, request.model)
    with open_services(settings) as services:
        return run_review(request, services, progress=progress)
