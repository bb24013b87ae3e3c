"""Anchor findings to lines really in the diff, merge duplicates, order and cap comments."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from reviewer.diff import Side
from reviewer.findings import Finding, Severity

FINGERPRINT_RE = re.compile(r"<!-- reviewer:fp=([0-9a-f]{16}) -->")
MAX_BODY_CHARS = 65_536


def fingerprint_marker(fingerprint: str) -> str:
    """The hidden HTML comment that lets a re-review recognise its own earlier comment."""
    return f"<!-- reviewer:fp={fingerprint} -->"


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


def fingerprint(path: str, finding: Finding, code: str) -> str:
    """Hash of what was said and of the code it was said on (not of its line number),
    so the same finding on unchanged code is recognised after lines move."""
    normalized_code = " ".join(code.split())
    key = "\x1f".join((path, finding.category, finding.title.strip().lower(), normalized_code))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
