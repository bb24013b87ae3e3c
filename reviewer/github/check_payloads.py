"""Build the check-run request bodies (`POST`/`PATCH /repos/{o}/{r}/check-runs`), no I/O.

GitHub takes at most 50 annotations per request and appends the annotations of each update
to the run's list, so a report becomes one body per 50 annotations: the earlier ones only
add annotations, the last one also completes the run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Final

from reviewer.core.anchoring import InlineComment, sanitize
from reviewer.core.findings import Severity
from reviewer.core.lines import Side
from reviewer.github.payloads import delivery_key
from reviewer.model import CheckRunReport

CHECK_NAME: Final = "Claude review"
MAX_ANNOTATIONS: Final = 50  # per create or update request
SUMMARY_LIMIT: Final = 65_535  # characters of output.summary
TITLE_LIMIT: Final = 255  # characters of an annotation's title
MESSAGE_LIMIT: Final = 4_000  # an annotation's message (GitHub allows 64 KB; keep it short)
TRUNCATED: Final = "\n\n*(truncated)*"

LEVELS: Final = {
    Severity.CRITICAL: "failure",
    Severity.MAJOR: "failure",
    Severity.MINOR: "warning",
    Severity.NIT: "notice",
}


def external_id(key: str | None, head_sha: str) -> str:
    """The run's `external_id`: the review key's hash (the delivery that asked), else one
    per head, so a retry of the same review finds its run again."""
    if key is not None:
        return delivery_key(key)
    return hashlib.sha256(f"head\x1f{head_sha}".encode()).hexdigest()[:16]


def create_body(head_sha: str, external: str) -> dict[str, Any]:
    """The run as the review starts: in progress on the reviewed head."""
    return {
        "name": CHECK_NAME,
        "head_sha": head_sha,
        "external_id": external,
        "status": "in_progress",
        "output": {
            "title": "Reviewing",
            "summary": "Claude is reviewing this commit.",
        },
    }


def annotation(comment: InlineComment) -> dict[str, Any]:
    """One finding as an annotation on the head commit's lines."""
    finding = comment.finding
    title = f"{finding.severity.value} · {finding.category} · {sanitize(finding.title)}"
    message = sanitize(finding.body)
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - len(TRUNCATED)] + TRUNCATED
    return {
        "path": comment.path,
        "start_line": comment.start_line or comment.line,
        "end_line": comment.line,
        "annotation_level": LEVELS[comment.severity],
        "title": title[:TITLE_LIMIT],
        "message": message,
    }


def annotatable(comments: Sequence[InlineComment]) -> list[InlineComment]:
    """The comments an annotation can show: those on the head's lines (not removed lines)."""
    return [c for c in comments if c.side is Side.RIGHT]


def complete_bodies(report: CheckRunReport) -> list[dict[str, Any]]:
    """The `PATCH` bodies that finish the run: annotations 50 at a time, then completed."""
    output = {"title": report.title[:TITLE_LIMIT], "summary": _clip(report.summary)}
    notes = [annotation(c) for c in annotatable(report.comments)]
    batches = [notes[i : i + MAX_ANNOTATIONS] for i in range(0, len(notes), MAX_ANNOTATIONS)]
    bodies: list[dict[str, Any]] = [{"output": {**output, "annotations": b}} for b in batches]
    final: dict[str, Any] = {"status": "completed", "conclusion": report.conclusion}
    if bodies:
        final.update(bodies.pop())
    else:
        final["output"] = output
    return [*bodies, final]


def _clip(text: str) -> str:
    text = text or "(no summary)"
    if len(text) <= SUMMARY_LIMIT:
        return text
    return text[: SUMMARY_LIMIT - len(TRUNCATED)] + TRUNCATED
