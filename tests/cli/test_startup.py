"""Start-up: a dry run of a local diff imports neither the SDKs nor the database layer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT, SAMPLE_DIFF

# The CLI's entry point, then which heavy packages ended up imported, on stderr.
PROBE = """
import sys
from pathlib import Path
from reviewer.cli.main import main
try:
    main()
finally:
    heavy = ("anthropic", "github", "sqlalchemy")
    print("imported:", ",".join(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def test_a_dry_run_never_imports_the_anthropic_sdk(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "ANTHROPIC_"))}
    env["REVIEWER_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "review", "--diff", str(SAMPLE_DIFF), "--dry-run"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "files to review" in done.stderr
    imported = done.stderr.rsplit("imported:", 1)[1].strip()
    assert imported == "", f"a dry run imported {imported}"


def _entry(*args: str, data_dir: Path, quick: bool = True) -> subprocess.CompletedProcess[str]:
    """The console script's code path (`reviewer.cli.entry:run`), or the plain click CLI, in
    a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "ANTHROPIC_"))}
    env["REVIEWER_DATA_DIR"] = str(data_dir)
    call = (
        "from reviewer.cli.entry import run; run()"
        if quick
        else "from reviewer.cli.main import main; main()"
    )
    code = f"import sys; sys.argv[0] = 'reviewer'; {call}"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_quick_exit_keeps_every_line_of_output_and_the_exit_code(tmp_path: Path) -> None:
    args = ("review", "--diff", str(SAMPLE_DIFF), "--dry-run")
    done = _entry(*args, data_dir=tmp_path)
    plain = _entry(*args, data_dir=tmp_path, quick=False)
    assert done.returncode == plain.returncode == 0, done.stderr
    assert done.stdout.startswith("Dry run:")
    assert (done.stdout, done.stderr) == (plain.stdout, plain.stderr)
    missing = _entry("review", "--diff", str(tmp_path / "none.diff"), data_dir=tmp_path)
    assert missing.returncode == 2
    assert "reviewer: error: cannot read the diff" in missing.stderr


def test_exit_codes_follow_sys_exit() -> None:
    from reviewer.cli.entry import exit_code

    assert (exit_code(None), exit_code(0), exit_code(3), exit_code("boom")) == (0, 0, 3, 1)
