"""The figures `make bench` sums up in one table, each beside its goal (issue 17).

A benchmark calls `record(key, value, shown)` for each figure it measures; when run by
`python -m bench`, the figures go to the file named by $BENCH_FIGURES (one JSON object a
line), which bench/__main__.py reads to print the table. Run alone, a benchmark just prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

ENV = "BENCH_FIGURES"


@dataclass(frozen=True)
class Goal:
    key: str
    what: str
    target: str
    met: Callable[[float], bool]


GOALS = (
    Goal("tokens", "1. billed-equivalent input / the diff's own tokens (issue 17's PR)",
         "<= 1.10", lambda v: v <= 1.10),
    Goal("latency", "2. 40 chunks at 2 s a call: wall / (1.2 x waves x 2 s + one call)",
         "<= 1.00", lambda v: v <= 1.0),
    Goal("startup", "3. `reviewer review --diff` of a small diff, instant model: wall s",
         "< 1.5", lambda v: v < 1.5),
    Goal("startup_sdk", "3. the dry run imports anthropic (1 = yes)", "0", lambda v: v == 0),
    Goal("reviews_reads", "4. GET .../pulls/{n}/reviews per review", "1", lambda v: v <= 1),
    Goal("intake_rate", "5. signed deliveries accepted per second (bench_webhook)",
         ">= 1000", lambda v: v >= 1000),
    Goal("intake_p99", "5. intake latency p99, ms", "<= 50", lambda v: v <= 50),
    Goal("intake_exact", "5. every accepted delivery exactly one job (1 = yes)", "1",
         lambda v: v == 1),
    Goal("plan_ratio", "6. plan 200,000 changed lines / unidiff's own parse", "<= 1.5",
         lambda v: v <= 1.5),
    Goal("scale_peak", "6. plan 1,000,000 changed lines: peak RSS MiB", "< 600",
         lambda v: v < 600),
)  # fmt: skip


def record(key: str, value: float, shown: str) -> None:
    """Note one figure (`shown` is how the table prints it) for `python -m bench`."""
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"key": key, "value": value, "shown": shown}) + "\n")


def table(lines: list[str]) -> str:
    """The summary table of the figures in `lines` (JSON, as `record` writes them)."""
    found: dict[str, tuple[float, str]] = {}
    for line in lines:
        item = json.loads(line)
        found[item["key"]] = (float(item["value"]), str(item["shown"]))
    width = max(len(goal.what) for goal in GOALS)
    rows = [f"{'figure':<{width}}  {'measured':>12}  {'goal':>8}  met", "-" * (width + 31)]
    for goal in GOALS:
        if goal.key in found:
            value, shown = found[goal.key]
            met = "yes" if goal.met(value) else "NO"
        else:
            shown, met = "not run", "-"
        rows.append(f"{goal.what:<{width}}  {shown:>12}  {goal.target:>8}  {met}")
    return "\n".join(rows)
