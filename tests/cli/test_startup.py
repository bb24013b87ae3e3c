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
