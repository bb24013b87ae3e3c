"""The `reviewer review` command: its output contract and exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reviewer.cli.main import local_repo_name, main, parse_target, warn_about_models
from reviewer.errors import ConfigError, UnknownModelError
from reviewer.settings import Settings
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, findings_answer
from tests.paths import SAMPLE_DIFF

SAMPLE = SAMPLE_DIFF
FINDING = {
    "path": "src/app/users.py", "line": 7, "side": "RIGHT", "severity": "major",
    "category": "security", "title": "SQL built from input", "body": "Use parameters.",
}  # fmt: skip


def _invoke(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, env=env)


def test_context_flag_sets_the_mode_of_a_dry_run() -> None:
    result = _invoke("review", "--diff", str(SAMPLE), "--dry-run", "--format", "json",
                     "--context", "none")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["context"] == {
        "mode": "none", "lines": 0, "tokens": 0, "changed_lines": 33,
        "tokens_per_changed_line": 0.0,
    }  # fmt: skip
    bad = _invoke("review", "--diff", str(SAMPLE), "--dry-run", "--context", "everything")
    assert bad.exit_code == 2


def test_dry_run_json_follows_the_contract() -> None:
    result = _invoke("review", "--diff", str(SAMPLE), "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"status", "files", "chunks", "estimate", "context"}
    assert set(out["context"]) == {
        "mode", "lines", "tokens", "changed_lines", "tokens_per_changed_line",
    }  # fmt: skip
    assert out["context"]["mode"] == "definition"
    assert set(out["files"][0]) == {"path", "status", "reviewed", "reason", "added", "removed"}
    by_path = {f["path"]: f for f in out["files"]}
    assert by_path["package-lock.json"] == {
        "path": "package-lock.json", "status": "modified", "reviewed": False,
        "reason": "lockfile", "added": 2, "removed": 1,
    }  # fmt: skip
    assert by_path["logo.png"]["status"] == "binary" and not by_path["logo.png"]["reviewed"]
    [chunk] = out["chunks"]
    assert set(chunk) == {"index", "files", "estimated_input_tokens"}
    assert chunk["files"] == ["src/app/arith.py", "src/app/cache.py", "src/app/users.py"]
    assert out["estimate"]["model"] == "claude-sonnet-4-6"
    assert out["estimate"]["input_tokens"] == chunk["estimated_input_tokens"] > 0
    assert out["estimate"]["cost_usd"] > 0


def test_dry_run_text_reads_from_stdin() -> None:
    result = _invoke("review", "--diff", "-", "--dry-run", stdin=SAMPLE.read_text())
    assert result.exit_code == 0
    assert "skip    package-lock.json" in result.stdout and "(lockfile)" in result.stdout
    assert "Estimate: ~" in result.stdout and "no model was called" in result.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("--diff", "-"), "this is not a diff\n", "not a unified diff"),
        (("--diff", "-"), "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n-a\n", "line"),
        (("--diff", "/nonexistent/x.diff"), None, "cannot read the diff"),
        (("--diff", str(SAMPLE), "--model", "gpt-4"), None, "gpt-4"),
        (("octo/app",), None, "not a pull request"),
        ((), None, "nothing to review"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    result = _invoke("review", *args, "--dry-run", stdin=stdin)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_review_without_a_key_is_a_clear_error() -> None:
    result = _invoke("review", "--diff", str(SAMPLE))
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY" in result.stderr


def test_review_json_and_fail_on(fake_claude: FakeMessages) -> None:
    fake_claude.default = findings_answer([FINDING])
    env = {"ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": fake_claude.base_url}
    result = _invoke(
        "review", "--diff", str(SAMPLE), "--format", "json", "--fail-on", "major", env=env
    )
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["comments"] == [
        {
            "path": "src/app/users.py", "line": 7, "side": "RIGHT", "start_line": None,
            "start_side": None, "severity": "major", "category": "security",
            "title": "SQL built from input", "body": "Use parameters.",
        }
    ]  # fmt: skip
    assert out["chunks"] == [{"index": 0, "status": "ok", "stop_reason": "end_turn"}]
    assert out["usage"] == fake_claude.usage_totals()
    assert out["cost_usd"] > 0
    lenient = _invoke("review", "--diff", str(SAMPLE), "--fail-on", "critical", env=env)
    assert lenient.exit_code == 0 and "SQL built from input" in lenient.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("octo/app#12", ("octo/app", 12)),
        ("https://github.com/octo/my.app/pull/7", ("octo/my.app", 7)),
        ("https://ghe.example.com/team/svc/pull/3/", ("team/svc", 3)),
    ],
)
def test_parse_target(text: str, expected: tuple[str, int]) -> None:
    assert parse_target(text) == expected


def test_parse_target_rejects_other_text() -> None:
    with pytest.raises(ConfigError):
        parse_target("octo/app")


def test_local_repo_name_from_the_github_remote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert local_repo_name() == "local"
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(["git", "remote", "add", "origin", "git@github.com:octo/tool.git"], check=True)
    assert local_repo_name() == "octo/tool"


def test_review_sarif_is_valid_and_keeps_fail_on(fake_claude: FakeMessages) -> None:
    from tests.core.test_sarif import assert_valid

    fake_claude.default = findings_answer([FINDING])
    env = {"ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": fake_claude.base_url}

    result = _invoke(
        "review", "--diff", str(SAMPLE), "--format", "sarif", "--fail-on", "major", env=env
    )

    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert_valid(log)
    [sarif_result] = log["runs"][0]["results"]
    assert sarif_result["ruleId"] == "reviewer/security"
    assert sarif_result["level"] == "error"
    assert sarif_result["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "src/app/users.py"
    }


def test_dry_run_sarif_has_no_results_and_says_why() -> None:
    result = _invoke("review", "--diff", str(SAMPLE), "--dry-run", "--format", "sarif")

    assert result.exit_code == 0, result.output
    log = json.loads(result.stdout)
    assert log["runs"][0]["results"] == []
    assert "Dry run" in json.dumps(log["runs"][0]["invocations"])


def test_configured_models_are_checked_before_a_review(capsys: pytest.CaptureFixture[str]) -> None:
    # claude-sonnet-4-5 is in the SDK's deprecated list, retiring 2026-11-30.
    warn_about_models(Settings(model="claude-sonnet-4-6", fallback_model="claude-sonnet-4-5"))
    err = capsys.readouterr().err
    assert "reviewer: warning: claude-sonnet-4-5 " in err and "move to a newer model" in err
    assert "claude-sonnet-4-6" not in err
    with pytest.raises(UnknownModelError):
        warn_about_models(Settings(), "claude-nonexistent-1")
