"""`reviewer spend`: what the bot's Claude calls cost, from the ledger."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import click

from reviewer.cli.exit import fail
from reviewer.core.text import usd_digits
from reviewer.errors import ReviewerError
from reviewer.settings import Settings
from reviewer.spend.ledger import GROUP_BY, Ledger, ReportRow, month_start

PREFIX = "reviewer spend: "  # the start of every error line
FORMATS = ("table", "json", "csv")
COLUMNS = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost_usd",
    "unknown_usd",
)
HEADINGS = {
    "repo": "REPOSITORY",
    "model": "MODEL",
    "pr": "PULL REQUEST",
    "day": "DAY (UTC)",
    "mode": "MODE",
    "calls": "CALLS",
    "input_tokens": "INPUT",
    "output_tokens": "OUTPUT",
    "cache_creation_input_tokens": "CACHE WRITE",
    "cache_read_input_tokens": "CACHE READ",
    "cost_usd": "COST (USD)",
    # Of the cost, calls whose answer never came, counted at their worst case.
    "unknown_usd": "UNKNOWN (USD)",
}


@dataclass(frozen=True)
class Totals:
    calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: Decimal
    unknown_usd: Decimal

    @classmethod
    def of(cls, rows: Sequence[ReportRow]) -> Totals:
        return cls(
            calls=sum(r.calls for r in rows),
            input_tokens=sum(r.input_tokens for r in rows),
            output_tokens=sum(r.output_tokens for r in rows),
            cache_creation_input_tokens=sum(r.cache_creation_input_tokens for r in rows),
            cache_read_input_tokens=sum(r.cache_read_input_tokens for r in rows),
            cost_usd=sum((r.cost_usd for r in rows), Decimal(0)),
            unknown_usd=sum((r.unknown_usd for r in rows), Decimal(0)),
        )


def _parse_when(raw: str, option: str, *, end: bool) -> datetime:
    """Read a date (whole day) or an ISO datetime (naive = UTC); `end` takes a date's end."""
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        when = datetime.fromisoformat(raw)
    except ValueError:
        fail(f"{option} {raw!r} is not a date (YYYY-MM-DD) or an ISO date and time", prefix=PREFIX)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@click.command("spend")
@click.option("--since", metavar="DATE", help="First day counted (default: the 1st of this month).")
@click.option("--until", metavar="DATE", help="Last day counted, inclusive (default: now).")
@click.option("--repo", metavar="OWNER/NAME", help="Only this repository.")
@click.option("--by", "by", default="repo", metavar="repo|model|pr|day|mode", help="Group rows by.")
@click.option("--format", "fmt", default="table", metavar="table|json|csv", help="Output.")
def spend(since: str | None, until: str | None, repo: str | None, by: str, fmt: str) -> None:
    """Show what the reviewer's Claude calls cost: calls, tokens and USD per group."""
    run_spend(since=since, until=until, repo=repo, by=by, fmt=fmt)


def run_spend(
    *,
    since: str | None,
    until: str | None,
    repo: str | None,
    by: str,
    fmt: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Validate the options, query the ledger and print the report."""
    if by not in GROUP_BY:
        fail(f"--by must be one of {', '.join(GROUP_BY)}, not {by!r}", prefix=PREFIX)
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", prefix=PREFIX)
    now = clock()
    start = _parse_when(since, "--since", end=False) if since else month_start(now)
    stop = _parse_when(until, "--until", end=True) if until else now
    if stop <= start:
        fail(
            f"--until ({stop.isoformat()}) must be after --since ({start.isoformat()})",
            prefix=PREFIX,
        )
    try:
        settings = Settings.from_env()
        # Opening the ledger replays the spend journal first, so its rows are counted.
        with Ledger.open(settings.ledger_url, journal_path=settings.journal_path) as ledger:
            rows = ledger.report(start, stop, repo=repo, by=by)
    except ReviewerError as exc:
        fail(exc, prefix=PREFIX)
    totals = Totals.of(rows)
    if fmt == "json":
        click.echo(_json(rows, start=start, stop=stop, repo=repo, by=by))
    elif fmt == "csv":
        click.echo(_csv(rows, by=by), nl=False)
    else:
        click.echo(_table(rows, totals, start=start, stop=stop, by=by))


def _fields(item: ReportRow | Totals) -> dict[str, Any]:
    return {name: getattr(item, name) for name in COLUMNS}


def _json(
    rows: Sequence[ReportRow],
    *,
    start: datetime,
    stop: datetime,
    repo: str | None,
    by: str,
) -> str:
    def encode(item: ReportRow) -> dict[str, Any]:
        values = _fields(item)
        values["cost_usd"] = usd_digits(values["cost_usd"])
        values["unknown_usd"] = usd_digits(values["unknown_usd"])
        return values

    document = {
        "since": start.isoformat(),
        "until": stop.isoformat(),
        "repo": repo,
        "by": by,
        # Data rows only: a total among them would be counted twice by whoever sums them.
        "rows": [{by: row.key, **encode(row)} for row in rows],
    }
    return json.dumps(document, indent=2)


def _csv(rows: Sequence[ReportRow], *, by: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([by, *COLUMNS])
    # Data rows only, no TOTAL row: summing a column must give the total, not twice it.
    for row in rows:
        values = _fields(row)
        writer.writerow(
            [row.key, *(usd_digits(v) if n.endswith("_usd") else v for n, v in values.items())]
        )
    return out.getvalue()


def _table(
    rows: Sequence[ReportRow], totals: Totals, *, start: datetime, stop: datetime, by: str
) -> str:
    def cells(key: str, item: ReportRow | Totals) -> list[str]:
        values = _fields(item)
        money = [values.pop("cost_usd"), values.pop("unknown_usd")]
        return [
            key,
            *(f"{v:,}" for v in values.values()),
            *(f"{m.quantize(Decimal('0.0001')):,f}" for m in money),
        ]

    header = [HEADINGS[by], *(HEADINGS[c] for c in COLUMNS)]
    body = [cells(row.key, row) for row in rows]
    total = cells("TOTAL", totals)
    widths = [max(len(r[i]) for r in [header, *body, total]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        first = r[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))])

    rule = "  ".join("-" * w for w in widths)
    period = f"Spend from {start:%Y-%m-%d %H:%M} to {stop:%Y-%m-%d %H:%M} UTC"
    lines = [period, "", line(header), rule, *(line(r) for r in body), rule, line(total)]
    if not body:
        lines.insert(4, "(no calls recorded)")
    return "\n".join(lines)
