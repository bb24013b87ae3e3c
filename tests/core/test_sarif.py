"""SARIF 2.1.0 for code scanning: valid against the official schema, within GitHub's limits."""

from __future__ import annotations

import gzip
import json
from functools import cache
from typing import Any

import jsonschema
import pytest

from reviewer.core import sarif
from reviewer.core.anchoring import anchor
from reviewer.core.diff import parse_diff
from reviewer.core.findings import Finding, Severity
from tests.paths import FIXTURES

# The OASIS schema (oasis-tcs/sarif-spec, sarif-2.1/schema/sarif-schema-2.1.0.json), as data.
SCHEMA_PATH = FIXTURES / "sarif" / "sarif-schema-2.1.0.json"

DIFF = """\
diff --git a/src/my app.py b/src/my app.py
--- a/src/my app.py
+++ b/src/my app.py
@@ -1,4 +1,5 @@
 import os
-x = 1
+x = eval(input())
+y = x / 0
 z = 3
 w = 4
"""


@cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)  # type: ignore[no-any-return]


def assert_valid(log: dict[str, Any]) -> None:
    errors = [e.message for e in validator().iter_errors(log)]
    assert errors == []


def finding(
    line: int,
    severity: Severity = Severity.MAJOR,
    *,
    category: str = "bug",
    title: str = "Divides by zero",
    side: str = "RIGHT",
    start_line: int | None = None,
    path: str = "src/my app.py",
) -> Finding:
    return Finding.model_validate(
        {
            "path": path, "line": line, "side": side, "severity": severity, "category": category,
            "title": title, "body": "It raises `ZeroDivisionError`.", "start_line": start_line,
        }
    )  # fmt: skip


def results(log: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = log["runs"][0]["results"]
    return found


def test_a_review_is_valid_sarif_with_one_rule_per_category() -> None:
    anchored = anchor(
        [
            finding(3, Severity.MINOR),
            finding(2, Severity.CRITICAL, category="security", title="eval of input"),
            finding(3, Severity.NIT, category="style", title="Name", start_line=2),
            finding(2, Severity.MINOR, side="LEFT", title="Was fine"),
        ],
        parse_diff(DIFF),
    )
    unanchored = [finding(40, Severity.MAJOR, category="docs", title="Stale docstring")]

    log = sarif.build_sarif(anchored.comments, unanchored, tool_version="1.2.3")

    assert_valid(log)
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [f"reviewer/{c}" for c in sarif.CATEGORIES]
    assert run["tool"]["driver"]["version"] == "1.2.3"
    found = results(log)
    assert [(r["ruleId"], r["level"]) for r in found] == [
        ("reviewer/security", "error"),  # critical
        ("reviewer/docs", "error"),  # major
        ("reviewer/bug", "warning"),  # minor
        ("reviewer/style", "note"),  # nit
    ]
    for r in found:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    assert found[0]["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "src/my%20app.py"},
                "region": {"startLine": 2},
            }
        }
    ]
    assert found[3]["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "endLine": 3}
    assert found[0]["message"]["text"].startswith("eval of input\n\n")
    by_title = {c.finding.title: c.fingerprint for c in anchored.comments}
    assert found[0]["partialFingerprints"] == {"reviewerFinding/v1": by_title["eval of input"]}
    # The removed-line finding is not in the head commit SARIF describes: left out, and said.
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is True
    [note] = invocation["toolExecutionNotifications"]
    assert "1 finding(s) on removed lines" in note["message"]["text"]
    assert run["properties"] == {"resultsTotal": 4, "resultsKept": 4, "truncated": False}


def test_fingerprints_survive_lines_moving() -> None:
    moved = DIFF.replace("@@ -1,4 +1,5 @@", "@@ -11,4 +11,5 @@")
    before = anchor([finding(3)], parse_diff(DIFF)).comments
    after = anchor([finding(13)], parse_diff(moved)).comments
    unanchored_before = sarif.build_sarif([], [finding(40, title="Stale")])
    unanchored_after = sarif.build_sarif([], [finding(52, title="Stale")])

    [r1] = results(sarif.build_sarif(before))
    [r2] = results(sarif.build_sarif(after))
    [u1], [u2] = results(unanchored_before), results(unanchored_after)

    assert r1["partialFingerprints"] == r2["partialFingerprints"]
    assert r1["locations"] != r2["locations"]
    assert u1["partialFingerprints"] == u2["partialFingerprints"]


def test_past_5000_results_the_least_severe_are_left_out_and_said() -> None:
    many = [finding(i + 1, Severity.NIT, title=f"nit {i}") for i in range(5_002)]
    many.append(finding(1, Severity.CRITICAL, title="the important one"))

    log = sarif.build_sarif([], many)

    run = log["runs"][0]
    assert_valid({**log, "runs": [{**run, "results": run["results"][:10]}]})  # fast enough
    assert len(run["results"]) == sarif.MAX_RESULTS
    assert run["results"][0]["message"]["text"].startswith("the important one")
    assert run["properties"] == {"resultsTotal": 5_003, "resultsKept": 5_000, "truncated": True}
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning"
    assert "3 of 5003 results left out" in note["message"]["text"]


def test_a_log_over_the_gzip_limit_keeps_the_most_severe_that_fit() -> None:
    nits = [finding(i + 1, Severity.NIT, title=f"nit {i}") for i in range(300)]
    majors = [finding(i + 1, Severity.MAJOR, title=f"major {i}") for i in range(100)]
    whole = sarif.build_sarif([], nits + majors)
    limit = len(gzip.compress(sarif.to_json(whole).encode(), compresslevel=6)) // 2

    log = sarif.build_sarif([], nits + majors, max_gzip_bytes=limit)

    assert_valid(log)
    run = log["runs"][0]
    kept = run["properties"]["resultsKept"]
    assert 100 < kept < 400  # about half the results fit in half the size
    assert len(gzip.compress(sarif.to_json(log).encode(), compresslevel=6)) <= limit
    levels = [r["level"] for r in run["results"]]
    assert levels == ["error"] * 100 + ["note"] * (kept - 100)
    assert run["properties"]["truncated"] is True
    assert f"{400 - kept} of 400 results left out" in json.dumps(run["invocations"])


@pytest.mark.parametrize("successful", [True, False])
def test_notes_and_failure_are_in_the_invocation(successful: bool) -> None:
    log = sarif.build_sarif([], [], notes=["Budget reached"], successful=successful)

    assert_valid(log)
    [invocation] = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is successful
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == "Budget reached"


def test_a_very_long_body_is_cut_in_the_message() -> None:
    long = finding(3).model_copy(update={"body": "x" * 50_000})

    [result] = results(sarif.build_sarif([], [long]))

    assert len(result["message"]["text"]) < sarif.MAX_MESSAGE_CHARS + 100
    assert result["message"]["text"].endswith("… (truncated)")


def test_paths_are_uri_references() -> None:
    assert sarif.uri_path("src/my app/ü#1.py") == "src/my%20app/%C3%BC%231.py"
