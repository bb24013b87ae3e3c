"""Review latency: a 40-chunk PR against a fake Messages API that answers after a fixed delay.

python -m bench.bench_latency [--chunks 40] [--delay 2.0] [--fixed 4 8] [--repeat 1]

The whole engine runs (`run_review` on a local diff: parse, plan, render, the real SDK over
loopback HTTP, parse findings, anchor, price, write the ledger); only the model is fake, in a
separate process (bench/fake_claude_server.py) so that its CPU is not counted as the bot's.
The fake states a tier-4 account's rate-limit headroom in every answer's headers.

The first row runs at default settings: concurrency adapts to those headers (REVIEWER_
CONCURRENCY 4 at first, up to REVIEWER_MAX_CONCURRENCY 16). `--fixed N` adds rows where the
concurrency is held at N (start = cap = N), as before adaptation. Each row reports the most
calls in flight, waves = ceil((chunks - 1) / most in flight) after the first call, the
goal's bound 1.2 x waves x delay + one call, the wall time and wall / bound (at most 1 meets
the goal), and the bot's CPU time per review (time.process_time of this process).
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

from bench import figures
from bench.bench_plan import synthetic_diff
from bench.fake_claude_server import Remote, serve_in_subprocess
from reviewer.model import ReviewRequest, ReviewResult
from reviewer.review.pipeline import run_review
from reviewer.services import open_services
from reviewer.settings import Settings

# 600 changed lines per file: each file is a chunk of its own (about 19,500 estimated tokens,
# under the default 24,000-token cap), so the PR needs exactly one chunk per file.
LINES_PER_CHUNK = 600
REPO = "bench/latency"


def pr_diff(chunks: int) -> str:
    """A synthetic PR of `chunks` modified files that needs `chunks` chunks at default settings."""
    return synthetic_diff(chunks, chunks * LINES_PER_CHUNK)


def bench_settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "anthropic_api_key": "sk-ant-bench-fake",
        "anthropic_base_url": url,
        "data_dir": data_dir,
        "max_retries": 0,  # a retry would hide a fault and skew the figures
        "request_timeout_s": 120.0,
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


def review_once(text: str, settings: Settings) -> tuple[float, float, ReviewResult]:
    """Wall and CPU seconds of one review of `text`."""
    wall, cpu = time.perf_counter(), time.process_time()
    with open_services(settings) as services:
        result = run_review(ReviewRequest(REPO, diff_text=text), services)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def measure(
    remote: Remote, text: str, repeat: int, data_dir: Path, **overrides: object
) -> tuple[list[float], list[float], int, int]:
    """Reviews with a cold cache each time; returns walls, CPUs, calls, most in flight."""
    settings = bench_settings(remote.url, data_dir, **overrides)
    walls, cpus = [], []
    calls = peak = 0
    for _ in range(repeat):
        remote.reset()
        wall, cpu, result = review_once(text, settings)
        if any(c.status != "ok" for c in result.chunks):
            raise SystemExit(f"a chunk failed: {[c.error for c in result.chunks if c.error]}")
        stats = remote.stats()
        walls.append(wall)
        cpus.append(cpu)
        calls, peak = stats["calls"], stats["max_in_flight"]
    return walls, cpus, calls, peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--fixed", type=int, nargs="*", default=[4])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)

    text = pr_diff(args.chunks)
    print(
        f"PR: {args.chunks} files, {args.chunks * LINES_PER_CHUNK:,} changed lines, "
        f"{len(text) / 1e6:.1f} MB of diff; fake model delay {args.delay * 1000:.0f} ms per call"
    )
    rows: list[tuple[str, dict[str, object]]] = [("adaptive 4..16", {})]
    rows += [(f"fixed {n}", {"concurrency": n, "max_concurrency": n}) for n in args.fixed]
    with (
        tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp,
        serve_in_subprocess(args.delay) as remote,
    ):
        # One untimed review first: imports, the SDK client, the ledger's migrations.
        review_once(text, bench_settings(remote.url, Path(tmp) / "warm"))
        print(
            f"{'concurrency':>14} {'calls':>5} {'in flight':>9} {'waves':>5} {'bound s':>7} "
            f"{'wall s':>7} {'wall/bound':>10} {'CPU s/review':>12}"
        )
        for index, (label, overrides) in enumerate(rows):
            walls, cpus, calls, peak = measure(
                remote, text, args.repeat, Path(tmp) / f"r{index}", **overrides
            )
            waves = math.ceil((args.chunks - 1) / peak)
            bound = 1.2 * waves * args.delay + args.delay
            wall, cpu = statistics.median(walls), statistics.median(cpus)
            if index == 0 and args.chunks == 40 and args.delay == 2.0:
                figures.record("latency", wall / bound, f"{wall / bound:.2f}")
            print(
                f"{label:>14} {calls:>5} {peak:>9} {waves:>5} {bound:>7.2f} {wall:>7.2f} "
                f"{wall / bound:>10.2f} {cpu:>12.2f}"
            )
    print(
        f"(medians of {args.repeat} reviews each, cold prompt cache; bound = 1.2 x waves x "
        "delay + one call; CPU = this process)"
    )


if __name__ == "__main__":
    main()
