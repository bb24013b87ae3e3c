"""A refused chunk: its category reported per chunk, the fallback used, never for extraction."""

from __future__ import annotations

import pytest

from reviewer.cli.render import to_json
from reviewer.model import ReviewRequest
from tests.fakes.messages_server import (
    FakeMessages,
    fake_settings,
    findings_answer,
    refusal_answer,
)
from tests.services import review_with

DIFF = """\
diff --git a/a.py b/a.py
--- a/a.py
+++ b/a.py
@@ -1,2 +1,2 @@
 import os
-x = 1
+x = os.environ["X"]
"""


@pytest.mark.parametrize(
    ("category", "calls", "status"),
    [("cyber", 2, "ok"), ("reasoning_extraction", 1, "refused")],
)
def test_refusal_category_per_chunk_and_which_refusals_fall_back(
    fake_claude: FakeMessages, category: str, calls: int, status: str
) -> None:
    fake_claude.enqueue(refusal_answer(category, "declined"))
    fake_claude.enqueue(findings_answer([]))
    settings = fake_settings(fake_claude, fallback_model="claude-opus-4-6")

    result = review_with(ReviewRequest("octo/app", diff_text=DIFF), settings)

    assert len(fake_claude.requests) == calls
    [chunk] = result.chunks
    assert chunk.status == status
    if status == "refused":
        assert fake_claude.requests[0]["model"] == "claude-sonnet-4-6"
        assert chunk.refusal_category == "reasoning_extraction"
        assert to_json(result)["chunks"][0]["refusal_category"] == "reasoning_extraction"
        assert "refused (reasoning_extraction)" in result.summary
    else:
        assert [r["model"] for r in fake_claude.requests] == [
            "claude-sonnet-4-6",
            "claude-opus-4-6",
        ]
