"""SARIF 2.1.0 for GitHub code scanning, built from a review's findings (plain data in and out)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any, get_args

from reviewer.core.anchoring import InlineComment, fingerprint
from reviewer.core.findings import Category, Finding, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "reviewer"
# GitHub code scanning keeps at most 5,000 results per run and refuses an upload over 10 MB
# once gzipped (docs: "SARIF support for code scanning", upload limits).
MAX_RESULTS = 5_000
MAX_GZIP_BYTES = 10 * 1024 * 1024
LEVEL = 6  # zlib's default, as upload-sarif compresses (level 9 would count a little less)
# One result's message; a longer body is cut (the review comment keeps the whole text).
MAX_MESSAGE_CHARS = 20_000
FINGERPRINT_KEY = "reviewerFinding/v1"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.MAJOR: "error",
    Severity.MINOR: "warning",
    Severity.NIT: "note",
}
CATEGORIES: tuple[str, ...] = get_args(Category)
_RULE_TEXT = {
    "bug": "Code that does not do what it intends.",
    "security": "A weakness an attacker could use.",
    "performance": "Work that costs more time or memory than it needs.",
    "concurrency": "Races, deadlocks and unsafe sharing between threads or processes.",
    "error-handling": "Failures that are lost, hidden or handled wrongly.",
    "api-misuse": "A library or service used against its contract.",
    "maintainability": "Code that will be hard to change safely.",
    "tests": "Tests that are missing, wrong or cannot fail.",
    "docs": "Documentation that is missing, wrong or out of date.",
    "style": "Naming, layout and idiom.",
}


def rule_id(category: str) -> str:
    return f"{TOOL_NAME}/{category}"


def build_sarif(
    comments: Sequence[InlineComment],
    unanchored: Sequence[Finding] = (),
    *,
    tool_version: str = "0",
    notes: Sequence[str] = (),
    successful: bool = True,
    max_results: int = MAX_RESULTS,
    max_gzip_bytes: int = MAX_GZIP_BYTES,
) -> dict[str, Any]:
    """Return one SARIF 2.1.0 log (a JSON-able dict) with one run for these findings.

    Results are ordered most severe first; past `max_results`, or past `max_gzip_bytes` once
    gzipped, the least severe are left out and the run says so (its `properties` and a
    notification). A finding on a removed line is left out: SARIF describes the head commit,
    where that line no longer exists. `notes` become notifications (budget stops, files not
    reviewed); `successful` false marks a run that could not review.
    """
    pairs = [(c.finding, c.fingerprint) for c in comments]
    # A finding that cites no diff line has no code to hash; its path and wording identify it.
    pairs += [(f, fingerprint(f.path, f, "")) for f in unanchored]
    removed = [f for f, _ in pairs if f.side == "LEFT"]
    kept = sorted(
        ((f, fp) for f, fp in pairs if f.side == "RIGHT"),
        key=lambda pair: (pair[0].severity.rank, pair[0].path, pair[0].line),
    )
    results = [_result(f, fp) for f, fp in kept]
    notifications = [_notification("note", text) for text in notes]
    if removed:
        notifications.append(
            _notification(
                "note",
                f"{len(removed)} finding(s) on removed lines are not in this file "
                "(they are in the pull request review).",
            )
        )
    total = len(results)
    count = min(total, max_results)

    def log_of(n: int) -> dict[str, Any]:
        return _log(results[:n], tool_version, notifications, successful, total)

    log = log_of(count)
    if not _fits_raw(log, max_gzip_bytes):
        count = _streamed_count(results[:count], log_of(0), max_gzip_bytes)
        log = log_of(count)
    return log


def _log(
    results: list[dict[str, Any]],
    tool_version: str,
    notifications: list[dict[str, Any]],
    successful: bool,
    total: int,
) -> dict[str, Any]:
    notes = list(notifications)
    if len(results) < total:
        notes.append(
            _notification(
                "warning",
                f"{total - len(results)} of {total} results left out, the least severe first, "
                f"to stay within GitHub code scanning's limits ({MAX_RESULTS:,} results per run, "
                f"{MAX_GZIP_BYTES // (1024 * 1024)} MB gzipped).",
            )
        )
    invocation: dict[str, Any] = {"executionSuccessful": successful}
    if notes:
        invocation["toolExecutionNotifications"] = notes
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": tool_version,
                "rules": [_rule(category) for category in CATEGORIES],
            }
        },
        "invocations": [invocation],
        "results": results,
        "properties": {
            "resultsTotal": total,
            "resultsKept": len(results),
            "truncated": len(results) < total,
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _rule(category: str) -> dict[str, Any]:
    text = _RULE_TEXT.get(category, category)
    return {
        "id": rule_id(category),
        "name": "".join(word.capitalize() for word in category.split("-")),
        "shortDescription": {"text": f"Claude review: {category}"},
        "fullDescription": {"text": text},
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["claude-review", category]},
    }


def _result(finding: Finding, fp: str) -> dict[str, Any]:
    body = finding.body
    if len(body) > MAX_MESSAGE_CHARS:
        body = body[:MAX_MESSAGE_CHARS] + "… (truncated)"
    region: dict[str, Any] = {"startLine": finding.start_line or finding.line}
    if finding.start_line is not None and finding.start_line < finding.line:
        region["endLine"] = finding.line
    return {
        "ruleId": rule_id(finding.category),
        "ruleIndex": CATEGORIES.index(finding.category),
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.title}\n\n{body}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri_path(finding.path)},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fp},
        "properties": {"severity": finding.severity.value, "category": finding.category},
    }


_URI_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


def uri_path(path: str) -> str:
    """A repository path as a relative URI reference: reserved and non-ASCII bytes escaped."""
    return "".join(
        char if char in _URI_SAFE else "".join(f"%{b:02X}" for b in char.encode("utf-8"))
        for char in path
    )


def _notification(level: str, text: str) -> dict[str, Any]:
    return {"level": level, "message": {"text": text}}


def to_json(log: dict[str, Any]) -> str:
    """The SARIF file's text: compact UTF-8 JSON (GitHub's limits count bytes)."""
    return json.dumps(log, ensure_ascii=False, separators=(",", ":"))


def _fits_raw(log: dict[str, Any], limit: int) -> bool:
    """True when even uncompressed the log is under `limit` (gzip adds at most this much)."""
    size = len(to_json(log).encode("utf-8"))
    return size + size // 1000 + 64 <= limit


def _streamed_count(results: list[dict[str, Any]], empty: dict[str, Any], limit: int) -> int:
    """How many of `results` fit in `limit` gzipped bytes, in one pass of the compressor.

    The log with no results is cut at its results list and the results are fed in between.
    While the bytes fed since the last flush could not pass the limit even uncompressed, no
    flush is needed; near the limit each result is followed by a sync flush, so the size is
    exact. A flush costs a few bytes and the uncut file compresses at least as well, so the
    count is conservative by at most a result or two.
    """
    text = to_json(empty)
    cut = text.index('"results":[]') + len('"results":[')
    head, tail = text[:cut].encode("utf-8"), text[cut:].encode("utf-8")
    # The tail (the truncation note, the properties) and gzip's trailer, counted raw.
    budget = limit - len(tail) - 64
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
    size = len(packer.compress(head)) + len(packer.flush(zlib.Z_SYNC_FLUSH))
    pending = 0  # bytes fed since the last flush: deflate never makes them much larger
    for index, result in enumerate(results):
        piece = ("," if index else "") + json.dumps(
            result, ensure_ascii=False, separators=(",", ":")
        )
        data = piece.encode("utf-8")
        size += len(packer.compress(data))
        pending += len(data)
        if size + pending + pending // 1000 + 64 > budget:
            size += len(packer.flush(zlib.Z_SYNC_FLUSH))
            pending = 0
            if size > budget:
                return index
    return len(results)
