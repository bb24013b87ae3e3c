"""Tests of `reviewer action`: event parsing, outputs, summary, fork handling, action.yml."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reviewer.action.report import OUTPUT_NAMES
from reviewer.action.run import (
    ActionEnv,
    Ignored,
    Target,
    is_command,
    is_fork,
    local_diff,
    parse_event,
    parse_fail_on,
    run,
    secrets_withheld,
)
from reviewer.core.findings import Severity
from reviewer.core.reports import ChunkReport
from reviewer.errors import ConfigError, GitHubError
from reviewer.model import ReviewRequest, ReviewResult
from reviewer.review.ports import ReviewServices
from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from tests.action_results import HEAD_SHA, REPO, parse_github_output, reviewed_result
from tests.fakes.github_server import FakeGitHub, serve
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages
from tests.paths import ROOT, WEBHOOKS


def load_payload(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((WEBHOOKS / name).read_text())
    return payload


def pr_comment_payload(body: str = "/review", login: str = "writer") -> dict[str, Any]:
    """Derived fixture: the real issue_comment body turned into a comment on a pull request
    (GitHub marks those with `issue.pull_request`), with our command and commenter."""
    payload = load_payload("issue_comment.created.json")
    payload["issue"]["number"] = 2
    payload["issue"]["pull_request"] = {
        "url": f"https://api.github.com/repos/{REPO}/pulls/2",
        "html_url": f"https://github.com/{REPO}/pull/2",
        "diff_url": f"https://github.com/{REPO}/pull/2.diff",
        "patch_url": f"https://github.com/{REPO}/pull/2.patch",
    }
    payload["comment"]["body"] = body
    payload["comment"]["user"]["login"] = login
    return payload


def fork_payload() -> dict[str, Any]:
    """Derived fixture: the real pull_request.opened body with the head in a fork."""
    payload = load_payload("pull_request.opened.json")
    head_repo = payload["pull_request"]["head"]["repo"]
    head_repo["full_name"] = "forker/Hello-World"
    head_repo["owner"]["login"] = "forker"
    head_repo["fork"] = True
    payload["pull_request"]["head"]["label"] = "forker:changes"
    return payload


# ---- event parsing ---------------------------------------------------------------------


@pytest.mark.parametrize("event", ["pull_request", "pull_request_target"])
@pytest.mark.parametrize("name", ["opened", "synchronize"])
def test_pull_request_events_are_reviewed(event: str, name: str) -> None:
    target = parse_event(event, load_payload(f"pull_request.{name}.json"), command="/review")

    assert target == Target(
        pr_number=2,
        trigger="action",
        head_sha=HEAD_SHA,
        base_sha="f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        from_fork=False,
        sender="Codertocat",
        event_action=name,
    )


@pytest.mark.parametrize("action", ["reopened", "ready_for_review"])
def test_reopened_and_ready_for_review_are_reviewed(action: str) -> None:
    payload = load_payload("pull_request.opened.json")
    payload["action"] = action

    assert isinstance(parse_event("pull_request", payload, command="/review"), Target)


@pytest.mark.parametrize("action", ["closed", "edited", "labeled", "converted_to_draft"])
def test_other_pull_request_actions_are_ignored(action: str) -> None:
    payload = load_payload("pull_request.closed.json")
    payload["action"] = action

    decision = parse_event("pull_request", payload, command="/review")

    assert isinstance(decision, Ignored)
    assert f"`{action}`" in decision.reason


def test_command_comment_on_a_pull_request_names_the_commenter() -> None:
    payload = pr_comment_payload("/review please", login="writer")

    target = parse_event("issue_comment", payload, command="/review")

    assert target == Target(
        pr_number=2,
        trigger="command",
        requested_by="writer",
        comment_id=payload["comment"]["id"],
        sender="Codertocat",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/review", True),
        ("  /review\nplease", True),
        ("/Review", False),
        ("/review now", True),
        ("/reviewer", False),
        ("please /review", False),
        ("", False),
    ],
)
def test_is_command_matches_the_first_word(body: str, expected: bool) -> None:
    assert is_command(body, "/review") is expected


def test_comment_on_an_issue_is_ignored() -> None:
    payload = load_payload("issue_comment.created.json")  # the real body: an issue, not a PR
    payload["comment"]["body"] = "/review"

    decision = parse_event("issue_comment", payload, command="/review")

    assert decision == Ignored("The comment is on an issue, not on a pull request.")


def test_other_comments_edits_and_closed_pull_requests_are_ignored() -> None:
    chatter = parse_event("issue_comment", pr_comment_payload("LGTM"), command="/review")
    edited = pr_comment_payload()
    edited["action"] = "edited"
    closed = pr_comment_payload()
    closed["issue"]["state"] = "closed"

    assert isinstance(chatter, Ignored)
    assert isinstance(parse_event("issue_comment", edited, command="/review"), Ignored)
    assert parse_event("issue_comment", closed, command="/review") == Ignored(
        "The pull request is closed."
    )


def test_a_custom_command_is_honoured() -> None:
    payload = pr_comment_payload("/claude")

    assert isinstance(parse_event("issue_comment", payload, command="/claude"), Target)
    assert isinstance(parse_event("issue_comment", payload, command="/review"), Ignored)


def test_commands_from_bots_are_ignored() -> None:
    payload = pr_comment_payload(login="github-actions[bot]")
    payload["comment"]["user"]["type"] = "Bot"

    assert isinstance(parse_event("issue_comment", payload, command="/review"), Ignored)


@pytest.mark.parametrize("event", ["push", "installation", "workflow_dispatch"])
def test_unsupported_events_are_ignored_with_a_reason(event: str) -> None:
    decision = parse_event(event, load_payload("installation.created.json"), command="/review")

    assert isinstance(decision, Ignored)
    assert f"`{event}` event is not handled" in decision.reason


def test_a_pull_request_event_without_a_number_is_a_config_error() -> None:
    payload = load_payload("pull_request.opened.json")
    del payload["number"], payload["pull_request"]["number"]

    with pytest.raises(ConfigError, match="no pull request number"):
        parse_event("pull_request", payload, command="/review")


# ---- forks -----------------------------------------------------------------------------


def test_is_fork() -> None:
    same = load_payload("pull_request.opened.json")["pull_request"]
    deleted = copy.deepcopy(same)
    deleted["head"]["repo"] = None  # GitHub sends null once the fork is deleted

    assert not is_fork(same)
    assert is_fork(fork_payload()["pull_request"])
    assert is_fork(deleted)


def test_secrets_are_withheld_only_from_forks_under_pull_request() -> None:
    fork = parse_event("pull_request", fork_payload(), command="/review")
    same = parse_event("pull_request", load_payload("pull_request.opened.json"), command="/r")
    assert isinstance(fork, Target) and isinstance(same, Target)

    message = secrets_withheld("pull_request", fork, None)
    assert message is not None and "fork" in message
    assert secrets_withheld("pull_request", fork, "sk-key") is None
    assert secrets_withheld("pull_request_target", fork, None) is None
    assert secrets_withheld("pull_request", same, None) is None


def test_dependabot_gets_its_own_explanation() -> None:
    payload = load_payload("pull_request.opened.json")
    payload["sender"]["login"] = "dependabot[bot]"
    target = parse_event("pull_request", payload, command="/review")
    assert isinstance(target, Target)

    message = secrets_withheld("pull_request", target, "")

    assert message is not None and "Dependabot" in message


# ---- fail-on ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), ("", None), ("none", None), ("Major", Severity.MAJOR), ("nit", Severity.NIT)],
)
def test_parse_fail_on(raw: str | None, expected: Severity | None) -> None:
    assert parse_fail_on(raw) is expected


def test_parse_fail_on_refuses_unknown_severities() -> None:
    with pytest.raises(ConfigError, match="REVIEWER_FAIL_ON"):
        parse_fail_on("blocker")


# ---- running in process, with a recording engine ---------------------------------------


@dataclass
class FakeEngine:
    """Stands in for `run_review`: records each request and answers what it was given."""

    result: ReviewResult = field(default_factory=lambda: reviewed_result(Severity.MAJOR))
    error: Exception | None = None
    calls: list[tuple[ReviewRequest, Settings]] = field(default_factory=list)

    def __call__(
        self,
        request: ReviewRequest,
        services: ReviewServices,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> ReviewResult:
        self.calls.append((request, services.settings))
        if progress is not None:
            progress("fetched 1 file")
        if self.error is not None:
            raise self.error
        return self.result


@dataclass
class Runner:
    """The environment GitHub Actions gives a step, in a temporary directory."""

    tmp: Path
    environ: dict[str, str]

    def event(self, name: str, payload: dict[str, Any]) -> None:
        path = self.tmp / "event.json"
        path.write_text(json.dumps(payload))
        self.environ.update(GITHUB_EVENT_NAME=name, GITHUB_EVENT_PATH=str(path))

    @property
    def summary(self) -> str:
        return (self.tmp / "summary.md").read_text()

    @property
    def outputs(self) -> dict[str, str]:
        return parse_github_output((self.tmp / "output.txt").read_text())


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (tmp_path / "summary.md").touch()
    (tmp_path / "output.txt").touch()
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "GITHUB_TOKEN": "ghs_test",
        "REVIEWER_DATA_DIR": str(tmp_path / "data"),
    }
    return Runner(tmp_path, env)


def test_run_reviews_a_pull_request_event(runner: Runner) -> None:
    runner.event("pull_request", load_payload("pull_request.opened.json"))
    engine = FakeEngine()

    code = run(runner.environ, review=engine)

    assert code == 0
    [(request, settings)] = engine.calls
    assert request == ReviewRequest(
        repo=REPO, pr_number=2, trigger="action", expected_head_sha=HEAD_SHA,
        event_action="opened",
    )  # fmt: skip
    assert settings.anthropic_api_key == "sk-ant-test"
    assert settings.github_token == "ghs_test"
    assert runner.outputs == {"findings": "1", "comments-posted": "1", "cost-usd": "0.0123"}
    assert "**Reviewed**: 1 finding(s) posted" in runner.summary


def test_run_passes_a_command_with_its_commenter(runner: Runner) -> None:
    payload = pr_comment_payload(login="writer")
    runner.event("issue_comment", payload)
    engine = FakeEngine()

    assert run(runner.environ, review=engine) == 0

    [(request, _)] = engine.calls
    assert (request.trigger, request.requested_by, request.comment_id) == (
        "command",
        "writer",
        payload["comment"]["id"],
    )
    assert request.expected_head_sha is None and request.diff_text is None


def test_run_ignores_an_unsupported_event(
    runner: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    runner.event("push", {"ref": "refs/heads/main"})
    engine = FakeEngine()

    assert run(runner.environ, review=engine) == 0

    assert engine.calls == []
    assert "::notice::Nothing to review: The `push` event is not handled" in capsys.readouterr().out
    assert "Nothing to review" in runner.summary
    assert runner.outputs == {"findings": "0", "comments-posted": "0", "cost-usd": "0"}


def test_run_passes_a_fork_without_secrets(
    runner: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    runner.event("pull_request", fork_payload())
    runner.environ["ANTHROPIC_API_KEY"] = ""  # what a secret expands to for a fork
    engine = FakeEngine()

    assert run(runner.environ, review=engine) == 0

    assert engine.calls == []
    assert "::warning::Pull request #2 comes from a fork" in capsys.readouterr().out
    assert "**Not reviewed**: Pull request #2 comes from a fork" in runner.summary


def test_run_without_a_key_on_a_same_repo_pull_request_fails(runner: Runner) -> None:
    runner.event("pull_request", load_payload("pull_request.opened.json"))
    del runner.environ["ANTHROPIC_API_KEY"]

    assert run(runner.environ, review=FakeEngine()) == 2

    assert "**Failed**: no Anthropic API key" in runner.summary


@pytest.mark.parametrize(("fail_on", "code"), [("", 0), ("critical", 0), ("major", 1), ("nit", 1)])
def test_fail_on_fails_the_step_at_or_above_the_severity(
    runner: Runner, fail_on: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    runner.event("pull_request", load_payload("pull_request.opened.json"))
    runner.environ["REVIEWER_FAIL_ON"] = fail_on
    engine = FakeEngine(reviewed_result(Severity.MINOR, unanchored=(Severity.MAJOR,)))

    assert run(runner.environ, review=engine) == code

    if code:
        assert f"at or above {fail_on} (fail-on)" in capsys.readouterr().out
    assert runner.outputs["findings"] == "2"


def test_fail_on_ignores_findings_that_were_not_posted(runner: Runner) -> None:
    runner.event("pull_request", load_payload("pull_request.opened.json"))
    runner.environ["REVIEWER_FAIL_ON"] = "nit"
    skipped = ReviewResult(status="skipped", reason="head moved")

    assert run(runner.environ, review=FakeEngine(skipped)) == 0


@pytest.mark.parametrize(("fail_on", "code"), [("", 0), ("critical", 3)])
def test_a_review_the_budget_stopped_is_not_read_as_clean(
    runner: Runner, fail_on: str, code: int
) -> None:
    runner.event("pull_request", load_payload("pull_request.opened.json"))
    runner.environ["REVIEWER_FAIL_ON"] = fail_on
    stop = "review budget of $0.01 reached"
    stopped = ReviewResult(
        status="budget_exhausted",
        budget_stop=stop,
        chunks=(ChunkReport(0, ("a.py",), 10, "skipped", None, stop),),
    )

    assert run(runner.environ, review=FakeEngine(stopped)) == code

    assert "**Not reviewed**" in runner.summary and runner.summary.count(stop) == 1


def test_an_engine_error_fails_the_step_with_its_message(runner: Runner) -> None:
    runner.event("pull_request", load_payload("pull_request.opened.json"))
    error = GitHubError("GitHub answered 502", status_code=502, retryable=True)

    assert run(runner.environ, review=FakeEngine(error=error)) == 1

    assert "**Failed**: GitHub answered 502 (a transient failure: re-run the job)" in runner.summary
    assert runner.outputs["findings"] == "0"


def test_a_failed_review_fails_the_step(runner: Runner) -> None:
    runner.event("pull_request", load_payload("pull_request.opened.json"))
    failed = ReviewResult(status="failed", reason="the configuration is invalid")

    assert run(runner.environ, review=FakeEngine(failed)) == 1


def test_run_outside_actions_is_a_config_error(runner: Runner) -> None:
    assert run({}, review=FakeEngine()) == 2
    runner.environ.update(GITHUB_EVENT_NAME="pull_request", GITHUB_EVENT_PATH="/nonexistent")
    assert run(runner.environ, review=FakeEngine()) == 2
    assert "GITHUB_EVENT_PATH: cannot read /nonexistent" in runner.summary


def test_action_env_reads_the_variables_actions_sets() -> None:
    env = ActionEnv.from_environ(
        {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": "/e.json",
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_WORKSPACE": "/w",
            "GITHUB_STEP_SUMMARY": "/s",
            "GITHUB_OUTPUT": "/o",
        }
    )

    assert env == ActionEnv(
        event_name="pull_request",
        event_path=Path("/e.json"),
        repository=REPO,
        api_url="https://api.github.com",
        server_url="https://github.com",
        workspace=Path("/w"),
        step_summary=Path("/s"),
        output=Path("/o"),
    )


# ---- the local diff --------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository with a base commit and a PR head that edits and adds a file."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("Hello\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "README.md").write_text("Hello, world\n")
    (repo / "new file.txt").write_text("new\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "head")
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("Hello again\n")  # the base moved on after the fork point
    git(repo, "commit", "-q", "-am", "later base")
    return repo, git(repo, "rev-parse", "HEAD"), head


def test_local_diff_is_the_three_dot_diff_of_the_checkout(checkout: tuple[Path, str, str]) -> None:
    repo, base, head = checkout

    text = local_diff(repo, base, head)

    assert text is not None
    assert "diff --git a/README.md b/README.md" in text
    assert "-Hello\n+Hello, world\n" in text  # against the merge base, not the later base
    assert "diff --git a/new file.txt b/new file.txt" in text


def test_local_diff_is_none_without_both_commits(
    checkout: tuple[Path, str, str], tmp_path: Path
) -> None:
    repo, base, head = checkout
    missing = "0123456789abcdef0123456789abcdef01234567"
    empty = tmp_path / "not-a-repo"
    empty.mkdir()

    assert local_diff(repo, base, missing) is None
    assert local_diff(empty, base, head) is None
    assert local_diff(repo, "--output=/tmp/x", head) is None  # not a SHA: never reaches git


def test_run_uses_the_api_and_says_why_when_the_checkout_is_shallow(
    runner: Runner, checkout: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _, _ = checkout  # the fixture payload's commits are not in this repository
    runner.event("pull_request", load_payload("pull_request.opened.json"))
    runner.environ["GITHUB_WORKSPACE"] = str(repo)
    engine = FakeEngine()

    assert run(runner.environ, review=engine) == 0

    assert engine.calls[0][0].diff_text is None
    assert engine.calls[0][0].checkout is None  # context then comes through the API
    out = capsys.readouterr().out
    assert "The diff comes from the GitHub API." in out
    assert "fetch-depth: 0" in out


def test_run_sends_the_local_diff_when_the_checkout_has_both_commits(
    runner: Runner, checkout: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, base, head = checkout
    payload = load_payload("pull_request.opened.json")
    payload["pull_request"]["base"]["sha"], payload["pull_request"]["head"]["sha"] = base, head
    runner.event("pull_request", payload)
    runner.environ["GITHUB_WORKSPACE"] = str(repo)
    engine = FakeEngine()

    assert run(runner.environ, review=engine) == 0

    [(request, _)] = engine.calls
    assert request.diff_text == local_diff(repo, base, head)
    assert request.expected_head_sha == head
    assert "The diff comes from the local checkout." in capsys.readouterr().out
    assert request.checkout == str(repo)  # read-only context is read there, at the head


# ---- action.yml ------------------------------------------------------------------------


def action_yml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    return loaded


def review_step() -> dict[str, Any]:
    steps: list[dict[str, Any]] = action_yml()["runs"]["steps"]
    [step] = [s for s in steps if s.get("id") == "review"]
    return step


def settings_of(engine: FakeEngine) -> Settings:
    return engine.calls[0][1]


# How each input shows up inside the program, given the value the test puts in its variable.
INPUT_EFFECTS: dict[str, tuple[str, Callable[[FakeEngine, int], Any], Any]] = {
    "anthropic-api-key": (
        "sk-ant-wired",
        lambda e, _: settings_of(e).anthropic_api_key,
        "sk-ant-wired",
    ),
    "github-token": ("ghs_wired", lambda e, _: settings_of(e).github_token, "ghs_wired"),
    "model": ("claude-opus-4-6", lambda e, _: settings_of(e).model, "claude-opus-4-6"),
    "config-path": (
        ".github/other.yml",
        lambda e, _: settings_of(e).config_path,
        ".github/other.yml",
    ),
    "fail-on": ("major", lambda _, code: code, 1),
    "max-cost-usd": ("0.75", lambda e, _: settings_of(e).review_budget_usd, Decimal("0.75")),
    "command": ("/claude", lambda e, _: len(e.calls), 1),
    # The runner fixture's workspace is beside its data directory.
    "sarif-file": (
        "out/reviewer.sarif",
        lambda e, _: json.loads(
            (settings_of(e).data_dir.parent / "workspace/out/reviewer.sarif").read_text()
        )["runs"][0]["results"][0]["level"],
        "error",
    ),
    "mode": ("batch", lambda e, _: settings_of(e).review_mode, "batch"),
    "batch-max-wait-minutes": ("5", lambda e, _: e.calls[0][0].batch_max_wait_s, 300.0),
    "context": ("file", lambda e, _: settings_of(e).context, "file"),
}


def test_every_input_is_mapped_onto_an_environment_variable() -> None:
    inputs = action_yml()["inputs"]
    env = review_step()["env"]

    mapped = {value.strip("${} ").removeprefix("inputs."): name for name, value in env.items()}

    assert set(inputs) <= set(mapped), "an input reaches no environment variable"
    assert set(inputs) == set(INPUT_EFFECTS), "every input needs a wiring check below"
    assert inputs["github-token"]["default"] == "${{ github.token }}"


@pytest.mark.parametrize("name", sorted(INPUT_EFFECTS))
def test_every_input_reaches_the_program(runner: Runner, name: str) -> None:
    value, observe, expected = INPUT_EFFECTS[name]
    variable = next(
        var for var, expr in review_step()["env"].items() if expr == f"${{{{ inputs.{name} }}}}"
    )
    if name == "command":
        runner.event("issue_comment", pr_comment_payload("/claude"))
    else:
        runner.event("pull_request", load_payload("pull_request.opened.json"))
    engine = FakeEngine(reviewed_result(Severity.MAJOR))
    runner.environ[variable] = value

    code = run(runner.environ, review=engine)

    assert observe(engine, code) == expected


def test_every_output_is_written_by_the_program(runner: Runner) -> None:
    outputs = action_yml()["outputs"]
    runner.event("pull_request", load_payload("pull_request.opened.json"))

    run(runner.environ, review=FakeEngine())

    assert set(outputs) == set(OUTPUT_NAMES) == set(runner.outputs)
    for name, spec in outputs.items():
        assert spec["value"] == f"${{{{ steps.review.outputs.{name} }}}}"


def test_action_yml_installs_pinned_requirements_and_runs_reviewer_action() -> None:
    spec = action_yml()
    steps = spec["runs"]["steps"]
    assert spec["runs"]["using"] == "composite"
    assert steps[0]["uses"].startswith("actions/setup-python@")
    install = next(s for s in steps if s.get("id") == "install")
    assert '-r "$ACTION_PATH/requirements/action.txt"' in install["run"]
    assert '--no-deps "$ACTION_PATH"' in install["run"]
    assert review_step()["run"] == '"$REVIEW_BIN/reviewer" action'
    assert spec["branding"]["icon"] and spec["branding"]["color"]


def test_requirements_pin_every_runtime_dependency() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [
        line for line in (ROOT / "requirements/action.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    pinned = {canonicalize_name(line.split("==")[0]): line.split("==")[1] for line in lines}

    assert all("==" in line for line in lines)
    for dep in deps:
        req = Requirement(dep)
        assert canonicalize_name(req.name) in pinned, req.name
        assert pinned[canonicalize_name(req.name)] in req.specifier, req


# ---- `reviewer action` as a subprocess, against fake GitHub and fake Messages servers -----

REVIEWER = Path(sys.executable).with_name("reviewer")  # the console script action.yml runs
GITHUB_TOKEN = "ghs_fake_workflow_token"
README_PATCH = "@@ -1 +1 @@\n-Hello World\n+Hello World, with new information\n"
README_FINDING = {
    "path": "README.md",
    "line": 1,
    "side": "RIGHT",
    "severity": "major",
    "category": "docs",
    "title": "The greeting lost its full stop",
    "body": "End the sentence.",
    "suggestion": None,
}


@dataclass(frozen=True)
class ActionRun:
    code: int
    stdout: str
    stderr: str
    summary: str
    outputs: dict[str, str]


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    """Fake GitHub holding Codertocat/Hello-World#2 as the fixtures describe it."""
    with serve(REPO) as fake:
        pull = load_payload("pull_request.opened.json")["pull_request"]
        fake.add_pull(
            pull,
            files=[
                {
                    "sha": "a" * 40,
                    "filename": "README.md",
                    "status": "modified",
                    "additions": 1,
                    "deletions": 1,
                    "changes": 2,
                    "patch": README_PATCH,
                }
            ],
        )
        fake.permissions.update({"writer": "write", "reader": "read"})
        yield fake
        assert fake.errors == []
        assert fake.unhandled == []


