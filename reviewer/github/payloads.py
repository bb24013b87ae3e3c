"""Build every REST request body the reviewer sends to GitHub, with GitHub's own field names.

GitHub ignores keys it does not know (a misspelled `side` silently becomes RIGHT, a
misspelled `event` leaves a PENDING review nobody sees), so each body is built here, once,
and tested field by field. Nothing in this module does I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from reviewer.core import markers
from reviewer.core.anchoring import MAX_BODY_CHARS, InlineComment, ReviewDraft
from reviewer.core.inert import code

# "Under 65,536 characters": GitHub rejects a body of 65,536 or more.
BODY_LIMIT: Final = MAX_BODY_CHARS - 1
# A finding moved into the review body is shown at most this long, so many fit in one body.
MOVED_COMMENT_LIMIT: Final = 4_000

# Finds the key in a review marker (MAC'd or not); trust it only through markers.trusted_values.
REVIEW_MARKER_RE: Final = re.compile(r"<!-- reviewer:review=([0-9a-f]{16})(?:\.[0-9a-f]{32})? -->")
PROBE_MARKER: Final = "<!-- reviewer:probe -->"
REACTIONS: Final = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
TRUNCATED_NOTE: Final = "\n\n*(truncated: the full text did not fit GitHub's size limit)*"
MOVED_HEADING: Final = "### Findings that could not be placed inline"


def review_marker(key: str, marker_key: bytes) -> str:
    """The hidden HTML comment that lets us find our own review again (before a retry)."""
    return markers.marker(marker_key, markers.REVIEW, key)


def invalid_config_marker(head_sha: str, marker_key: bytes) -> str:
    """The hidden HTML comment of the invalid-config note on one head (posted once)."""
    return markers.marker(marker_key, markers.INVALID_CONFIG, head_sha.lower())


def delivery_key(delivery_id: str) -> str:
    """The review key of the delivery that asked for the review."""
    return hashlib.sha256(f"delivery\x1f{delivery_id}".encode()).hexdigest()[:16]


def review_key(draft: ReviewDraft) -> str:
    """A stable id of one draft: its delivery's key, else a hash of the draft itself."""
    if draft.key is not None:
        return delivery_key(draft.key)
    digest = hashlib.sha256()
    for part in (draft.commit_id, draft.event, draft.body):
        digest.update(part.encode("utf-8") + b"\x1e")
    for c in draft.comments:
        fields = (c.path, str(c.line), str(c.side), str(c.start_line), str(c.start_side), c.body)
        digest.update("\x1f".join(fields).encode("utf-8") + b"\x1e")
    return digest.hexdigest()[:16]


def clip(text: str, limit: int = BODY_LIMIT) -> str:
    """Cut `text` to at most `limit` characters, keeping its hidden markers at the end."""
    if len(text) <= limit:
        return text
    kept_markers = "".join(f"\n{m.group(0)}" for m in markers.MARKER_RE.finditer(text))
    room = max(0, limit - len(TRUNCATED_NOTE) - len(kept_markers) - _FENCE_ROOM)
    return _cut_markdown(markers.MARKER_RE.sub("", text), room) + TRUNCATED_NOTE + kept_markers


_FENCE_LINE = re.compile(r"^(`{3,}|~{3,})[A-Za-z0-9_+#.\-]*$")
_FENCE_ROOM = 64


def _cut_markdown(text: str, room: int) -> str:
    """`text` cut to about `room` characters at a line's end, an open fenced block closed.

    Bodies are built inert (reviewer.core.inert): a code span never spans lines, so a cut at
    a line's end cannot leave half a span, whose text would then be live markdown.
    """
    kept = text[:room]
    if len(kept) < len(text):
        kept = kept[: kept.rfind("\n") + 1] if "\n" in kept else ""
    fence: str | None = None
    for line in kept.split("\n"):
        opened = _FENCE_LINE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None and line.rstrip() == fence:  # ours: longer than any run inside
            fence = None
    return kept if fence is None else f"{kept.rstrip(chr(10))}\n{fence}\n"


