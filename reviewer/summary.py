"""Build the review's summary body: findings, what was not reviewed and why, and the cost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from reviewer.anchoring import MAX_BODY_CHARS, AnchorResult, sanitize
from reviewer.findings import Finding, Severity
from reviewer.results import ChunkReport, FileReport

MAX_LIST_ITEMS = 50
_BODY_BUDGET = MAX_BODY_CHARS - 4_096  # room left for what the GitHub adapter appends


def format_usd(amount: Decimal) -> str:
    """Dollars with enough places to show a cheap review's cost (4 below a cent)."""
    return f"${amount.quantize(Decimal('0.0001'))}"


def severity_counts(findings: Sequence[Finding]) -> str:
    counts = Counter(f.severity for f in findings)
    parts = [f"{counts[s]} {s.value}" for s in Severity if counts[s]]
    return ", ".join(parts) if parts else "none"


def build_summary(
    *,
    model: str,
    files: Sequence[FileReport],
    chunks: Sequence[ChunkReport],
    anchored: AnchorResult,
    cost_usd: Decimal | None,
    month_to_date_usd: Decimal | None = None,
    budget_stop: str | None = None,
    dropped: int = 0,
    notes: Sequence[str] = (),
    rereview: bool = False,
    config_details: str = "",
) -> str:
    """Markdown for the review body, kept under GitHub's limit by shortening long lists."""
    reviewed = [f for f in files if f.reviewed]
    skipped = [f for f in files if not f.reviewed]
    shown = [c.finding for c in anchored.comments]
    elsewhere = list(anchored.unanchored) + [c.finding for c in anchored.overflow]
    everything = shown + elsewhere + list(anchored.below_threshold)

    title = "new findings" if rereview else "findings"
    out = [f"### Claude review: {len(everything)} {title} ({severity_counts(everything)})", ""]
    line = f"Reviewed {len(reviewed)} of {len(files)} files in {len(chunks)} chunks with `{model}`."
    if cost_usd is not None:
        line += f" Cost {format_usd(cost_usd)}"
        if month_to_date_usd is not None:
            line += f"; this repository this month: {format_usd(month_to_date_usd)}"
        line += "."
    out.append(line)
    if rereview or anchored.already_posted:
        out.append(
            f"{anchored.already_posted} finding(s) already reported on unchanged code "
            "were not repeated."
        )
    if budget_stop:
        out += ["", f"> **Budget reached:** {budget_stop}"]
    out += [f"> {sanitize(n)}" for n in notes]

    out += _section(
        "Findings outside the diff",
        [_finding_item(f) for f in anchored.unanchored],
    )
    out += _section(
        "More findings (over the inline comment limit)",
        [_finding_item(c.finding) for c in anchored.overflow],
    )
    out += _section(
        "Lesser findings (below the configured minimum severity)",
        [_finding_item(f) for f in anchored.below_threshold],
    )
    problems = [c for c in chunks if c.status not in ("ok", "planned")]
    out += _section(
        "Parts not fully reviewed",
        [
            f"chunk {c.index + 1} ({', '.join(f'`{p}`' for p in c.files)}): {c.status}"
            + (f" — {sanitize(c.error)}" if c.error else "")
            for c in problems
        ],
    )
    if dropped:
        out += ["", f"{dropped} malformed finding(s) from the model were discarded."]
    out += _section(
        "Files not reviewed",
        [f"`{f.path}`: {f.reason}" for f in skipped],
    )
    if config_details:
        out += ["", config_details]
    body = "\n".join(out).rstrip() + "\n"
    if len(body) > _BODY_BUDGET:
        body = body[: _BODY_BUDGET - 40].rsplit("\n", 1)[0] + "\n\n… (summary truncated)\n"
    return body


def _section(heading: str, items: list[str]) -> list[str]:
    if not items:
        return []
    lines = ["", f"<details><summary><b>{heading}</b> ({len(items)})</summary>", ""]
    lines += [f"- {item}" for item in items[:MAX_LIST_ITEMS]]
    if len(items) > MAX_LIST_ITEMS:
        lines.append(f"- … and {len(items) - MAX_LIST_ITEMS} more")
    lines += ["", "</details>"]
    return lines


def _finding_item(f: Finding) -> str:
    where = f"`{f.path}:{f.start_line}-{f.line}`" if f.start_line else f"`{f.path}:{f.line}`"
    body = " ".join(sanitize(f.body).split())
    if len(body) > 500:
        body = body[:500] + "…"
    return f"{where} **{f.severity.value}** {sanitize(f.title)} — {body}"
