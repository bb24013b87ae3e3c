"""Run every benchmark one after another and print one report: `python -m bench` (make bench).

python -m bench [--quick] [--only latency cost ...]

Each benchmark runs in a fresh process (`python -m bench.<module>`), so one's imports and
memory do not colour the next. `--quick` passes smaller sizes, for a check in a minute or two;
the figures in docs/benchmarks.md come from the full run. The report ends with one table:
every figure of issue 17 beside its goal (bench/figures.py), from this run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import figures

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
        "a 40-chunk review against a fake model answering in 2 s, adaptive and fixed 4",
        [],
        ["--chunks", "12", "--delay", "0.5", "--fixed"],
    ),
    "cost": (
        "input tokens sent (uncached, cache writes, cache reads) against the diff's own tokens",
        [],
        [],
    ),
    "startup": (
        "`reviewer review --diff` of a small diff: dry run, and against an instant model",
        [],
        ["--runs", "3"],
    ),
    "requests": (
        "the GitHub requests of one review, by endpoint",
        [],
        [],
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
    "sarif": (
        "SARIF for code scanning: build time and size, results kept under GitHub's limits",
        [],
        ["--results", "500", "5000", "--repeat", "1"],
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
    figures_file = Path(tempfile.mkstemp(prefix="bench-figures-", suffix=".jsonl")[1])
    os.environ[figures.ENV] = str(figures_file)  # this process records the webhook's figures
    env = dict(os.environ)
    for name in names:
        what, full, quick = BENCHMARKS[name]
        module = f"bench.bench_{name}"
        if not (ROOT / "bench" / f"bench_{name}.py").exists():
            print(f"\n== {name}: not present, skipped", flush=True)
            continue
        extra = quick if args.quick else full
        print(f"\n== {name}: {what}\n$ python -m {module} {' '.join(extra)}".rstrip(), flush=True)
        began = time.monotonic()
        code = run(name, [sys.executable, "-m", module, *extra], env)
        took = time.monotonic() - began
        if code != 0:
            failed.append(name)
            print(f"-- {name} FAILED (exit {code}) after {took:.0f} s", flush=True)
        else:
            print(f"-- {name}: {took:.0f} s", flush=True)
    lines = figures_file.read_text(encoding="utf-8").splitlines()
    figures_file.unlink()
    print(f"\n== figures and goals (issue 17){' (quick sizes)' if args.quick else ''}")
    print(figures.table(lines))
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)


def run(name: str, command: list[str], env: dict[str, str]) -> int:
    """Run one benchmark, its output passed through; the webhook's figures read from it."""
    if name != "webhook":
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        print(line, end="", flush=True)
        output.append(line)
    code = process.wait()
    record_webhook("".join(output))
    return code


def record_webhook(output: str) -> None:
    """The intake figures, from bench_webhook's own report (it does not record them)."""
    rate = re.search(r"accepted \(202\): [\d,]+ = ([\d,.]+)/s", output)
    p99 = re.search(r"p99 ([\d.]+)", output)
    exact = re.search(r"exactly one job: (\w+)", output)
    if rate:
        value = float(rate.group(1).replace(",", ""))
        figures.record("intake_rate", value, f"{value:,.0f}/s")
    if p99:
        figures.record("intake_p99", float(p99.group(1)), f"{float(p99.group(1)):.0f} ms")
    if exact:
        yes = exact.group(1).upper() == "YES"
        figures.record("intake_exact", float(yes), "yes" if yes else "no")


if __name__ == "__main__":
    main()