def comment_payload(comment: InlineComment) -> dict[str, Any]:
    """One item of a review's `comments[]`: `line`/`side`, never the legacy `position`."""
    payload: dict[str, Any] = {
        "path": comment.path,
        "body": clip(comment.body),
        "line": comment.line,
        "side": str(comment.side),
    }
    if comment.start_line is not None and comment.start_line != comment.line:
        payload["start_line"] = comment.start_line
        payload["start_side"] = str(comment.start_side or comment.side)
    return payload


def review_body(draft: ReviewDraft, marker_key: bytes) -> dict[str, Any]:
    """The body of `POST /repos/{o}/{r}/pulls/{n}/reviews` for one draft.

    The summary carries a hidden review marker (see `review_key`), MAC'd under `marker_key`,
    so that, before retrying a post that failed ambiguously, the client can tell whether
    GitHub created it anyway, and a later run where the last review stopped.
    """
    marker = review_marker(review_key(draft), marker_key)
    summary = clip(draft.body, BODY_LIMIT - len(marker) - 2)
    return {
        "commit_id": draft.commit_id,
        "event": draft.event,
        "body": f"{summary}\n\n{marker}",
        "comments": [comment_payload(c) for c in draft.comments],
    }


def probe_body(commit_id: str, comments: Sequence[InlineComment]) -> dict[str, Any]:
    """A PENDING review (no `event`) used only to test whether GitHub accepts `comments`.

    A pending review is visible to its author alone and sends no notification; the client
    deletes it at once.
    """
    return {
        "commit_id": commit_id,
        "body": PROBE_MARKER,
        "comments": [comment_payload(c) for c in comments],
    }


def moved_comment_text(comment: InlineComment) -> str:
    """One finding that GitHub refused inline, as a list item of the review body."""
    where = f"{code(comment.path)} line {comment.line}"
    if comment.start_line is not None and comment.start_line != comment.line:
        where = f"{code(comment.path)} lines {comment.start_line}-{comment.line}"
    if comment.side == "LEFT":
        where += " (removed code)"
    text = clip(comment.body, MOVED_COMMENT_LIMIT)
    indented = "\n".join(f"  {ln}" if ln else "" for ln in text.split("\n"))
    return f"- {where}:\n{indented}"


def with_moved_comments(
    draft: ReviewDraft, keep: Sequence[InlineComment], moved: Sequence[InlineComment]
) -> tuple[ReviewDraft, list[str]]:
    """The draft with `moved` taken out of the inline comments and listed in the body.

    Returns the new draft and the overflow: sections that did not fit the body's size
    limit, to post as follow-up issue comments so that no finding is lost.
    """
    if not moved:
        return replace(draft, comments=tuple(keep)), []
    items = [moved_comment_text(c) for c in moved]
    # Room for the marker review_body appends and the "N more are listed" line.
    room = BODY_LIMIT - len(review_marker("0" * 16, b"")) - 100 - len(draft.body)
    body, overflow = _pack(draft.body, items, room)
    return replace(draft, body=body, comments=tuple(keep)), overflow


def _pack(summary: str, items: Sequence[str], room: int) -> tuple[str, list[str]]:
    """Put as many items as fit in `room` after the summary; the rest go to overflow sections."""
    heading = f"\n\n{MOVED_HEADING}\nGitHub refused these as inline comments:\n"
    continued = f"{MOVED_HEADING} (continued)\n"
    first: list[str] = []
    rest: list[list[str]] = []
    used = len(heading)
    rest_used = 0
    for item in items:
        if not rest and used + len(item) + 1 <= room:
            first.append(item)
            used += len(item) + 1
            continue
        if not rest or rest_used + len(item) + 1 > BODY_LIMIT - len(continued):
            rest.append([])
            rest_used = len(continued)
        rest[-1].append(item)
        rest_used += len(item) + 1
    body = summary + heading + "\n".join(first)
    if rest:
        body += f"\n\n{sum(map(len, rest))} more are listed in the comments below this review."
    return body, [continued + "\n".join(section) for section in rest]


def issue_comment_body(body: str) -> dict[str, Any]:
    """The body of `POST /repos/{o}/{r}/issues/{n}/comments`."""
    return {"body": clip(body)}


def reaction_body(content: str) -> dict[str, Any]:
    """The body of `POST .../issues/comments/{id}/reactions`; unknown contents are refused."""
    if content not in REACTIONS:
        raise ValueError(f"GitHub has no reaction {content!r}")
    return {"content": content}
