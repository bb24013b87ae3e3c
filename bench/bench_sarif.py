"""Build SARIF logs for code scanning: time, size, gzipped size, results kept under the limits.

python -m bench.bench_sarif [--results 500 5000 20000] [--body 600] [--repeat 3]

The last case writes incompressible bodies of MAX_MESSAGE_CHARS so the log passes GitHub's
10 MB gzipped limit and the builder must search for how many results fit.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import statistics
import time

from reviewer.core import sarif
from reviewer.core.findings import Finding, Severity

SEVERITIES = list(Severity)
WORDS = [
    "the",
    "value",
    "is",
    "read",
    "before",
    "it",
    "is",
    "checked",
    "so",
    "a",
    "missing",
    "key",
    "raises",
    "instead",
    "of",
]


def findings(count: int, body_chars: int, *, incompressible: bool = False) -> list[Finding]:
    out = []
    for i in range(count):
        if incompressible:
            seed = hashlib.sha256(str(i).encode()).digest()
            body = "".join(
                hashlib.sha256(seed + n.to_bytes(4, "big")).hexdigest()
                for n in range(body_chars // 64 + 1)
            )[:body_chars]
        else:
            body = " ".join(WORDS[(i + n) % len(WORDS)] for n in range(body_chars // 5))
        out.append(
            Finding(
                path=f"pkg/module_{i % 400:04d}.py",
                line=i % 900 + 1,
                severity=SEVERITIES[i % 4],
                category="bug",
                title=f"Finding number {i}",
                body=body,
            )
        )
    return out


def measure(count: int, body: int, repeat: int, *, incompressible: bool = False) -> None:
    items = findings(count, body, incompressible=incompressible)
    times = []
    log: dict[str, object] = {}
    for _ in range(repeat):
        began = time.perf_counter()
        log = sarif.build_sarif([], items)
        text = sarif.to_json(log)
        times.append(time.perf_counter() - began)
    raw = text.encode()
    packed = len(gzip.compress(raw, compresslevel=sarif.LEVEL, mtime=0))
    props = log["runs"][0]["properties"]  # type: ignore[index]
    kind = "incompressible" if incompressible else "prose"
    print(
        f"{count:>6} findings, {body:>6}-char {kind:<14} bodies: "
        f"{statistics.median(times) * 1000:8.0f} ms median, {len(raw) / 2**20:7.1f} MiB JSON, "
        f"{packed / 2**20:6.2f} MiB gzipped, kept {props['resultsKept']:,} of "
        f"{props['resultsTotal']:,}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, nargs="+", default=[500, 5_000, 20_000])
    parser.add_argument("--body", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for count in args.results:
        measure(count, args.body, args.repeat)
    measure(5_000, sarif.MAX_MESSAGE_CHARS, 1, incompressible=True)


if __name__ == "__main__":
    main()
