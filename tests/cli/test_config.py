"""Tests for reviewer/config_cli.py through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewer.cli.config import config_group
from reviewer.cli.main import main

GOOD = "output:\n  max_comments: 5\nbudget:\n  monthly_usd: 50\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working tree to run in, with no .github/reviewer.yml yet."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".github").mkdir()
    return tmp_path


def write(repo: Path, text: str, name: str = ".github/reviewer.yml") -> Path:
    path = repo / name
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(config_group, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_default_path_ok(repo: Path) -> None:
    write(repo, GOOD)
    assert run("check") == (0, ".github/reviewer.yml: OK\n", "")


def test_check_explicit_path_ok(repo: Path) -> None:
    write(repo, "", name="other.yml")
    assert run("check", "other.yml") == (0, "other.yml: OK\n", "")


def test_check_unknown_key(repo: Path) -> None:
    write(repo, "output:\n  max_coments: 5\n")
    code, out, err = run("check")
    assert code == 2
    assert out == ""
    assert err == (
        ".github/reviewer.yml:2: unknown key 'output.max_coments' (did you mean 'max_comments'?)\n"
    )


def test_check_wrong_type(repo: Path) -> None:
    write(repo, "output:\n  max_comments: many\n")
    code, _, err = run("check")
    assert code == 2
    assert err == ".github/reviewer.yml:2: output.max_comments: expected an integer, got 'many'\n"


def test_check_invalid_yaml(repo: Path) -> None:
    write(repo, "review:\n  events: [opened\n")
    code, _, err = run("check")
    assert code == 2
    assert err.startswith(".github/reviewer.yml:3:1: invalid YAML:")


def test_check_missing_file(repo: Path) -> None:
    assert run("check", "nope.yml") == (2, "", "nope.yml: no such file\n")


def test_check_not_utf8(repo: Path) -> None:
    (repo / "latin.yml").write_bytes(b"instructions: caf\xe9\n")
    assert run("check", "latin.yml") == (2, "", "latin.yml: not UTF-8 text\n")


def test_show_without_a_file_prints_defaults(repo: Path) -> None:
    code, out, _ = run("show")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Repository file: none (defaults and operator settings only)"
    assert any(line.split() == ["output.max_comments", "default", "30"] for line in lines)


def test_show_text_with_sources_and_notice(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(repo, GOOD)
    monkeypatch.setenv("REVIEWER_MONTHLY_BUDGET_USD", "20")
    monkeypatch.setenv("REVIEWER_MODEL", "operator-model")
    code, out, _ = run("show", "--set", "output.suggestions=false")
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows["output.max_comments"] == ["repository", "5"]
    assert rows["model.default"] == ["operator", "operator-model"]
    assert rows["budget.monthly_usd"] == ["operator", "$20"]
    assert rows["output.suggestions"] == ["command", "line", "false"]
    assert (
        "note: budget.monthly_usd: the repository asks for $50, above the operator's maximum "
        "of $20; using $20"
    ) in out


def test_show_org_defaults_as_operator(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    org = write(repo, "output:\n  max_comments: 9\n  suggestions: false\n", name="org.yml")
    write(repo, GOOD)
    monkeypatch.setenv("REVIEWER_REPO_DEFAULTS_PATH", str(org))
    code, out, _ = run("show")
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows["output.suggestions"] == ["operator", "false"]
    assert rows["output.max_comments"] == ["repository", "5"]


def test_show_reports_a_bad_org_defaults_file(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    org = write(repo, "outptu: {}\n", name="org.yml")
    monkeypatch.setenv("REVIEWER_REPO_DEFAULTS_PATH", str(org))
    code, _, err = run("show")
    assert code == 2
    assert err.startswith(f"{org}:1: unknown key 'outptu' (did you mean 'output'?)")


def test_show_json(repo: Path) -> None:
    write(repo, GOOD, name="custom.yml")
    code, out, _ = run("show", "--config", "custom.yml", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["file"] == "custom.yml"
    assert data["values"]["output"]["max_comments"] == 5
    assert data["values"]["budget"]["monthly_usd"] == "50"
    assert data["sources"]["output.max_comments"] == "repository"
    assert data["sources"]["review.auto"] == "default"
    assert data["notices"] == []


def test_show_command_line_beats_the_file(repo: Path) -> None:
    write(repo, GOOD)
    code, out, _ = run("show", "--format", "json", "--set", "output.max_comments=2")
    assert code == 0
    data = json.loads(out)
    assert data["values"]["output"]["max_comments"] == 2
    assert data["sources"]["output.max_comments"] == "command line"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--config", "missing.yml"), "missing.yml: no such file\n"),
        (("--set", "output.max_comments"), "command line: --set 'output.max_comments': expected"),
        (("--set", "output.max_comments=x"), "command line: output.max_comments: expected an int"),
        (
            ("--set", "outptu.max_comments=1"),
            "command line: unknown key 'outptu.max_comments' (did you mean 'output.max_comments'?)",
        ),
    ],
)
def test_show_errors_exit_2(repo: Path, args: tuple[str, ...], message: str) -> None:
    code, out, err = run("show", *args)
    assert code == 2
    assert out == ""
    assert err.startswith(message)


def test_show_reports_a_bad_repository_file(repo: Path) -> None:
    write(repo, "budget:\n  monthly_usd: lots\n")
    code, _, err = run("show")
    assert code == 2
    assert err.startswith(".github/reviewer.yml:2: budget.monthly_usd: expected an amount")


def test_show_reports_bad_operator_settings(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_MAX_COMMENTS", "many")
    code, _, err = run("show")
    assert code == 2
    assert "REVIEWER_MAX_COMMENTS" in err


def test_registered_as_reviewer_config(repo: Path) -> None:
    write(repo, GOOD)
    result = CliRunner().invoke(main, ["config", "check"])
    assert (result.exit_code, result.stdout) == (0, ".github/reviewer.yml: OK\n")
