"""Render what the Action reports: the job summary and the step outputs."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence

from reviewer.core.findings import Severity
from reviewer.core.inert import inert_line
from reviewer.core.text import format_usd, usd_digits
from reviewer.model import ReviewResult

OUTPUT_NAMES = ("findings", "comments-posted", "cost-usd")
MAX_ROWS = 100  # per table of the job summary
SUMMARY_LIMIT = 1024 * 1024  # GitHub refuses a step summary over 1 MiB


def format_outputs(values: Mapping[str, str]) -> str:
    """Text to append to GITHUB_OUTPUT: `name=value`, or a heredoc for multi-line values."""
    parts = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            parts.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            parts.append(f"{name}={value}\n")
    return "".join(parts)


def was_posted(result: ReviewResult) -> bool:
    """True when the engine posted a review on the pull request."""
    return result.status == "reviewed" and result.review_id is not None


def comments_posted(result: ReviewResult) -> int:
    """Inline comments that stayed inline (GitHub refused some anchors: those went to the body)."""
    if not was_posted(result):
        return 0
    moved = result.extra.get("moved_to_body", 0)
    return max(0, len(result.comments) - (moved if isinstance(moved, int) else 0))


def result_outputs(result: ReviewResult | None) -> dict[str, str]:
    """The Action's outputs: findings and comments posted, and what the review cost."""
    if result is None:
        return {"findings": "0", "comments-posted": "0", "cost-usd": "0"}
    return {
        "findings": str(len(result.findings) if was_posted(result) else 0),
        "comments-posted": str(comments_posted(result)),
        "cost-usd": usd_digits(result.cost_usd, places=6),
    }


def _budget_or(error: str | None, result: ReviewResult) -> str | None:
    """A chunk's error, but "budget" where it repeats the budget sentence said above."""
    return "budget" if error and error == result.budget_stop else error


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell of the job summary (inert: reviewer.core.inert)."""
    return inert_line(text).replace("|", "\\|")


def _details(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return []
    out = [f"<details><summary>{title} ({len(rows)})</summary>", ""]
    out += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"\n… and {len(rows) - MAX_ROWS} more")
    return [*out, "", "</details>", ""]


def render_summary(result: ReviewResult, *, repo: str, pr_number: int, pr_url: str) -> str:
    """Markdown for GITHUB_STEP_SUMMARY: files, findings by severity, tokens and cost."""
    findings = result.findings
    out = [f"## Claude review of [{repo}#{pr_number}]({pr_url})", ""]
    if was_posted(result):
        link = f" ([review]({result.review_url}))" if result.review_url else ""
        out.append(
            f"**Reviewed**: {len(findings)} finding(s) posted, "
            f"{comments_posted(result)} as inline comments{link}."
        )
    elif result.status == "reviewed":
        out.append(f"**Reviewed, not posted**: {len(findings)} finding(s).")
    elif result.status == "budget_exhausted":
        out.append("**Not reviewed**: the budget stopped every chunk before it was sent.")
    else:
        status = result.status.replace("_", " ").capitalize()
        out.append(f"**{status}**: {inert_line(result.reason or '')}")
    if result.budget_stop:
        out.append(f"\n> **Budget reached:** {_cell(result.budget_stop)}")
    out.append("")

    inline = Counter(c.finding.severity for c in result.comments)
    body = Counter(f.severity for f in result.unanchored)
    out += ["### Findings by severity", "", "| Severity | Inline | In the review body |"]
    out += ["| --- | ---: | ---: |"]
    out += [f"| {s.value} | {inline[s]} | {body[s]} |" for s in Severity]
    out.append("")
    ordered = sorted(findings, key=lambda f: (f.severity.rank, f.path, f.line))
    out += _details(
        "Findings",
        ("Severity", "Where", "Finding"),
        [(f.severity.value, f"{f.path}:{f.line}", f.title) for f in ordered],
    )

    reviewed = [f for f in result.files if f.reviewed]
    skipped = [f for f in result.files if not f.reviewed]
    out += ["### Files", "", f"{len(reviewed)} reviewed, {len(skipped)} not reviewed.", ""]
    out += _details(
        "Reviewed",
        ("File", "Status", "+", "−"),
        [(f.path, f.status, str(f.added), str(f.removed)) for f in reviewed],
    )
    out += _details(
        "Not reviewed", ("File", "Why"), [(f.path, f.reason or f.status) for f in skipped]
    )
    problems = [c for c in result.chunks if c.status not in ("ok", "planned")]
    out += _details(
        "Chunks not fully reviewed",
        ("Chunk", "Status", "Detail"),
        [
            (str(c.index + 1), c.status, _budget_or(c.error, result) or c.stop_reason or "")
            for c in problems
        ],
    )

    out += ["### Tokens and cost", "", "| | |", "| --- | ---: |"]
    out += [f"| {_cell(name)} | {count:,} |" for name, count in sorted(result.usage.items())]
    out.append(f"| cost | {format_usd(result.cost_usd)} |")
    if result.month_to_date_usd is not None:
        out.append(f"| this repository this month | {format_usd(result.month_to_date_usd)} |")
    if result.model:
        out += ["", f"Model: `{result.model}`."]
    text = "\n".join(out).rstrip() + "\n"
    if len(text.encode("utf-8")) > SUMMARY_LIMIT:
        text = text.encode("utf-8")[: SUMMARY_LIMIT - 100].decode("utf-8", errors="ignore")
        text = text.rsplit("\n", 1)[0] + "\n\n… (summary truncated)\n"
    return text


def render_notice(message: str) -> str:
    """Markdown for a job summary that explains why nothing was reviewed."""
    return f"## Claude review\n\n{message}\n"
