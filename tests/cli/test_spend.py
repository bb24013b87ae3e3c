"""Tests for reviewer/spend_cli.py: `reviewer spend` totals in each format."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner

from reviewer.cli.spend import spend
from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from reviewer.spend.schema import CallRow

NOV = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
WINDOW = ["--since", "2026-11-01", "--until", "2026-11-30"]


def row(time: datetime, repo: str, cost: str, *, pr: int | None = 1, model: str = "m-a") -> CallRow:
    return CallRow(
        time=time,
        repository=repo,
        pr_number=pr,
        head_sha="c" * 40,
        trigger="command",
        model=model,
        input_tokens=1_000,
        output_tokens=100,
        cache_creation_input_tokens=10,
        cache_read_input_tokens=2_000,
        cost_usd=Decimal(cost),
        outcome="ok",
        review_id="r",
        chunk_index=0,
        attempt=1,
    )


@pytest.fixture
def seeded() -> None:
    """Rows in the ledger the command reads by default (REVIEWER_DATA_DIR is tmp_path)."""
    with Ledger.open(Settings.from_env().ledger_url) as ledger:
        ledger.record_many(
            [
                row(NOV, "octo/widgets", "0.000000000001"),
                row(NOV + timedelta(days=1), "octo/widgets", "1.5", pr=2, model="m-b"),
                row(NOV, "octo/gadgets", "0.25", pr=None),
                # Outside the window: October, and December 1st.
                row(NOV - timedelta(days=30), "octo/widgets", "100"),
                row(datetime(2026, 12, 1, tzinfo=UTC), "octo/widgets", "100"),
            ]
        )


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(spend, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.usefixtures("seeded")
def test_json_totals() -> None:
    code, out, _ = invoke(*WINDOW, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["by"] == "repo"
    assert report["since"] == "2026-11-01T00:00:00+00:00"
    assert report["until"] == "2026-12-01T00:00:00+00:00"
    assert [(r["repo"], r["calls"], r["cost_usd"]) for r in report["rows"]] == [
        ("octo/widgets", 2, "1.500000000001"),
        ("octo/gadgets", 1, "0.25"),
    ]
    assert set(report) == {"since", "until", "repo", "by", "rows"}  # no total to double
    assert sum(Decimal(r["cost_usd"]) for r in report["rows"]) == Decimal("1.750000000001")
    assert {r["unknown_usd"] for r in report["rows"]} == {"0"}


@pytest.mark.usefixtures("seeded")
def test_csv_totals_by_model() -> None:
    code, out, _ = invoke(*WINDOW, "--by", "model", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == [
        "model",
        "calls",
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cost_usd",
        "unknown_usd",
    ]
    assert rows[1:] == [
        ["m-b", "1", "1000", "100", "10", "2000", "1.5", "0"],
        ["m-a", "2", "2000", "200", "20", "4000", "0.250000000001", "0"],
    ]  # data rows only: summing the column gives the total once


@pytest.mark.usefixtures("seeded")
def test_table_with_a_total_line() -> None:
    code, out, _ = invoke(*WINDOW, "--by", "pr")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Spend from 2026-11-01 00:00 to 2026-12-01 00:00 UTC"
    assert [h.strip() for h in lines[2].split("  ") if h.strip()] == [
        "PULL REQUEST",
        "CALLS",
        "INPUT",
        "OUTPUT",
        "CACHE WRITE",
        "CACHE READ",
        "COST (USD)",
        "UNKNOWN (USD)",
    ]
    assert lines[4].split() == [
        "octo/widgets#2",
        "1",
        "1,000",
        "100",
        "10",
        "2,000",
        "1.5000",
        "0.0000",
    ]
    assert lines[-1].split() == ["TOTAL", "3", "3,000", "300", "30", "6,000", "1.7500", "0.0000"]
    assert "octo/gadgets (no PR)" in out
    widths = {len(line) for line in lines[2:]}
    assert len(widths) == 1  # columns line up


@pytest.mark.usefixtures("seeded")
def test_repo_filter_and_days() -> None:
    code, out, _ = invoke(*WINDOW, "--repo", "octo/widgets", "--by", "day", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert [(r["day"], r["cost_usd"]) for r in report["rows"]] == [
        ("2026-11-10", "0.000000000001"),
        ("2026-11-11", "1.5"),
    ]


def test_default_window_is_this_month_to_now() -> None:
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with Ledger.open(Settings.from_env().ledger_url) as ledger:
        ledger.record(row(now - timedelta(seconds=5), "octo/now", "0.5"))
        ledger.record(row(start - timedelta(seconds=1), "octo/now", "7"))
    code, out, _ = invoke("--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["since"] == start.isoformat()
    assert [(r["repo"], r["cost_usd"]) for r in report["rows"]] == [("octo/now", "0.5")]


def test_an_empty_ledger_reports_zero() -> None:
    code, out, _ = invoke(*WINDOW)
    assert code == 0
    assert "(no calls recorded)" in out
    assert out.splitlines()[-1].split() == ["TOTAL", "0", "0", "0", "0", "0", "0.0000", "0.0000"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "week"], "--by must be one of repo, model, pr, day, mode, kind, not 'week'"),
        (["--format", "xml"], "--format must be one of table, json, csv, not 'xml'"),
        (["--since", "yesterday"], "--since 'yesterday' is not a date"),
        (["--since", "2026-11-30", "--until", "2026-11-01"], "must be after --since"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("reviewer spend: ") and message in err


def test_a_bad_setting_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_CONCURRENCY", "0")
    code, _, err = invoke(*WINDOW)
    assert code == 2
    assert err == "reviewer spend: REVIEWER_CONCURRENCY must be at least 1\n"


def test_table_by_kind_splits_reviews_from_conversations() -> None:
    with Ledger.open(Settings.from_env().ledger_url) as ledger:
        ledger.record_many(
            [
                row(NOV, "octo/widgets", "1"),
                dataclasses.replace(row(NOV, "octo/widgets", "0.02"), kind="conversation"),
                dataclasses.replace(row(NOV, "octo/widgets", "0.03"), kind="ask"),
            ]
        )
    code, out, _ = invoke(*WINDOW, "--by", "kind", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][0] == "kind"
    cost = rows[0].index("cost_usd")
    assert [(r[0], r[cost]) for r in rows[1:]] == [
        ("review", "1"),
        ("ask", "0.03"),
        ("conversation", "0.02"),
    ]
