"""Scale: dry-run planning time, peak memory and estimated cost for diffs of growing size.

python -m bench.bench_scale [--lines 1000 10000 100000 1000000] [--lines-per-file 100]

Each size runs in a fresh Python process: it builds bench_plan's synthetic diff (modified
Python files, 100 changed lines each by default), then times `run_review` of that text as a
local diff with `dry_run=True` (parse, filter, choose the model, chunk, estimate; no model
call, no ledger), at default settings. Memory is the process's peak resident set
(getrusage ru_maxrss), with the resident set before planning (the diff text and the
interpreter) shown beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from bench import figures
from bench.bench_plan import synthetic_diff


def rss_mib() -> float:
    """The resident set of this process now, from /proc/self/statm."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def one(lines: int, per_file: int) -> dict[str, Any]:
    """Measure one size in this process (call it in a fresh one)."""
    from reviewer.model import ReviewRequest
    from reviewer.review.pipeline import run_review
    from reviewer.services import open_services
    from reviewer.settings import Settings

    files = max(1, lines // per_file)
    began = time.perf_counter()
    text = synthetic_diff(files, lines)
    generated = time.perf_counter() - began
    settings = Settings.from_env({})
    before = rss_mib()
    began = time.perf_counter()
    with open_services(settings) as services:
        result = run_review(ReviewRequest("bench/scale", diff_text=text, dry_run=True), services)
    planned = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "lines": sum(f.added + f.removed for f in result.files),
        "files": len(result.files),
        "mb": len(text) / 1e6,
        "generate_s": generated,
        "plan_s": planned,
        "chunks": len(result.chunks),
        "input_tokens": result.estimated_input_tokens,
        "cost_usd": float(result.estimated_cost_usd),
        "model": result.model,
        "rss_before_mib": before,
        "peak_rss_mib": peak,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--lines-per-file", type=int, default=100)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args.one, args.lines_per_file)))
        return

    print(
        f"{'changed lines':>13} {'files':>6} {'diff MB':>7} {'plan s':>7} {'us/line':>7} "
        f"{'chunks':>6} {'est. input tok':>14} {'est. USD':>9} {'RSS before':>10} "
        f"{'peak RSS':>9}"
    )
    first: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    for lines in args.lines:
        command = [sys.executable, "-m", "bench.bench_scale", "--one", str(lines),
                   "--lines-per-file", str(args.lines_per_file)]  # fmt: skip
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        first, last = first or r, r
        if lines == 1_000_000:
            peak = r["peak_rss_mib"]
            figures.record("scale_peak", peak, f"{peak:,.0f} MiB")
        print(
            f"{r['lines']:>13,} {r['files']:>6,} {r['mb']:>7.1f} {r['plan_s']:>7.2f} "
            f"{r['plan_s'] / r['lines'] * 1e6:>7.1f} {r['chunks']:>6,} {r['input_tokens']:>14,} "
            f"{r['cost_usd']:>9.2f} {r['rss_before_mib']:>8.0f}Mi {r['peak_rss_mib']:>7.0f}Mi"
        )
    if first is not None and last is not None:
        print(
            f"(model {first['model']}, default settings; plan = run_review dry run: parse, "
            "filter, chunk, estimate; one fresh process per size)"
        )
        lines_x = last["lines"] / first["lines"]
        time_x = last["plan_s"] / first["plan_s"]
        print(
            f"growth: {lines_x:,.0f}x the lines took {time_x:,.0f}x the plan time, "
            f"{time_x / lines_x:.2f}x the time per line (1.00 is linear)"
        )


if __name__ == "__main__":
    main()
