"""The checkout's diff ignores what the pull request's `.gitattributes` and git config say."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewer.action.run import local_diff
from reviewer.cli.main import main
from reviewer.core.diff import parse_diff

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_a_pull_request_cannot_hide_its_code_behind_gitattributes(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("def f():\n    return 1\n")
    (repo / "web.js").write_text("let a = 1;\n")
    (repo / "logo.png").write_bytes(PNG)
    (repo / "old name.py").write_text("x = 1\n" * 20)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    # The PR marks Python as binary and sends JavaScript through a driver that hides it.
    (repo / ".gitattributes").write_text("*.py -diff\n*.js diff=hide\n*.png binary\n")
    (repo / "app.py").write_text("def f():\n    return eval(input())\n")
    (repo / "web.js").write_text("let a = document.cookie;\n")
    (repo / "logo.png").write_bytes(PNG + b"\x00more")
    git(repo, "mv", "old name.py", "new name.py")
    with (repo / "new name.py").open("a") as f:
        f.write("import os\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "head")
    head = git(repo, "rev-parse", "HEAD")
    # The checkout's config (which an Action's earlier step could write) defines the driver.
    git(repo, "config", "diff.hide.textconv", "sh -c 'echo hidden'")
    git(repo, "config", "diff.hide.command", "sh -c 'echo hidden'")
    git(repo, "config", "diff.external", "sh -c 'echo hidden'")
    git(repo, "config", "diff.noprefix", "true")

    text = local_diff(repo, base, head)

    assert text is not None
    assert "hidden" not in text
    assert "+    return eval(input())" in text
    assert "+let a = document.cookie;" in text
    assert "Binary files a/logo.png and b/logo.png differ" in text
    diff = parse_diff(text)
    by_path = {f.path: f for f in diff.files}
    assert set(by_path) == {".gitattributes", "app.py", "web.js", "logo.png", "new name.py"}
    assert by_path["app.py"].hunks and by_path["web.js"].hunks
    assert not by_path["logo.png"].hunks and by_path["logo.png"].note is not None
    assert by_path["new name.py"].old_path == "old name.py"


def test_the_cli_reviews_a_range_of_the_checkout_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("x = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    (repo / ".gitattributes").write_text("*.py -diff\n")
    (repo / "app.py").write_text("x = eval(input())\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "head")
    monkeypatch.chdir(repo)
    args = ["review", "--git", "HEAD^", "--dry-run", "--format", "json", "--repo", "o/r"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    assert files["app.py"]["reviewed"] and files["app.py"]["added"] == 1
    bad = CliRunner().invoke(main, ["review", "--git", "--output=/tmp/x", "--dry-run"])
    assert bad.exit_code == 2 and "expected BASE or BASE...HEAD" in bad.stderr
