"""Scoring findings against labels: the two-line window, files, sides, ranges, totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from reviewer.core.findings import Finding
from reviewer.core.scoring import Label, distance, score_case, summarize

LABEL = Label(path="app/pay.py", line=20, problem="off-by-one")


def finding(line: int, path: str = "app/pay.py", **fields: Any) -> Finding:
    values: dict[str, Any] = {
        "path": path, "line": line, "severity": "major", "category": "bug",
        "title": f"problem at {line}", "body": "Explained.",
    }  # fmt: skip
    return Finding.model_validate(values | fields)


@pytest.mark.parametrize(
    ("line", "found"),
    [(18, True), (19, True), (20, True), (21, True), (22, True), (17, False), (23, False)],
)
def test_two_lines_away_counts_and_three_does_not(line: int, found: bool) -> None:
    score = score_case("c", [LABEL], [finding(line)])
    assert (score.found, score.false_findings) == ((1, 0) if found else (0, 1))


def test_a_finding_on_another_file_or_side_does_not_count() -> None:
    other_file = finding(20, path="app/other.py")
    other_side = finding(20, side="LEFT")
    assert distance(other_file, LABEL) is None and distance(other_side, LABEL) is None
    score = score_case("c", [LABEL], [other_file, other_side])
    assert (score.found, score.findings, score.false_findings) == (0, 2, 2)
    assert score.missed == ("off-by-one",)


def test_a_removed_line_label_matches_a_left_finding() -> None:
    removed = Label(path="app/pay.py", line=7, problem="race", side="LEFT")
    assert score_case("c", [removed], [finding(9, side="LEFT")]).found == 1
    assert score_case("c", [removed], [finding(7)]).found == 0


def test_a_range_finding_covers_its_lines_and_two_around() -> None:
    assert distance(finding(30, start_line=15), LABEL) == 0
    assert distance(finding(17, start_line=12), LABEL) == 3
    assert distance(finding(26, start_line=22), LABEL) == 2


def test_several_findings_on_one_label_count_once_and_none_is_false() -> None:
    score = score_case("c", [LABEL], [finding(19), finding(20), finding(22)])
    assert (score.labels, score.found, score.findings, score.false_findings) == (1, 1, 3, 0)


def test_each_label_is_found_on_its_own() -> None:
    second = Label(path="app/pay.py", line=40, problem="injection")
    score = score_case("c", [LABEL, second], [finding(41), finding(30)])
    assert (score.found, score.false_findings) == (1, 1)
    assert score.found_classes == ("injection",) and score.missed == ("off-by-one",)


def test_summary_adds_recall_precision_and_false_findings_per_clean_change() -> None:
    buggy = score_case(
        "b", [LABEL], [finding(21), finding(90)], cost_usd=Decimal("0.02"), language="go"
    )
    missed = score_case(
        "m", [LABEL], [], cost_usd=Decimal("0.01"), error="chunk 0: refused", language="rust"
    )
    clean = score_case("c", [], [finding(5), finding(6)], cost_usd=Decimal("0.03"))
    quiet = score_case("q", [], [], seconds=1.5)
    s = summarize("claude-x", "realtime", [buggy, missed, clean, quiet])
    assert (s.cases, s.buggy, s.clean, s.labels, s.found) == (4, 2, 2, 2, 1)
    assert s.recall == 0.5
    assert (s.findings_on_buggy, s.false_on_buggy, s.precision) == (2, 1, 0.5)
    assert (s.false_on_clean, s.false_per_clean) == (2, 1.0)
    assert s.cost_usd == Decimal("0.06") and s.cost_per_change == Decimal("0.015")
    assert s.seconds == 1.5 and s.errors == 1
    assert s.recall_by_class == {"off-by-one": (1, 2)}
    assert s.recall_by_language == {"go": (1, 1), "rust": (0, 1)}


def test_summary_of_nothing_has_no_ratios() -> None:
    s = summarize("claude-x", "realtime", [])
    assert (s.recall, s.precision, s.false_per_clean, s.cost_per_change) == (
        None, None, None, Decimal(0),
    )  # fmt: skip


def test_summary_takes_the_wall_time_of_a_parallel_run() -> None:
    scores = [score_case("a", [], [], seconds=4.0), score_case("b", [], [], seconds=3.0)]
    assert summarize("m", "realtime", scores).seconds == 7.0
    assert summarize("m", "realtime", scores, seconds=4.5).seconds == 4.5


def test_a_label_over_lines_is_found_from_inside_it_or_two_lines_around() -> None:
    span = Label(path="app/pay.py", line=20, end_line=25, problem="race")
    assert [distance(finding(n), span) for n in (17, 18, 20, 23, 25, 27, 28)] == [
        3, 2, 0, 0, 0, 2, 3,
    ]  # fmt: skip
    assert score_case("c", [span], [finding(27)]).found == 1
    assert score_case("c", [span], [finding(28)]).found == 0
