"""Prometheus text exposition of the counters the web and queue workers share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

# Counters live in the delivery store, so every gunicorn worker and every queue worker on
# every machine adds to, and `/metrics` reports, the same numbers.
DELIVERIES = "reviewer_deliveries_total"
JOBS_FINISHED = "reviewer_jobs_finished_total"
JOB_RETRIES = "reviewer_job_retries_total"
DURATION = "reviewer_review_duration_seconds"
TOKENS = "reviewer_tokens_total"
COST = "reviewer_cost_usd_total"
JOBS = "reviewer_jobs"
BUDGET_STOPS = "reviewer_budget_stops_total"
CHUNKS = "reviewer_chunks_total"

DURATION_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0)

HELP = {
    DELIVERIES: ("counter", "Webhook deliveries by event and outcome."),
    JOBS: ("gauge", "Review jobs by state: queued (waiting) or running (leased by a worker)."),
    JOBS_FINISHED: (
        "counter",
        "Review jobs finished, by outcome (reviewed, skipped, failed, ...).",
    ),
    JOB_RETRIES: ("counter", "Review attempts retried after a transient failure."),
    DURATION: ("histogram", "Wall time of one run of the review engine."),
    TOKENS: ("counter", "Claude tokens used, by repository and kind."),
    COST: ("counter", "Claude spend in USD, by repository."),
    BUDGET_STOPS: (
        "counter",
        "Reviews cut short because a budget (monthly or per review) ran out.",
    ),
    CHUNKS: (
        "counter",
        "Chunks of a review, by how they ended (ok, refused, truncated, error, ...).",
    ),
}


def series(name: str, **labels: str) -> str:
    """Return the Prometheus series `name{label="value",...}` with escaped values."""
    if not labels:
        return name
    body = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return f"{name}{{{body}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def duration_amounts(seconds: float) -> dict[str, float]:
    """Return the counter increments that record one review duration in the histogram."""
    amounts = {
        series(f"{DURATION}_bucket", le=_number(b)): 1.0 for b in DURATION_BUCKETS if seconds <= b
    }
    amounts[series(f"{DURATION}_bucket", le="+Inf")] = 1.0
    amounts[f"{DURATION}_sum"] = seconds
    amounts[f"{DURATION}_count"] = 1.0
    return amounts


def usage_amounts(repo: str, usage: Mapping[str, int], cost_usd: Decimal) -> dict[str, float]:
    """Return the counter increments for one review's tokens and cost."""
    amounts = {series(TOKENS, repo=repo, kind=kind): float(n) for kind, n in usage.items() if n}
    if cost_usd:
        amounts[series(COST, repo=repo)] = float(cost_usd)
    return amounts


def review_amounts(*, budget_stopped: bool, chunk_statuses: Iterable[str]) -> dict[str, float]:
    """Return the counter increments for one review's budget stop and its chunks' endings."""
    amounts: dict[str, float] = {}
    for status in chunk_statuses:
        key = series(CHUNKS, status=status)
        amounts[key] = amounts.get(key, 0.0) + 1.0
    if budget_stopped:
        amounts[BUDGET_STOPS] = 1.0
    return amounts


# Series that name repositories or spend: shown only to a caller with REVIEWER_METRICS_TOKEN.
DETAILED = frozenset({TOKENS, COST})


def render(
    counters: Mapping[str, float], states: Mapping[str, int], *, detailed: bool = False
) -> str:
    """Return the whole `/metrics` page: HELP/TYPE headers, then samples sorted by series.

    Without `detailed`, the families that carry repository names and spend are left out.
    """
    samples: dict[str, float] = dict(counters)
    if not detailed:
        samples = {s: v for s, v in samples.items() if _family(s) not in DETAILED}
    for state in ("queued", "running"):
        samples[series(JOBS, state=state)] = float(states.get(state, 0))
    for bucket in (*(_number(b) for b in DURATION_BUCKETS), "+Inf"):
        samples.setdefault(series(f"{DURATION}_bucket", le=bucket), 0.0)
    samples.setdefault(f"{DURATION}_sum", 0.0)
    samples.setdefault(f"{DURATION}_count", 0.0)
    lines: list[str] = []
    for name, (kind, text) in HELP.items():
        if name in DETAILED and not detailed:
            continue
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        mine = [s for s in samples if _family(s) == name]
        for sample in sorted(mine, key=_bucket_order):
            lines.append(f"{sample} {_number(samples[sample])}")
    return "\n".join(lines) + "\n"


def _family(sample: str) -> str:
    name = sample.split("{", 1)[0]
    for suffix in ("_bucket", "_sum", "_count"):
        if name.startswith(DURATION) and name.endswith(suffix):
            return DURATION
    return name


def _bucket_order(sample: str) -> tuple[str, float]:
    # Buckets in increasing `le`, as Prometheus expects; other series alphabetically.
    if 'le="' in sample:
        bound = sample.split('le="', 1)[1].split('"', 1)[0]
        return ("", float("inf") if bound == "+Inf" else float(bound))
    return (sample, 0.0)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
