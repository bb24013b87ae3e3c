"""`reviewer eval` on the shipped dataset: the dry-run cost per model, and a run on the fake.

python -m bench.bench_eval [--models m1 m2 ...] [--parallel 1 4] [--delay 0.001]

First the dry-run estimate of every model (the planner's worst case: full-price input, 1,000
output tokens per call). Then the whole dataset evaluated against bench/fake_claude_server.py
(which answers no findings, so recall is 0: this measures the engine and the input bill, not
a model) in real time at each `--parallel`, then with `--batch` (every case at once, polled
every 10 ms): wall time, calls (requests, in batches too), input tokens uncached / cache
writes / cache reads as the fake counts them, and the ledger's cost with the first model's
prices.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.bench_latency import bench_settings
from bench.fake_claude_server import serve_in_subprocess
from reviewer.core.text import format_usd
from reviewer.review.evaluate import (
    BUILTIN_DATASET,
    Dataset,
    EvalMode,
    estimate,
    evaluate,
    load_dataset,
)
from reviewer.services import open_services

MODELS = [
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-opus-4-7",
    "claude-haiku-5-5",
    "claude-sonnet-5-5",
    "claude-opus-5-5",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--delay", type=float, default=0.001, help="the fake model's delay, s")
    args = parser.parse_args(argv)

    dataset = load_dataset(BUILTIN_DATASET)
    clean = sum(c.clean for c in dataset.cases)
    labels = sum(len(c.labels) for c in dataset.cases)
    print(
        f"dataset {dataset.name}: {len(dataset.cases)} cases, "
        f"{len(dataset.cases) - clean} buggy ({labels} labels), {clean} clean"
    )
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        settings = bench_settings("http://127.0.0.1:9", Path(tmp) / "dry")
        with open_services(settings) as services:
            estimates = estimate(dataset, args.models, services)
        print(f"{'model':<18} {'calls':>5} {'input tokens':>12} {'per change':>10} {'run':>9}")
        for e in estimates:
            print(
                f"{e.model:<18} {e.calls:>5} {e.input_tokens:>12,} "
                f"{format_usd(e.cost_per_change):>10} {format_usd(e.cost_usd):>9}"
            )

        model = args.models[0]
        print(f"\nagainst the fake (delay {args.delay * 1000:g} ms), priced as {model}:")
        print(
            f"{'mode':>8} {'parallel':>8} {'wall s':>7} {'calls':>5} {'uncached':>9} "
            f"{'cache write':>11} "
            f"{'cache read':>10} {'cost':>9}"
        )
        with serve_in_subprocess(args.delay) as remote:
            # Import the SDK and create a ledger once before timing anything.
            warm = Dataset(dataset.name, dataset.path, dataset.cases[:1])
            with open_services(bench_settings(remote.url, Path(tmp) / "warm")) as services:
                evaluate(warm, [model], services)
            runs: list[tuple[EvalMode, int]] = [("realtime", p) for p in args.parallel]
            runs.append(("batch", len(dataset.cases)))
            for mode, parallel in runs:
                remote.reset()
                settings = bench_settings(
                    remote.url, Path(tmp) / f"{mode}{parallel}", batch_poll_s=0.01
                )
                started = time.perf_counter()
                with open_services(settings) as services:
                    [report] = evaluate(dataset, [model], services, mode=mode, parallel=parallel)
                wall = time.perf_counter() - started
                stats = remote.stats()
                t = stats["totals"]
                print(
                    f"{mode:>8} {parallel:>8} {wall:>7.2f} {stats['calls']:>5} "
                    f"{t['input_tokens']:>9,} "
                    f"{t['cache_creation_input_tokens']:>11,} "
                    f"{t['cache_read_input_tokens']:>10,} "
                    f"{format_usd(report.summary.cost_usd):>9}"
                )


if __name__ == "__main__":
    main()
