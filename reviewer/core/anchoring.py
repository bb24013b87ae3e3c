"""Anchor findings to lines really in the diff, merge duplicates, order and cap comments."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from reviewer.core import markers
from reviewer.core.diff import PullRequestDiff
from reviewer.core.findings import Finding, Severity
from reviewer.core.inert import inert, inert_line
from reviewer.core.lines import Side

# Finds the fingerprint in a marker (MAC'd or not); trust it only through markers.trusted_values.
FINGERPRINT_RE = re.compile(r"<!-- reviewer:fp=([0-9a-f]{16})(?:\.[0-9a-f]{32})? -->")
MAX_BODY_CHARS = 65_536


def fingerprint_marker(fingerprint: str, key: bytes) -> str:
    """The hidden HTML comment that lets a re-review recognise its own earlier comment."""
    return markers.marker(key, markers.FINGERPRINT, fingerprint)


@dataclass(frozen=True)
class InlineComment:
    """One inline comment, ready for GitHub: `body` already carries the fingerprint marker."""

    path: str
    line: int
    side: Side
    body: str
    severity: Severity
    fingerprint: str
    finding: Finding
    start_line: int | None = None
    start_side: Side | None = None


@dataclass(frozen=True)
class ReviewDraft:
    """The one review to post: summary body, inline comments, event, reviewed head SHA."""

    commit_id: str
    body: str
    comments: tuple[InlineComment, ...]
    event: Literal["COMMENT", "REQUEST_CHANGES"] = "COMMENT"
    # Summary sections that did not fit GitHub's body limit, posted as comments right after
    # the review: a long list is continued there, never cut.
    followups: tuple[str, ...] = ()
    # Idempotency key: the delivery that asked. A rerun of the same delivery (a worker killed
    # after posting) finds this review by its marker instead of posting another.
    key: str | None = None


def fingerprint(path: str, finding: Finding, code: str) -> str:
    """Hash of what was said and of the code it was said on (not of its line number),
    so the same finding on unchanged code is recognised after lines move."""
    normalized_code = " ".join(code.split())
    key = "\x1f".join((path, finding.category, finding.title.strip().lower(), normalized_code))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class AnchorResult:
    """Findings sorted into what goes inline and what only the summary lists."""

    comments: tuple[InlineComment, ...]
    unanchored: tuple[Finding, ...]  # cite a line that is not in the diff
    overflow: tuple[InlineComment, ...]  # anchored, but past the comment cap
    below_threshold: tuple[Finding, ...]  # under the configured min severity
    already_posted: int  # same finding on the same code, said by an earlier review
    merged: int  # duplicates folded into another finding
    low_confidence: tuple[Finding, ...] = ()  # under the configured min confidence
    repeated: tuple[str, ...] = ()  # fingerprints of the findings not repeated (known)


def anchor(
    findings: Sequence[Finding],
    diff: PullRequestDiff,
    *,
    max_comments: int = 30,
    min_severity: Severity = Severity.NIT,
    min_confidence: float = 0.0,
    suggestions: bool = True,
    known_fingerprints: Collection[str] = frozenset(),
    marker_key: bytes | None = None,
) -> AnchorResult:
    """Place each finding on a commentable line of `diff`, or keep it as unanchored.

    Each comment body ends with its fingerprint marker, MAC'd under `marker_key` (None, for a
    review that posts nothing: no marker).

    Only a finding at or above both `min_severity` and `min_confidence` is posted inline;
    the others are kept for the summary. A line that is not in the diff (read-only context
    included) is never commented on: its finding is unanchored.
    """
    lines = _line_index(diff)
    unanchored: list[Finding] = []
    below: list[Finding] = []
    unsure: list[Finding] = []
    placed: dict[tuple[str, Side, int, str], InlineComment] = {}
    merged = 0
    already = 0
    repeated: list[str] = []
    for finding in findings:
        path = _normalize_path(finding.path, diff)
        side = Side(finding.side)
        if path is None or (path, side, finding.line) not in lines:
            unanchored.append(finding)
            continue
        if not finding.severity.at_least(min_severity):
            below.append(finding)
            continue
        if finding.confidence < min_confidence:
            unsure.append(finding)
            continue
        hunk_id, code = lines[(path, side, finding.line)]
        start = _valid_start(finding, path, side, hunk_id, lines)
        if path != finding.path or start != finding.start_line:
            finding = finding.model_copy(update={"path": path, "start_line": start})
        fp = fingerprint(path, finding, code)
        if fp in known_fingerprints:
            already += 1
            repeated.append(fp)
            continue
        key = (path, side, finding.line, " ".join(finding.title.lower().split()))
        existing = placed.get(key)
        if existing is not None:
            merged += 1
            if finding.severity.rank >= existing.severity.rank:
                continue
        placed[key] = _comment(finding, side, fp, suggestions=suggestions, marker_key=marker_key)
    ordered = sorted(placed.values(), key=lambda c: (c.severity.rank, c.path, c.line))
    return AnchorResult(
        comments=tuple(ordered[:max_comments]),
        unanchored=tuple(unanchored),
        overflow=tuple(ordered[max_comments:]),
        below_threshold=tuple(below),
        already_posted=already,
        merged=merged,
        low_confidence=tuple(unsure),
        repeated=tuple(repeated),
    )


def _line_index(diff: PullRequestDiff) -> dict[tuple[str, Side, int], tuple[int, str]]:
    """Map every commentable (path, side, line) to (hunk id, the code on that line)."""
    index: dict[tuple[str, Side, int], tuple[int, str]] = {}
    hunk_id = 0
    for f in diff.files:
        for hunk in f.hunks:
            hunk_id += 1
            for ln in hunk.lines:
                index[(f.path, ln.side, ln.line)] = (hunk_id, ln.text)
    return index


def _normalize_path(cited: str, diff: PullRequestDiff) -> str | None:
    """Accept the paths models tend to cite: 'b/x.py', './x.py', '/x.py' for 'x.py'."""
    if diff.file(cited) is not None:
        return cited
    candidate = cited.strip()
    for prefix in ("a/", "b/", "./", "/"):
        if candidate.startswith(prefix) and diff.file(candidate[len(prefix) :]) is not None:
            return candidate[len(prefix) :]
    return None


def _valid_start(
    finding: Finding,
    path: str,
    side: Side,
    hunk_id: int,
    lines: dict[tuple[str, Side, int], tuple[int, str]],
) -> int | None:
    """Keep start_line only when the whole range lies in the same hunk on the same side."""
    start = finding.start_line
    if start is None or start >= finding.line:
        return None
    for number in range(start, finding.line):
        entry = lines.get((path, side, number))
        if entry is None or entry[0] != hunk_id:
            return None
    return start


def _comment(
    finding: Finding, side: Side, fp: str, *, suggestions: bool, marker_key: bytes | None
) -> InlineComment:
    suggest = suggestions and side is Side.RIGHT
    return InlineComment(
        path=finding.path,
        line=finding.line,
        side=side,
        body=comment_body(finding, fp, suggestions=suggest, marker_key=marker_key),
        severity=finding.severity,
        fingerprint=fp,
        finding=finding,
        start_line=finding.start_line,
        start_side=side if finding.start_line is not None else None,
    )


def sanitize(text: str) -> str:
    """Model text made inert (see reviewer.core.inert)."""
    return inert(text)


def comment_body(
    finding: Finding, fp: str, *, suggestions: bool, marker_key: bytes | None = None
) -> str:
    """Markdown of one inline comment, always under GitHub's 65,536-character limit.

    The only ```suggestion block is built here, from the finding's `suggestion` field; the
    title and body are inert (a fence in them never becomes a one-click suggestion).
    """
    title = inert_line(finding.title)
    heading = f"**{finding.severity.value}** · {inert_line(finding.category)} · {title}"
    marker = "" if marker_key is None else fingerprint_marker(fp, marker_key)
    block = ""
    if suggestions and finding.suggestion is not None:
        fence = "`" * max(3, _longest_backtick_run(finding.suggestion) + 1)
        block = f"\n\n{fence}suggestion\n{finding.suggestion.rstrip(chr(10))}\n{fence}"
    room = MAX_BODY_CHARS - len(heading) - len(block) - len(marker) - 64
    text = finding.body
    if room < 0:  # a suggestion too large to post: say so rather than truncate code
        block, room = "\n\n_(suggested change too large to show)_", MAX_BODY_CHARS // 2
    text = _inert_within(text, room)
    tail = f"\n\n{marker}" if marker else ""
    return f"{heading}\n\n{text}{block}{tail}"


def _inert_within(text: str, room: int) -> str:
    """`inert(text)`, cutting `text` (never the rendering: that could open a code span)."""
    rendered = inert(text)
    while len(rendered) > room:
        text = text[: max(0, len(text) * room // len(rendered) - 16)]
        rendered = inert(text + "… (truncated)")
    return rendered


def _longest_backtick_run(text: str) -> int:
    runs = re.findall(r"`+", text)
    return max((len(r) for r in runs), default=0)
