"""Cost efficiency: the input tokens a PR's review sends, against its diff's own tokens.

python -m bench.bench_cost [--chunks N] [--fixed 1 4] [--delay 0.2]

Reviews issue 17's PR (bench/synthetic_pr.py: 200 files, 580 hunks, 21,449 changed lines;
`--chunks N` takes bench_latency's N-chunk PR instead) against bench/fake_claude_server.py,
which counts tokens with its BPE-style proxy and simulates prompt caching (the first call
with a given cached prefix writes it, later ones read it; calls in flight together all
write, so how many calls overlap matters: the fake answers after `--delay`). Every review
starts with a cold cache. Reports, as the fake counts them: input tokens
uncached, cache writes and cache reads; the tokens of the diff text itself (same proxy); the
cache hit rate across chunks; and "billed-equivalent input / diff tokens", with the default
model's price weights (cache write and read as multiples of the input price).
"""

from __future__ import annotations

import argparse
import tempfile
from decimal import Decimal
from pathlib import Path

from bench import figures
from bench.bench_latency import LINES_PER_CHUNK, bench_settings, pr_diff, review_once
from bench.fake_claude_server import count_tokens, count_tokens_by_bytes, serve_in_subprocess
from bench.synthetic_pr import issue_pr
from reviewer.settings import DEFAULT_MODEL
from reviewer.spend.pricing import PriceTable


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=None, help="bench_latency's PR instead")
    parser.add_argument(
        "--fixed", type=int, nargs="*", default=[], help="also at these fixed concurrencies"
    )
    parser.add_argument("--delay", type=float, default=0.2, help="the fake model's delay, s")
    args = parser.parse_args(argv)

    text = issue_pr() if args.chunks is None else pr_diff(args.chunks)
    diff_tokens = count_tokens(text)
    price = PriceTable.load().price(DEFAULT_MODEL)
    write_w = price.cache_write_5m / price.input
    read_w = price.cache_read / price.input
    shape = (
        "issue 17's PR: 200 files, 580 hunks, 21,449 changed lines"
        if args.chunks is None
        else f"{args.chunks} files, {args.chunks * LINES_PER_CHUNK:,} changed lines"
    )
    print(
        f"PR: {shape}; diff text {len(text):,} bytes = {diff_tokens:,} tokens "
        f"(BPE-style proxy; {count_tokens_by_bytes(text):,} by bytes / 3.5)"
    )
    print(
        f"price weights of {DEFAULT_MODEL}: input 1, cache write (5 min) {write_w:.2f}, "
        f"cache read {read_w:.2f}"
    )
    header = (
        f"{'concurrency':>14} {'calls':>5} {'uncached':>9} {'cache write':>11} "
        f"{'cache read':>10} {'output':>7} {'hit rate':>8} {'token hit':>9} "
        f"{'billed-eq/diff':>14} {'cost USD':>9} {'diff alone USD':>14}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp,
        serve_in_subprocess(args.delay) as remote,
    ):
        print(header)
        rows: list[tuple[str, dict[str, object]]] = [("adaptive 4..16", {})]
        rows += [(f"fixed {n}", {"concurrency": n, "max_concurrency": n}) for n in args.fixed]
        for index, (label, overrides) in enumerate(rows):
            remote.reset()
            # No read-only context beyond the diff: the goal counts the diff's own lines.
            settings = bench_settings(
                remote.url, Path(tmp) / f"r{index}", context="none", **overrides
            )
            _, _, result = review_once(text, settings)
            stats = remote.stats()
            t = stats["totals"]
            uncached, written = t["input_tokens"], t["cache_creation_input_tokens"]
            read, calls = t["cache_read_input_tokens"], stats["calls"]
            hits = sum(1 for u in stats["usages"] if u["cache_read_input_tokens"] > 0)
            billed = uncached + write_w * written + read_w * read
            diff_alone = price.input * diff_tokens / Decimal(1_000_000)
            if index == 0 and args.chunks is None:
                ratio = float(billed) / diff_tokens
                figures.record("tokens", ratio, f"{ratio:.3f}")
            print(
                f"{label:>14} {calls:>5} {uncached:>9,} {written:>11,} {read:>10,} "
                f"{t['output_tokens']:>7,} {hits / calls:>8.1%} "
                f"{read / max(read + written, 1):>9.1%} {billed / diff_tokens:>14.3f} "
                f"{result.cost_usd:>9.4f} {diff_alone:>14.4f}"
            )
    print(
        "hit rate: calls that read the cached prefix; token hit: cache reads / (reads + writes);\n"
        "billed-eq/diff: (uncached + write weight x writes + read weight x reads) / diff tokens;\n"
        "cost USD: the ledger's price of the review (output included); diff alone USD: the\n"
        "diff's tokens at the plain input price, the floor a review of it can cost."
    )


if __name__ == "__main__":
    main()