def step_env(inputs: Mapping[str, str]) -> dict[str, str]:
    """The variables action.yml's review step sets, from `inputs` and the inputs' defaults."""
    defaults = action_yml()["inputs"]
    env = {}
    for variable, expr in review_step()["env"].items():
        name = expr.strip("${} ").removeprefix("inputs.")
        if name not in defaults:
            continue
        value = inputs.get(name, defaults[name].get("default", ""))
        env[variable] = GITHUB_TOKEN if value == "${{ github.token }}" else value
    return env


def run_action(
    tmp_path: Path,
    event_name: str,
    payload: dict[str, Any],
    *,
    github: FakeGitHub,
    claude: FakeMessages,
    inputs: Mapping[str, str] | None = None,
    job_env: Mapping[str, str] | None = None,
) -> ActionRun:
    """Run `reviewer action` the way the composite action's last step runs it."""
    workspace, home = tmp_path / "workspace", tmp_path / "home"
    workspace.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    event_path, summary, output = tmp_path / "event.json", tmp_path / "summary.md", tmp_path / "out"
    event_path.write_text(json.dumps(payload))
    summary.touch()
    output.touch()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": github.api_url,
        "REVIEWER_GITHUB_WRITE_INTERVAL_S": "0",  # a loopback fake: no secondary limits
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "ANTHROPIC_BASE_URL": claude.base_url,
        "REVIEWER_DATA_DIR": str(tmp_path / "data"),
        "REVIEWER_MAX_RETRIES": "0",
        "REVIEWER_REQUEST_TIMEOUT_S": "20",
        **step_env({"anthropic-api-key": FAKE_API_KEY, **(inputs or {})}),
        **(job_env or {}),
    }
    done = subprocess.run(
        [str(REVIEWER), "action"],
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return ActionRun(
        code=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        summary=summary.read_text(),
        outputs=parse_github_output(output.read_text()),
    )


def test_action_reviews_a_pull_request_and_posts_one_review(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    fake_claude.enqueue_findings([README_FINDING], usage={"input_tokens": 2000})
    ledger_url = f"sqlite:///{tmp_path / 'shared-ledger.sqlite3'}"

    run = run_action(
        tmp_path,
        "pull_request",
        load_payload("pull_request.opened.json"),
        github=gh,
        claude=fake_claude,
        job_env={"REVIEWER_DATABASE_URL": ledger_url},
    )

    assert run.code == 0, run.stdout + run.stderr
    [review] = gh.review_posts
    assert review["commit_id"] == HEAD_SHA
    assert review["event"] == "COMMENT"
    [inline] = review["comments"]
    assert (inline["path"], inline["line"], inline["side"]) == ("README.md", 1, "RIGHT")
    assert "The greeting lost its full stop" in inline["body"]
    assert GITHUB_TOKEN in " ".join(gh.authorizations)
    assert len(fake_claude.requests) == 1
    assert run.outputs["findings"] == "1"
    assert run.outputs["comments-posted"] == "1"
    assert Decimal(run.outputs["cost-usd"]) > 0
    assert "**Reviewed**: 1 finding(s) posted, 1 as inline comments" in run.summary
    assert "| major | 1 | 0 |" in run.summary
    assert "| input_tokens | 2,000 |" in run.summary
    with Ledger.open(ledger_url) as ledger:
        [row] = ledger.report(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    assert (row.key, row.calls, row.input_tokens) == (REPO, 1, 2000)


def test_action_fail_on_fails_the_step_after_posting(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    fake_claude.enqueue_findings([README_FINDING])

    run = run_action(
        tmp_path,
        "pull_request_target",
        load_payload("pull_request.synchronize.json"),
        github=gh,
        claude=fake_claude,
        inputs={"fail-on": "major"},
    )

    assert run.code == 1, run.stdout + run.stderr
    assert len(gh.posted_reviews()) == 1
    assert "::error::1 finding(s) at or above major (fail-on)." in run.stdout


@pytest.mark.parametrize("login", ["writer"])
def test_action_command_by_a_writer_is_acknowledged_and_reviewed(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages, login: str
) -> None:
    fake_claude.enqueue_findings([README_FINDING])
    payload = pr_comment_payload("/review", login=login)

    run = run_action(tmp_path, "issue_comment", payload, github=gh, claude=fake_claude)

    assert run.code == 0, run.stdout + run.stderr
    assert gh.reactions == [{"comment_id": payload["comment"]["id"], "content": "eyes"}]
    assert ("GET", f"/repos/{REPO}/collaborators/{login}/permission") in gh.requests
    assert len(gh.posted_reviews()) == 1
    assert run.outputs["comments-posted"] == "1"


def test_action_command_by_a_reader_is_refused_without_calling_claude(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    run = run_action(
        tmp_path, "issue_comment", pr_comment_payload(login="reader"), github=gh, claude=fake_claude
    )

    assert run.code == 0, run.stdout + run.stderr
    assert fake_claude.requests == []
    assert gh.review_posts == [] and gh.reactions == []
    [reply] = gh.issue_comments
    assert "only collaborators with write access" in reply["body"]
    assert "**Refused**: reader may not trigger a review" in run.summary
    assert run.outputs == {"findings": "0", "comments-posted": "0", "cost-usd": "0"}


def test_action_fork_pull_request_without_a_key_passes_and_says_why(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    run = run_action(
        tmp_path,
        "pull_request",
        fork_payload(),
        github=gh,
        claude=fake_claude,
        inputs={"anthropic-api-key": ""},  # GitHub expands a secret to "" for forks
    )

    assert run.code == 0, run.stdout + run.stderr
    assert gh.requests == [] and fake_claude.requests == []
    assert "::warning::Pull request #2 comes from a fork" in run.stdout
    assert "no secrets" in run.summary
    assert run.outputs["findings"] == "0"


def test_action_unsupported_event_passes_with_a_clear_message(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    run = run_action(
        tmp_path, "installation", load_payload("installation.created.json"), github=gh,
        claude=fake_claude,
    )  # fmt: skip

    assert run.code == 0, run.stdout + run.stderr
    assert gh.requests == [] and fake_claude.requests == []
    assert "::notice::Nothing to review: The `installation` event is not handled" in run.stdout
    assert "Nothing to review" in run.summary


def test_action_closed_pull_request_event_is_not_reviewed(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    run = run_action(
        tmp_path, "pull_request", load_payload("pull_request.closed.json"), github=gh,
        claude=fake_claude,
    )  # fmt: skip

    assert run.code == 0
    assert gh.requests == []
    assert "`pull_request` with action `closed` is not reviewed" in run.stdout


def test_action_reviews_the_local_checkout_diff_and_posts(
    tmp_path: Path,
    gh: FakeGitHub,
    fake_claude: FakeMessages,
    checkout: tuple[Path, str, str],
) -> None:
    repo, base, head = checkout
    payload = load_payload("pull_request.opened.json")
    payload["pull_request"]["base"]["sha"], payload["pull_request"]["head"]["sha"] = base, head
    gh.pulls[2]["base"]["sha"], gh.pulls[2]["head"]["sha"] = base, head
    gh.files[2].append(
        {"filename": "new file.txt", "status": "added", "patch": "@@ -0,0 +1 @@\n+new"}
    )
    fake_claude.enqueue_findings([README_FINDING])

    run = run_action(
        tmp_path,
        "pull_request",
        payload,
        github=gh,
        claude=fake_claude,
        job_env={"GITHUB_WORKSPACE": str(repo)},
    )

    assert run.code == 0, run.stdout + run.stderr
    assert "The diff comes from the local checkout." in run.stdout
    assert ("GET", f"/repos/{REPO}/pulls/2/files") not in gh.requests
    assert "new file.txt" in json.dumps(fake_claude.requests[0])
    [review] = gh.review_posts
    assert review["commit_id"] == head


def test_action_check_run_when_the_repository_asks_for_one(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    gh.contents[".github/reviewer.yml"] = "output:\n  check_run: true\n  fail_on: major\n"
    fake_claude.enqueue_findings([README_FINDING])

    run = run_action(
        tmp_path,
        "pull_request",
        load_payload("pull_request.opened.json"),
        github=gh,
        claude=fake_claude,
        inputs={"sarif-file": "out/reviewer.sarif"},
    )

    assert run.code == 0, run.stdout + run.stderr  # the step's own fail-on input is unset
    [check] = gh.check_runs
    assert (check["name"], check["head_sha"]) == ("Claude review", HEAD_SHA)
    assert (check["status"], check["conclusion"]) == ("completed", "failure")
    assert [a["path"] for a in check["annotations"]] == ["README.md"]
    assert [method for method, _ in gh.check_run_writes] == ["POST", "PATCH"]
    sarif = json.loads((tmp_path / "workspace" / "out" / "reviewer.sarif").read_text())
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "reviewer/docs" and result["level"] == "error"


# ---- batch mode -----------------------------------------------------------------------------


def _ledger_by_mode(ledger_url: str) -> dict[str, Decimal]:
    with Ledger.open(ledger_url) as ledger:
        rows = ledger.report(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC),
                             by="mode")  # fmt: skip
    return {row.key: row.cost_usd for row in rows}


def test_action_mode_batch_waits_for_the_batch_and_posts(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    fake_claude.enqueue_findings([README_FINDING], usage={"input_tokens": 2000})
    ledger_url = f"sqlite:///{tmp_path / 'shared-ledger.sqlite3'}"

    run = run_action(
        tmp_path, "pull_request", load_payload("pull_request.opened.json"), github=gh,
        claude=fake_claude, inputs={"mode": "batch"},
        job_env={"REVIEWER_DATABASE_URL": ledger_url, "REVIEWER_BATCH_POLL_S": "0.001"},
    )  # fmt: skip

    assert run.code == 0, run.stdout + run.stderr
    [review] = gh.review_posts
    assert "Reviewed in batch mode: $" in review["body"]
    assert fake_claude.requests == [] and len(fake_claude.batches) == 1
    assert "in_progress" in run.stdout  # progress while waiting
    spent = _ledger_by_mode(ledger_url)
    assert set(spent) == {"batch"} and spent["batch"] == Decimal(run.outputs["cost-usd"])
    # 2000 input and 150 output tokens of claude-sonnet-4-6 at half of $3 and $15 per MTok.
    assert spent["batch"] == Decimal("0.004125")


def test_action_batch_wait_limit_cancels_and_finishes_in_real_time(
    tmp_path: Path, gh: FakeGitHub, fake_claude: FakeMessages
) -> None:
    fake_claude.enqueue_findings([README_FINDING], usage={"input_tokens": 2000})
    fake_claude.batch_polls = 10_000  # the batch would not end within the limit
    ledger_url = f"sqlite:///{tmp_path / 'shared-ledger.sqlite3'}"

    run = run_action(
        tmp_path, "pull_request", load_payload("pull_request.opened.json"), github=gh,
        claude=fake_claude, inputs={"mode": "batch", "batch-max-wait-minutes": "0.0001"},
        job_env={"REVIEWER_DATABASE_URL": ledger_url, "REVIEWER_BATCH_POLL_S": "0.001"},
    )  # fmt: skip

    assert run.code == 0, run.stdout + run.stderr
    [batch] = fake_claude.batches.values()
    assert batch.cancel_requested and batch.status == "ended"
    assert len(fake_claude.requests) == 1  # the canceled chunk, reviewed in real time
    [review] = gh.review_posts
    assert [c["path"] for c in review["comments"]] == ["README.md"]
    spent = _ledger_by_mode(ledger_url)
    assert spent["batch"] == 0  # canceled: nothing was paid for in the batch
    assert spent["realtime"] == Decimal("0.00825")  # 2000 in, 150 out at $3 and $15 per MTok


def test_the_marker_key_is_derived_from_the_api_key_so_every_run_shares_it(
    runner: Runner, tmp_path: Path
) -> None:
    runner.event("pull_request", load_payload("pull_request.opened.json"))
    engine = FakeEngine()
    assert run(runner.environ, review=engine) == 0
    assert run(runner.environ | {"REVIEWER_DATA_DIR": str(tmp_path / "other")}, review=engine) == 0
    other_api_key = runner.environ | {"ANTHROPIC_API_KEY": "sk-ant-other"}
    assert run(other_api_key, review=engine) == 0
    assert run(runner.environ | {"REVIEWER_MARKER_KEY": "set-by-the-user"}, review=engine) == 0
    first, second, third, fourth = (settings.marker_key for _, settings in engine.calls)
    assert first == second and first not in (None, "sk-ant-test")  # a new runner: the same key
    assert third != first
    assert fourth == "set-by-the-user"
