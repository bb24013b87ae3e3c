"""Batch mode against real time: the same 40-chunk PR's cost, requests and the bot's CPU.

python -m bench.bench_batch [--chunks 40] [--concurrency 4]

Reviews the PR of bench/bench_latency.py twice against bench/fake_claude_server.py, each
with a cold cache: in real time, then as one Message Batch (`mode: batch`, waiting for it).
The fake bills the same tokens in both (see its docstring: a batch's requests run in waves
that all pay the cache write, at the 1-hour rate, 2x input; real time warms the cache with
its first call alone, at the 5-minute rate, 1.25x). Costs come from the reviewer's own
ledger, priced with the shipped price table (batch = half). Prints each mode's cost,
requests sent, the bot's CPU seconds (this process: planning, HTTP, parsing, the ledger),
and the ratio batch / real time (goal: at most 0.52, cache writes included).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from bench.bench_latency import LINES_PER_CHUNK, REPO, bench_settings, pr_diff
from bench.fake_claude_server import serve_in_subprocess
from reviewer.model import ReviewRequest, ReviewResult
from reviewer.review.pipeline import run_review
from reviewer.services import open_services
from reviewer.settings import Settings


def review(text: str, settings: Settings, mode: str) -> tuple[float, ReviewResult]:
    """The bot's CPU seconds for one review of `text` in `mode`, and its result."""
    request = dataclasses.replace(ReviewRequest(REPO, diff_text=text), mode=mode)  # type: ignore[arg-type]
    cpu = time.process_time()
    with open_services(settings, sleep=lambda _s: None) as services:
        result = run_review(request, services)
    if any(c.status != "ok" for c in result.chunks):
        raise SystemExit(f"a chunk failed: {[c.error for c in result.chunks if c.error]}")
    return time.process_time() - cpu, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    text = pr_diff(args.chunks)
    print(f"PR: {args.chunks} files, {args.chunks * LINES_PER_CHUNK:,} changed lines")
    print(f"{'mode':>9} {'chunks':>6} {'requests':>8} {'cost USD':>9} {'bot CPU s':>9}")
    costs = {}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp, serve_in_subprocess(0) as fake:
        for mode in ("realtime", "batch"):
            fake.reset()
            settings = bench_settings(fake.url, Path(tmp) / mode, concurrency=args.concurrency,
                                      batch_poll_s=0.01)  # fmt: skip
            cpu, result = review(text, settings, mode)
            stats = fake.stats()
            requests = stats["batch_requests"] if mode == "batch" else stats["calls"]
            costs[mode] = result.cost_usd
            print(
                f"{mode:>9} {len(result.chunks):>6} {requests:>8} "
                f"{result.cost_usd:>9.4f} {cpu:>9.2f}"
            )
    ratio = costs["batch"] / costs["realtime"]
    verdict = "meets" if ratio <= 0.52 else "misses"
    print(f"cost ratio batch / real time: {ratio:.3f} ({verdict} the goal of <= 0.52)")


if __name__ == "__main__":
    main()
