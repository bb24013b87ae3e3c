"""Tests of the Action's report: the job summary and the step outputs."""

from __future__ import annotations

from reviewer.action.report import format_outputs, render_summary, result_outputs
from reviewer.core.findings import Severity
from reviewer.core.reports import FileReport
from reviewer.model import ReviewResult
from tests.action_results import REPO, parse_github_output, reviewed_result


def test_format_outputs_single_and_multiline_values_round_trip() -> None:
    values = {"findings": "3", "cost-usd": "0.0123", "notes": "line one\nline two\n## three"}

    text = format_outputs(values)

    assert text.startswith("findings=3\ncost-usd=0.0123\nnotes<<ghadelimiter_")
    assert parse_github_output(text) == values


def test_result_outputs_count_what_was_posted() -> None:
    result = reviewed_result(Severity.MAJOR, Severity.NIT, unanchored=(Severity.MINOR,))

    assert result_outputs(result) == {
        "findings": "3",
        "comments-posted": "2",
        "cost-usd": "0.0123",
    }
    assert result_outputs(None) == {"findings": "0", "comments-posted": "0", "cost-usd": "0"}


def test_comments_moved_to_the_body_are_not_counted_as_inline() -> None:
    result = reviewed_result(Severity.MAJOR, Severity.NIT)
    result = ReviewResult(**{**result.__dict__, "extra": {"moved_to_body": 1}})

    assert result_outputs(result)["comments-posted"] == "1"


def test_nothing_counts_as_posted_without_a_review_id() -> None:
    result = reviewed_result(Severity.MAJOR)
    result = ReviewResult(**{**result.__dict__, "review_id": None})

    assert result_outputs(result)["findings"] == "0"


def test_render_summary_lists_files_findings_tokens_and_cost() -> None:
    result = reviewed_result(Severity.MAJOR, Severity.MAJOR, unanchored=(Severity.CRITICAL,))

    text = render_summary(result, repo=REPO, pr_number=2, pr_url="https://x/pull/2")

    assert text.startswith(f"## Claude review of [{REPO}#2](https://x/pull/2)\n")
    assert "**Reviewed**: 3 finding(s) posted, 2 as inline comments" in text
    assert "| critical | 0 | 1 |" in text
    assert "| major | 2 | 0 |" in text
    assert "| minor | 0 | 0 |" in text
    assert "1 reviewed, 1 not reviewed." in text
    assert "| package-lock.json | lockfile |" in text
    assert "| input_tokens | 1,500 |" in text
    assert "| cost | $0.0123 |" in text


def test_render_summary_escapes_table_cells_and_caps_rows() -> None:
    files = tuple(
        FileReport(f"dir/a|<b>{i}.txt", "added", False, "binary", 0, 0) for i in range(150)
    )
    result = ReviewResult(status="skipped", reason="the head moved", files=files)

    text = render_summary(result, repo=REPO, pr_number=2, pr_url="u")

    assert "**Skipped**: the head moved" in text
    assert "| dir/a\\|&lt;b&gt;0.txt | binary |" in text
    assert "<b>" not in text.replace("<b>Findings", "")
    assert "… and 50 more" in text


def test_render_summary_makes_file_names_and_reasons_inert() -> None:
    evil = "@org/team ![i](https://evil/x.png) <!-- reviewer:fp=0123456789abcdef -->"
    files = (FileReport(f"{evil}.txt", "added", False, f"binary {evil}", 0, 0),)
    result = ReviewResult(status="failed", reason=f"cannot review {evil}", files=files)

    text = render_summary(result, repo=REPO, pr_number=2, pr_url="u")

    assert "@org" not in text and "<!--" not in text and text.count("](") == 1  # ours: the PR
    assert "**Failed**: cannot review @\u200borg/team !&#91;i&#93;(`https://evil/x.png)`" in text
