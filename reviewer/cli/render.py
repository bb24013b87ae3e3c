"""Render a ReviewResult for the terminal: readable text or the documented JSON contract."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from reviewer.core import sarif
from reviewer.core.summary import plural, severity_counts
from reviewer.core.text import format_usd, usd_digits
from reviewer.model import ReviewResult


def to_json(result: ReviewResult) -> dict[str, Any]:
    """The JSON contract scripts depend on (README, "Output contract")."""
    out: dict[str, Any] = {
        "status": result.status,
        "files": [
            {
                "path": f.path,
                "status": f.status,
                "reviewed": f.reviewed,
                "reason": f.reason,
                "added": f.added,
                "removed": f.removed,
            }
            for f in result.files
        ],
    }
    if result.reason:
        out["reason"] = result.reason
    if result.status == "submitted":
        out["batch_job"] = result.extra.get("batch_job")
        out["batch_id"] = result.extra.get("batch_id")
    if result.status == "dry_run":
        out["chunks"] = [
            {"index": c.index, "files": list(c.files), "estimated_input_tokens": c.tokens}
            for c in result.chunks
        ]
        out["estimate"] = {
            "model": result.model,
            "input_tokens": result.estimated_input_tokens,
            "cost_usd": _usd(result.estimated_cost_usd),
        }
        if "context" in result.extra:
            out["context"] = result.extra["context"]
        return out
    out["comments"] = [
        {
            "path": c.path,
            "line": c.line,
            "side": c.side.value,
            "start_line": c.start_line,
            "start_side": c.start_side.value if c.start_side else None,
            "severity": c.severity.value,
            "category": c.finding.category,
            "title": c.finding.title,
            "body": c.finding.body,
        }
        for c in result.comments
    ]
    out["unanchored"] = [
        {
            "path": f.path,
            "line": f.line,
            "severity": f.severity.value,
            "title": f.title,
            "body": f.body,
        }
        for f in result.unanchored
    ]
    out["chunks"] = [
        {"index": c.index, "status": c.status, "stop_reason": c.stop_reason}
        | ({"refusal_category": c.refusal_category} if c.status == "refused" else {})
        for c in result.chunks
    ]
    out["usage"] = dict(result.usage)
    out["cost_usd"] = _usd(result.cost_usd)
    if result.budget_stop:
        out["budget_stop"] = result.budget_stop
    if result.review_url:
        out["review_url"] = result.review_url
    return out


def render_json(result: ReviewResult) -> str:
    return json.dumps(to_json(result), indent=2, ensure_ascii=False)


def render_text(result: ReviewResult) -> str:
    """What a person reads: files and why, chunks, then findings or the estimate."""
    lines: list[str] = []
    reviewed = sum(f.reviewed for f in result.files)
    if result.status in ("skipped", "refused", "failed", "submitted"):
        return f"{result.status}: {result.reason}\n"
    title = "Dry run" if result.status == "dry_run" else "Review"
    lines.append(
        f"{title}: {len(result.files)} files, {reviewed} to review, "
        f"{len(result.files) - reviewed} skipped; {plural(len(result.chunks), 'chunk')}; "
        f"model {result.model}"
    )
    lines.append("")
    lines.append("Files")
    width = max((len(f.path) for f in result.files), default=10)
    for f in result.files:
        mark = "review" if f.reviewed else "skip  "
        why = "" if f.reviewed else f"  ({f.reason})"
        lines.append(f"  {mark}  {f.path:<{width}}  {f.status:<9} +{f.added} -{f.removed}{why}")
    lines.append("")
    lines.append("Chunks")
    for c in result.chunks:
        state = "" if c.status == "planned" else f"  [{c.status}]"
        lines.append(f"  #{c.index + 1}  ~{c.tokens:,} tokens  {', '.join(c.files)}{state}")
    lines.append("")
    if result.status == "dry_run":
        lines.append(
            f"Estimate: ~{result.estimated_input_tokens:,} input tokens, "
            f"~{format_usd(result.estimated_cost_usd)} with {result.model} "
            "(no model was called)"
        )
        context = result.extra.get("context")
        if context:
            lines.append(
                f"Context ({context['mode']}): {context['lines']:,} read-only lines, "
                f"~{context['tokens']:,} tokens, {context['tokens_per_changed_line']} tokens "
                f"per changed line"
            )
        for note in result.extra.get("notes", []):
            lines.append(f"Note: {note}")
        return "\n".join(lines) + "\n"
    findings = result.findings
    lines.append(f"Findings: {len(findings)} ({severity_counts(findings)})")
    for comment in result.comments:
        where = f"{comment.path}:{comment.line}"
        if comment.start_line:
            where = f"{comment.path}:{comment.start_line}-{comment.line}"
        lines.append(
            f"  {comment.severity.value:<8} {where} ({comment.side.value})  {comment.finding.title}"
        )
        lines += [f"           {row}" for row in comment.finding.body.splitlines()[:6]]
    # `unanchored` ends with the findings past the comment cap (extra["over_cap"] of them):
    # those are in the diff, only not posted inline.
    over_cap = int(result.extra.get("over_cap", 0))
    first_over_cap = len(result.unanchored) - over_cap
    for n, finding in enumerate(result.unanchored):
        where = "past the comment cap" if n >= first_over_cap else "not in the diff"
        lines.append(
            f"  {finding.severity.value:<8} {finding.path}:{finding.line} ({where})  "
            f"{finding.title}"
        )
    if result.budget_stop:
        lines.append(f"Budget reached: {result.budget_stop}")
    # The budget's sentence is said once above, not again for every chunk it stopped.
    stopped = [c for c in result.chunks if c.status == "skipped" and c.error == result.budget_stop]
    if stopped:
        lines.append(f"  {plural(len(stopped), 'chunk')} not reviewed because of the budget")
    problems = [c for c in result.chunks if c.status != "ok" and c not in stopped]
    for c in problems:
        lines.append(f"  chunk #{c.index + 1}: {c.status} {c.error or ''}".rstrip())
    usage = result.usage
    lines.append("")
    lines.append(
        f"Cost {format_usd(result.cost_usd)}: {usage.get('input_tokens', 0):,} input, "
        f"{usage.get('cache_creation_input_tokens', 0):,} cache write, "
        f"{usage.get('cache_read_input_tokens', 0):,} cache read, "
        f"{usage.get('output_tokens', 0):,} output tokens"
    )
    if result.review_url:
        lines.append(f"Posted: {result.review_url}")
    return "\n".join(lines) + "\n"


def to_sarif(result: ReviewResult, *, tool_version: str) -> dict[str, Any]:
    """The review as a SARIF 2.1.0 log for code scanning; what was not reviewed, as notes."""
    notes: list[str] = []
    if result.status == "dry_run":
        notes.append("Dry run: no model was called, so there are no results.")
    elif result.reason:
        notes.append(f"{result.status}: {result.reason}")
    if result.budget_stop:
        notes.append(f"Budget reached: {result.budget_stop}")
    for c in result.chunks:
        if c.status not in ("ok", "planned"):
            why = f": {c.error}" if c.error else ""
            notes.append(f"Not reviewed ({c.status}{why}): {', '.join(c.files)}")
    log = sarif.build_sarif(
        result.comments,
        result.unanchored,
        tool_version=tool_version,
        notes=notes,
        successful=result.status in ("reviewed", "dry_run", "skipped"),
    )
    return log


def render_sarif(result: ReviewResult) -> str:
    from importlib.metadata import version

    return sarif.to_json(to_sarif(result, tool_version=version("reviewer"))) + "\n"


def _usd(amount: Decimal) -> float:
    """A JSON number of dollars, to the micro-dollar."""
    return float(usd_digits(amount, places=6))
