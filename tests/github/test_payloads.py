"""REST bodies for GitHub, field by field (GitHub ignores keys it does not know)."""

from __future__ import annotations

import pytest

from reviewer.core.anchoring import FINGERPRINT_RE, ReviewDraft
from reviewer.github import payloads
from tests.fakes.github_api import MARKER_KEY as KEY
from tests.fakes.github_api import inline_comment

HEAD = "c0ffee" + "0" * 34


def draft(*comments: object, body: str = "Summary.") -> ReviewDraft:
    return ReviewDraft(commit_id=HEAD, body=body, comments=tuple(comments))  # type: ignore[arg-type]


def test_review_body_has_githubs_field_names_and_nothing_else() -> None:
    one = inline_comment("src/a.py", 12)
    removed = inline_comment("src/b.py", 4, side="LEFT")
    ranged = inline_comment("src/c.py", 20, start_line=17)
    d = draft(one, removed, ranged)

    body = payloads.review_body(d, KEY)

    marker = payloads.review_marker(payloads.review_key(d), KEY)
    assert body == {
        "commit_id": HEAD,
        "event": "COMMENT",
        "body": f"Summary.\n\n{marker}",
        "comments": [
            {"path": "src/a.py", "body": one.body, "line": 12, "side": "RIGHT"},
            {"path": "src/b.py", "body": removed.body, "line": 4, "side": "LEFT"},
            {
                "path": "src/c.py",
                "body": ranged.body,
                "line": 20,
                "side": "RIGHT",
                "start_line": 17,
                "start_side": "RIGHT",
            },
        ],
    }
    assert all("position" not in c for c in body["comments"])
    assert all(type(c["side"]) is str for c in body["comments"])  # JSON, not an enum repr


def test_request_changes_event_is_passed_through() -> None:
    d = ReviewDraft(commit_id=HEAD, body="x", comments=(), event="REQUEST_CHANGES")
    assert payloads.review_body(d, KEY)["event"] == "REQUEST_CHANGES"


def test_a_range_of_one_line_is_a_single_line_comment() -> None:
    c = inline_comment("a.py", 5, start_line=5)
    assert set(payloads.comment_payload(c)) == {"path", "body", "line", "side"}


def test_review_key_is_stable_and_tells_drafts_apart() -> None:
    a = draft(inline_comment("a.py", 1))
    assert payloads.review_key(a) == payloads.review_key(draft(inline_comment("a.py", 1)))
    assert payloads.review_key(a) != payloads.review_key(draft(inline_comment("a.py", 2)))
    assert payloads.REVIEW_MARKER_RE.search(payloads.review_body(a, KEY)["body"])


def test_probe_is_a_pending_review_without_event() -> None:
    c = inline_comment("a.py", 3)
    assert payloads.probe_body(HEAD, [c]) == {
        "commit_id": HEAD,
        "body": payloads.PROBE_MARKER,
        "comments": [payloads.comment_payload(c)],
    }


def test_huge_comment_is_clipped_under_the_limit_and_keeps_its_fingerprint() -> None:
    c = inline_comment("a.py", 3, text="x" * 100_000)
    sent = payloads.comment_payload(c)["body"]
    assert len(sent) < 65_536
    assert FINGERPRINT_RE.findall(sent) == [c.fingerprint]
    assert "truncated" in sent


def test_huge_summary_is_clipped_and_keeps_the_review_marker() -> None:
    body = payloads.review_body(draft(body="y" * 70_000), KEY)["body"]
    assert len(body) < 65_536
    assert payloads.REVIEW_MARKER_RE.search(body)


def test_moved_comments_are_listed_in_the_body_with_their_fingerprints() -> None:
    keep, bad = inline_comment("a.py", 1), inline_comment("b.py", 9, side="LEFT")
    new, overflow = payloads.with_moved_comments(draft(keep, bad), [keep], [bad])
    assert new.comments == (keep,)
    assert overflow == []
    assert new.body.startswith("Summary.\n\n" + payloads.MOVED_HEADING)
    assert "- `b.py` line 9 (removed code):" in new.body
    assert FINGERPRINT_RE.findall(new.body) == [bad.fingerprint]


def test_moved_comments_that_do_not_fit_overflow_and_none_is_lost() -> None:
    moved = [inline_comment("a.py", n, text="z" * 3_900) for n in range(1, 41)]
    new, overflow = payloads.with_moved_comments(draft(*moved), [], moved)
    assert overflow, "40 findings of ~4,000 characters cannot fit one body"
    assert len(payloads.review_body(new, KEY)["body"]) < 65_536
    assert all(len(part) < 65_536 for part in overflow)
    shown = FINGERPRINT_RE.findall(new.body + "".join(overflow))
    assert shown == [c.fingerprint for c in moved]
    assert "more are listed in the comments below" in new.body


def test_issue_comment_and_reaction_bodies() -> None:
    assert payloads.issue_comment_body("hi") == {"body": "hi"}
    assert len(payloads.issue_comment_body("q" * 70_000)["body"]) < 65_536
    assert payloads.reaction_body("eyes") == {"content": "eyes"}
    with pytest.raises(ValueError, match="no reaction"):
        payloads.reaction_body("eye")


def test_a_clipped_body_never_leaves_half_a_code_span_or_an_open_fence() -> None:
    from markdown_it import MarkdownIt

    from reviewer.core.inert import inert

    text = inert(("`@team <b>` " * 50 + "\n") * 30 + "```python\n" + "x = '@me'\n" * 500 + "```")
    for limit in range(200, 8_000, 97):
        clipped = payloads.clip(text, limit)
        assert len(clipped) <= limit
        tokens = MarkdownIt("commonmark").parse(clipped)
        texts = [t for b in tokens for t in (b.children or []) if t.type == "text"]
        assert not any("@team" in t.content or "@me" in t.content for t in texts), limit
        fences = [b.content for b in tokens if b.type == "fence"]
        assert not any("truncated" in f for f in fences), limit  # the fence was closed
