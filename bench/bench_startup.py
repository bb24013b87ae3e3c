"""Start-up: `reviewer review --diff` of a small diff, as a user runs it, against an instant model.

python -m bench.bench_startup [--runs 7] [--command PATH]

Runs the installed `reviewer` command in a fresh process each time (as hyperfine would; the
median of `--runs`, after one untimed warm-up run that fills the OS file cache), on
examples/sample.diff: once with `--dry-run` (parse, plan, estimate: no model, no ledger) and
once for real against bench/fake_claude_server.py answering at once (the SDK, one call, the
ledger on SQLite; the warm-up run creates it, as a first run would). Also reports whether
the dry run imported the anthropic SDK (it must not), and the floor no code of ours can go
under: `python -c "import anthropic"` alone, timed the same way in between, and what the
review takes beyond it (the SDK's import moves most with the host's load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import figures
from bench.fake_claude_server import serve_in_subprocess

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample.diff"
GOAL_S = 1.5
# Run the CLI's entry point, then say on stderr whether the SDK was imported.
_PROBE = (
    "import sys\n"
    "from reviewer.cli.main import main\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    print('anthropic imported:', 'anthropic' in sys.modules, file=sys.stderr)\n"
)


def reviewer_command() -> list[str]:
    script = Path(sys.executable).with_name("reviewer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reviewer.cli.main"]


def timed_runs(
    argv: list[str], env: dict[str, str], runs: int, fresh_dir: bool, *, warm_up: bool = True
) -> list[float]:
    walls = []
    for i in range(runs + 1 if warm_up else runs):
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
            run_env = env | ({"REVIEWER_DATA_DIR": tmp} if fresh_dir else {})
            began = time.perf_counter()
            done = subprocess.run(argv, env=run_env, capture_output=True, text=True, cwd=ROOT)
            wall = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
        if i or not warm_up:  # the first run only warms the file cache
            walls.append(wall)
    return walls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--command", help="the reviewer command to time (default: installed)")
    args = parser.parse_args(argv)

    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("REVIEWER_", "ANTHROPIC_"))
    }
    command = [args.command] if args.command else reviewer_command()
    review = ["review", "--diff", str(SAMPLE)]
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        dry_env = base_env | {"REVIEWER_DATA_DIR": tmp}
        dry = timed_runs([*command, *review, "--dry-run"], dry_env, args.runs, fresh_dir=False)
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE, *review, "--dry-run"],
            env=dry_env | {"PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    imported = "anthropic imported: True" in probe.stderr
    with (
        serve_in_subprocess(0.0) as remote,
        tempfile.TemporaryDirectory(prefix="bench-startup-") as data_dir,
    ):
        env = base_env | {
            "ANTHROPIC_API_KEY": "sk-ant-bench-fake",
            "ANTHROPIC_BASE_URL": remote.url,
            "REVIEWER_MAX_RETRIES": "0",
            "REVIEWER_DATA_DIR": data_dir,
        }
        sdk_only = [sys.executable, "-c", "import anthropic"]
        real = timed_runs([*command, *review], env, 0, fresh_dir=False)  # warm-ups
        sdk = timed_runs(sdk_only, base_env, 0, fresh_dir=False)
        for _ in range(args.runs):  # in turns, so that the host's load falls on both alike
            real += timed_runs([*command, *review], env, 1, False, warm_up=False)
            sdk += timed_runs(sdk_only, base_env, 1, False, warm_up=False)
    print(f"command: {' '.join(command)} review --diff examples/sample.diff [--dry-run]")
    print(
        f"dry run:                    {statistics.median(dry):5.2f} s wall "
        f"(median of {args.runs}; min {min(dry):.2f}); imports anthropic: {imported}"
    )
    median = statistics.median(real)
    print(
        f"review, instant model:      {median:5.2f} s wall "
        f"(median of {args.runs}; min {min(real):.2f})"
    )
    print(f"review wall / {GOAL_S} s goal:  {median / GOAL_S:5.2f}")
    floor = statistics.median(sdk)
    print(
        f"import anthropic alone:     {floor:5.2f} s wall (median of {args.runs}); "
        f"the review beyond it: {median - floor:.2f} s"
    )
    figures.record("startup", median, f"{median:.2f} s")
    figures.record("startup_sdk", float(imported), "yes" if imported else "no")


if __name__ == "__main__":
    main()
