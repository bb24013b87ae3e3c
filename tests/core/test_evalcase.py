"""Evaluation cases: a manifest and a diff, checked before any model sees them."""

from __future__ import annotations

import pytest

from reviewer.core.evalcase import parse_case
from reviewer.core.lines import Side
from reviewer.errors import ConfigError

DIFF = """\
diff --git a/app/a.py b/app/a.py
--- a/app/a.py
+++ b/app/a.py
@@ -1,3 +1,3 @@
 import os
-x = 1
+x = 2
 y = 3
"""
MANIFEST = """\
language: python
description: x is wrong.
labels:
  - path: app/a.py
    line: 2
    class: wrong constant
"""


def test_a_case_reads_its_labels_and_diff() -> None:
    case = parse_case("py-x", MANIFEST, DIFF)
    [label] = case.labels
    assert (label.path, label.line, label.problem, label.side) == (
        "app/a.py", 2, "wrong constant", "RIGHT",
    )  # fmt: skip
    assert not case.clean and case.language == "python"
    assert ("app/a.py", Side.RIGHT, 2) in case.diff.commentable


def test_labels_may_name_context_and_removed_lines() -> None:
    manifest = MANIFEST.replace("line: 2", "line: 3") + (
        "  - {path: app/a.py, line: 2, side: LEFT, class: removed guard}\n"
    )
    case = parse_case("py-x", manifest, DIFF)
    assert [(lb.line, lb.side) for lb in case.labels] == [(3, "RIGHT"), (2, "LEFT")]


def test_a_label_may_span_lines_of_the_diff() -> None:
    [label] = parse_case(
        "py-x", MANIFEST.replace("line: 2", "line: 2\n    end_line: 3"), DIFF
    ).labels
    assert (label.line, label.end_line) == (2, 3)


def test_a_clean_case_has_an_empty_label_list() -> None:
    case = parse_case("py-clean", MANIFEST.split("labels:")[0] + "labels: []\n", DIFF)
    assert case.clean


@pytest.mark.parametrize(
    ("manifest", "diff", "message"),
    [
        (MANIFEST.replace("line: 2", "line: 9"), DIFF, "app/a.py:9 is not a new line"),
        (MANIFEST.replace("path: app/a.py", "path: app/b.py"), DIFF, "app/b.py:2 is not a new"),
        (
            MANIFEST + "  - {path: app/a.py, line: 3, side: LEFT, class: c}\n",
            DIFF,
            "app/a.py:3 is not an old (removed) line",
        ),
        (MANIFEST.replace("line: 2", "line: two"), DIFF, "line must be a positive integer"),
        (MANIFEST.replace("line: 2", "line: 2\n    end_line: 2"), DIFF, "end_line must be a line"),
        (MANIFEST.replace("line: 2", "line: 2\n    end_line: 4"), DIFF, "app/a.py:4 is not a new"),
        (MANIFEST.replace("    class: wrong constant\n", ""), DIFF, "needs path and class"),
        (MANIFEST.replace("labels:", "label:"), DIFF, "unknown key(s) label"),
        (MANIFEST.replace("language: python\n", ""), DIFF, "language must be"),
        (MANIFEST, "not a diff\n", "the diff does not parse"),
        (MANIFEST, "", "the diff changes no file"),
        ("- a list\n", DIFF, "must be a mapping"),
    ],
)
def test_a_broken_case_names_what_is_wrong(manifest: str, diff: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_case("py-x", manifest, diff)
    assert caught.value.message.startswith("case py-x: ")
    assert message in caught.value.message
