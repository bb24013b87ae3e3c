"""The CLI as a new user meets it: bad settings, local config, budgets, odd diffs, config, spend."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reviewer.cli.main import main
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, findings_answer
from tests.paths import SAMPLE_DIFF


def _invoke(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, env=env)


def _finding(line: int, title: str) -> dict[str, object]:
    return {
        "path": "src/app/arith.py", "line": line, "side": "RIGHT", "severity": "major",
        "category": "bug", "title": title, "body": "Check it.",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REVIEWER_MAX_CHUNK_TOKENS", "10", "REVIEWER_MAX_CHUNK_TOKENS must be between 100"),
        ("REVIEWER_MAX_OUTPUT_TOKENS", "10000000", "REVIEWER_MAX_OUTPUT_TOKENS must be between"),
    ],
)
def test_an_out_of_range_setting_is_one_line_and_exit_2(
    name: str, value: str, message: str
) -> None:
    result = _invoke("review", "--diff", str(SAMPLE_DIFF), "--dry-run", env={name: value})
    assert result.exit_code == 2
    assert "Traceback" not in result.output and result.exception is not None
    [line] = result.stderr.strip().splitlines()
    assert message in line


def test_a_local_diff_applies_the_working_trees_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "reviewer.yml").write_text("paths:\n  exclude: ['src/app/users.py']\n")
    monkeypatch.chdir(tmp_path)
    result = _invoke(
        "review", "--diff", str(SAMPLE_DIFF), "--dry-run", "--format", "json", "--repo", "o/r"
    )
    assert result.exit_code == 0, result.output
    files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    assert files["src/app/users.py"]["reason"] == "excluded by pattern 'src/app/users.py'"
    shown = _invoke("config", "show", "--format", "json")
    assert json.loads(shown.stdout)["file"] == ".github/reviewer.yml"


def test_a_review_the_budget_stopped_is_not_clean(fake_claude: FakeMessages) -> None:
    env = {
        "ANTHROPIC_API_KEY": FAKE_API_KEY,
        "ANTHROPIC_BASE_URL": fake_claude.base_url,
        "REVIEWER_REVIEW_BUDGET_USD": "0.000001",
        "REVIEWER_MAX_CHUNK_TOKENS": "300",  # several chunks, each stopped by the budget
    }
    args = ("review", "--diff", str(SAMPLE_DIFF), "--repo", "o/r")
    as_json = _invoke(*args, "--format", "json", env=env)
    assert as_json.exit_code == 0, as_json.output
    out = json.loads(as_json.stdout)
    assert out["status"] == "budget_exhausted"
    assert len(out["chunks"]) > 1 and {c["status"] for c in out["chunks"]} == {"skipped"}
    text = _invoke(*args, env=env)
    assert text.stdout.count(out["budget_stop"]) == 1
    assert "not reviewed because of the budget" in text.stdout
    gated = _invoke(*args, "--fail-on", "critical", env=env)
    assert gated.exit_code == 3
    assert fake_claude.requests == []


def test_findings_past_the_comment_cap_are_not_called_outside_the_diff(
    fake_claude: FakeMessages,
) -> None:
    fake_claude.default = findings_answer([_finding(2, "first"), _finding(6, "second")])
    env = {
        "ANTHROPIC_API_KEY": FAKE_API_KEY,
        "ANTHROPIC_BASE_URL": fake_claude.base_url,
        "REVIEWER_MAX_COMMENTS": "1",
    }
    result = _invoke("review", "--diff", str(SAMPLE_DIFF), "--repo", "o/r", env=env)
    assert result.exit_code == 0, result.output
    assert "(not in the diff)" not in result.stdout
    assert "(past the comment cap)" in result.stdout


def test_config_check_refuses_an_unknown_model_and_takes_a_plain_model_id(
    tmp_path: Path,
) -> None:
    unknown = tmp_path / "unknown.yml"
    unknown.write_text("model:\n  default: claude-imaginary-9\n")
    result = _invoke("config", "check", str(unknown))
    assert result.exit_code == 2
    assert "model.default: no price for model 'claude-imaginary-9'" in result.stderr
    routed = tmp_path / "routed.yml"
    routed.write_text("model:\n  routing:\n    - paths: ['*.md']\n      model: claude-nope-1\n")
    assert "model.routing[0].model" in _invoke("config", "check", str(routed)).stderr
    plain = tmp_path / "plain.yml"
    plain.write_text("model: claude-haiku-4-5\n")
    assert _invoke("config", "check", str(plain)).exit_code == 0
    shown = _invoke("config", "show", "--config", str(plain), "--format", "json")
    assert "claude-haiku-4-5" in shown.stdout


# ---- diffs that hide or break things ------------------------------------------------------


def test_one_line_larger_than_a_chunk_skips_its_file_not_the_review() -> None:
    minified = "var a=" + "1+" * 60_000 + "1;"
    diff = (
        "diff --git a/static/app.js b/static/app.js\nnew file mode 100644\n"
        "--- /dev/null\n+++ b/static/app.js\n@@ -0,0 +1 @@\n+" + minified + "\n"
    ) + SAMPLE_DIFF.read_text()
    result = _invoke("review", "--diff", "-", "--dry-run", "--format", "json", stdin=diff)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    files = {f["path"]: f for f in out["files"]}
    assert not files["static/app.js"]["reviewed"]
    assert "larger than a chunk" in files["static/app.js"]["reason"]
    assert files["src/app/users.py"]["reviewed"]
    assert all("static/app.js" not in c["files"] for c in out["chunks"])


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def merged(tmp_path: Path) -> Path:
    """A repository whose HEAD merges two branches that both changed one file."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "a.py").write_text("one\ntwo\nthree\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "side")
    (repo / "a.py").write_text("one\ntwo\nthree, side\n")
    _git(repo, "commit", "-q", "-am", "side")
    _git(repo, "checkout", "-q", "main")
    (repo / "a.py").write_text("one, main\ntwo\nthree\n")
    _git(repo, "commit", "-q", "-am", "main")
    _git(repo, "merge", "-q", "--no-edit", "side")
    (repo / "a.py").write_text("one, main\ntwo\nthree, merged\n")
    _git(repo, "commit", "-q", "--amend", "--no-edit", "-a")
    return repo


def test_a_combined_diff_is_refused_with_what_to_pass(merged: Path) -> None:
    shown = _git(merged, "show", "HEAD")
    assert "diff --cc a.py" in shown
    result = _invoke("review", "--diff", "-", "--dry-run", stdin=shown)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "combined diff" in line and "git diff MERGE^1 MERGE" in line


def test_git_log_p_is_refused_with_what_to_pass(merged: Path) -> None:
    log = _git(merged, "log", "-p", "--no-merges")
    result = _invoke("review", "--diff", "-", "--dry-run", stdin=log)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "git log -p" in line and "git diff FIRST^ LAST" in line


def test_git_show_of_one_ordinary_commit_is_still_a_diff(merged: Path) -> None:
    shown = _git(merged, "show", "HEAD^2")
    result = _invoke("review", "--diff", "-", "--dry-run", "--format", "json", stdin=shown)
    assert result.exit_code == 0, result.output
    assert [f["path"] for f in json.loads(result.stdout)["files"]] == ["a.py"]
