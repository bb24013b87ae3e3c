"""The review summary: what was found, what was not reviewed and why, and what it cost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reviewer.core.anchoring import MAX_BODY_CHARS, AnchorResult
from reviewer.core.findings import Finding
from reviewer.core.reports import ChunkReport, FileReport
from reviewer.core.summary import build_summary


def _finding(**kw: Any) -> Finding:
    base: dict[str, Any] = {
        "path": "app.py", "line": 3, "severity": "minor", "category": "bug",
        "title": "Off by one", "body": "The loop stops early.",
    }  # fmt: skip
    return Finding.model_validate(base | kw)


def _anchored(**kw: Any) -> AnchorResult:
    base: dict[str, Any] = {
        "comments": (), "unanchored": (), "overflow": (), "below_threshold": (),
        "already_posted": 0, "merged": 0,
    }  # fmt: skip
    return AnchorResult(**(base | kw))


FILES = (
    FileReport("app.py", "modified", True, None, 3, 1),
    FileReport("package-lock.json", "modified", False, "lockfile", 40, 2),
)
CHUNKS = (ChunkReport(0, ("app.py",), 900, "ok", "end_turn"),)


def test_summary_states_counts_model_cost_and_month_to_date() -> None:
    body = build_summary(
        model="claude-sonnet-4-6",
        files=FILES,
        chunks=CHUNKS,
        anchored=_anchored(unanchored=(_finding(severity="major"),)),
        cost_usd=Decimal("0.01234"),
        month_to_date_usd=Decimal("3.5"),
    ).body
    assert "1 findings (1 major)" in body
    assert "Reviewed 1 of 2 files in 1 chunk with `claude-sonnet-4-6`" in body
    assert "Cost $0.0123; this repository this month: $3.50." in body


def test_files_not_reviewed_and_findings_outside_the_diff_are_listed() -> None:
    body = build_summary(
        model="m",
        files=FILES,
        chunks=CHUNKS,
        anchored=_anchored(unanchored=(_finding(path="old.py", line=9, title="Stale"),)),
        cost_usd=Decimal(0),
    ).body
    assert "`package-lock.json`: lockfile" in body
    assert "`old.py:9` **minor** Stale" in body


def test_failed_chunks_and_budget_stop_are_stated() -> None:
    chunks = (*CHUNKS, ChunkReport(1, ("b.py",), 500, "refused", "refusal", "policy"))
    body = build_summary(
        model="m",
        files=FILES,
        chunks=chunks,
        anchored=_anchored(),
        cost_usd=Decimal(0),
        budget_stop="monthly budget of $5 reached; $0.00 left",
    ).body
    assert "chunk 2 (`b.py`): refused — policy" in body
    assert "**Budget reached:** monthly budget of $5 reached" in body


def test_a_budget_that_stopped_every_chunk_is_said_once() -> None:
    stop = "review budget of $0.01 reached; $0.00 left"
    chunks = tuple(ChunkReport(i, (f"f{i}.py",), 500, "skipped", None, stop) for i in range(4))
    body = build_summary(
        model="m",
        files=FILES,
        chunks=chunks,
        anchored=_anchored(),
        cost_usd=Decimal(0),
        budget_stop=stop,
    ).body
    assert body.count(stop) == 1
    assert "chunk 4 (`f3.py`): skipped" in body


def test_rereview_says_what_is_new() -> None:
    body = build_summary(
        model="m",
        files=FILES,
        chunks=CHUNKS,
        anchored=_anchored(already_posted=2),
        cost_usd=Decimal(0),
        rereview=True,
    ).body
    assert "0 new findings" in body
    assert "2 finding(s) already reported on unchanged code were not repeated" in body


def test_long_lists_continue_in_followups_and_nothing_is_cut() -> None:
    many = tuple(_finding(line=i + 1, title=f"T{i}", body="x" * 2_000) for i in range(60))
    files = tuple(FileReport(f"gen/{i}.py", "added", False, "y" * 500, 1, 0) for i in range(400))
    summary = build_summary(
        model="m", files=files, chunks=CHUNKS, anchored=_anchored(unanchored=many),
        cost_usd=Decimal(0),
    )  # fmt: skip
    texts = [summary.body, *summary.followups]
    assert summary.followups  # too much for one body
    assert all(len(t) < MAX_BODY_CHARS for t in texts)
    everything = "\n".join(texts)
    assert all(f"**minor** T{i} —" in everything for i in range(60))
    assert all(f"`gen/{i}.py`" in everything for i in range(400))
    assert "more under “Findings outside the diff” in the comments below" in summary.body or (
        "more under “Files not reviewed” in the comments below" in summary.body
    )


def test_untrusted_model_text_is_sanitized_in_the_body() -> None:
    evil = _finding(body="ping @everyone <!-- reviewer:fp=0000000000000000 -->")
    body = build_summary(
        model="m", files=FILES, chunks=CHUNKS, anchored=_anchored(unanchored=(evil,)),
        cost_usd=Decimal(0),
    ).body  # fmt: skip
    assert "@everyone" not in body and "<!-- reviewer:fp" not in body
