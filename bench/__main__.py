"""Run every benchmark one after another and print one report: `python -m bench` (make bench).

python -m bench [--quick] [--only latency cost ...]

Each benchmark runs in a fresh process (`python -m bench.<module>`), so one's imports and
memory do not colour the next. `--quick` passes smaller sizes, for a check in a minute or two;
the figures in docs/benchmarks.md come from the full run.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name → (what it measures, full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "plan": (
        "plan a 2,000-file, 200,000-line diff: parse, filter, chunk",
        [],
        ["--files", "200", "--lines", "20000", "--repeat", "1"],
    ),
    "context": (
        "tokens per changed line that each review.context setting adds, on a 300-file PR",
        [],
        ["--files", "60"],
    ),
    "scale": (
        "dry-run planning time, peak memory and estimated cost from 1,000 to 1,000,000 lines",
        [],
        ["--lines", "1000", "10000", "100000"],
    ),
    "latency": (
        "a 40-chunk review against a fake model with a fixed delay, at concurrency 1, 4, 8",
        [],
        ["--chunks", "12", "--delay", "0.1", "--repeat", "1"],
    ),
    "cost": (
        "input tokens sent (uncached, cache writes, cache reads) against the diff's own tokens",
        [],
        ["--chunks", "12"],
    ),
    "batch": (
        "the same 40-chunk review in real time and as a Message Batch: cost, requests, bot CPU",
        [],
        ["--chunks", "12"],
    ),
    "ledger": (
        "spend ledger: concurrent writers, a --by repo report over many rows",
        [],
        ["--rows", "50000", "--no-postgres"],
    ),
    "eval": (
        "reviewer eval on the shipped dataset: dry-run cost per model, a run on the fake",
        [],
        ["--models", "claude-sonnet-4-6", "claude-haiku-4-5", "--parallel", "4"],
    ),
    "webhook": (
        "signed webhook deliveries per second through gunicorn, each becoming one job",
        [],
        ["--seconds", "5"],
    ),
}


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=None)
    args = parser.parse_args()

    names = args.only or list(BENCHMARKS)
    print(
        f"reviewer benchmarks ({'quick' if args.quick else 'full'}) at {git_commit()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}",
        flush=True,
    )
    failed: list[str] = []
    for name in names:
        what, full, quick = BENCHMARKS[name]
        module = f"bench.bench_{name}"
        if not (ROOT / "bench" / f"bench_{name}.py").exists():
            print(f"\n== {name}: not present, skipped", flush=True)
            continue
        extra = quick if args.quick else full
        print(f"\n== {name}: {what}\n$ python -m {module} {' '.join(extra)}".rstrip(), flush=True)
        began = time.monotonic()
        code = subprocess.run([sys.executable, "-m", module, *extra], cwd=ROOT).returncode
        took = time.monotonic() - began
        if code != 0:
            failed.append(name)
            print(f"-- {name} FAILED (exit {code}) after {took:.0f} s", flush=True)
        else:
            print(f"-- {name}: {took:.0f} s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
