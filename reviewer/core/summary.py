"""Build the review's summary body: findings, what was not reviewed and why, and the cost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from reviewer.core.anchoring import MAX_BODY_CHARS, AnchorResult
from reviewer.core.findings import Finding, Severity
from reviewer.core.inert import code, inert_line
from reviewer.core.reports import ChunkReport, FileReport
from reviewer.core.text import format_usd

# Room left in the review body for what the GitHub adapter appends (refused comments, marker).
BODY_BUDGET = MAX_BODY_CHARS - 8_192
FOLLOWUP_BUDGET = MAX_BODY_CHARS - 1_024
MAX_ITEM_CHARS = 4_000


@dataclass(frozen=True)
class Summary:
    """The review body, and the sections that did not fit it (posted as follow-up comments)."""

    body: str
    followups: tuple[str, ...] = ()


def plural(count: int, noun: str) -> str:
    """`1 chunk`, `2 chunks`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


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
    batch_usd: tuple[Decimal | None, Decimal] | None = None,
    history: str = "",
    history_sections: Sequence[tuple[str, list[str]]] = (),
) -> Summary:
    """Markdown for the review body; every finding is listed, in the body or a follow-up."""
    reviewed = [f for f in files if f.reviewed]
    skipped = [f for f in files if not f.reviewed]
    shown = [c.finding for c in anchored.comments]
    elsewhere = list(anchored.unanchored) + [c.finding for c in anchored.overflow]
    lesser = list(anchored.below_threshold) + list(anchored.low_confidence)
    everything = shown + elsewhere + lesser

    title = "new findings" if rereview else "findings"
    head = [f"### Claude review: {len(everything)} {title} ({severity_counts(everything)})", ""]
    line = (
        f"Reviewed {len(reviewed)} of {plural(len(files), 'file')} in "
        f"{plural(len(chunks), 'chunk')} with {code(model)}."
    )
    if cost_usd is not None:
        line += f" Cost {format_usd(cost_usd)}"
        if month_to_date_usd is not None:
            line += f"; this repository this month: {format_usd(month_to_date_usd)}"
        line += "."
    head.append(line)
    if batch_usd is not None:
        spent, realtime = batch_usd
        head.append(
            f"Reviewed in batch mode: {format_usd(spent or Decimal(0))} "
            f"(real time: {format_usd(realtime)})."
        )
    if rereview or anchored.already_posted:
        head.append(
            f"{anchored.already_posted} finding(s) already reported on unchanged code "
            "were not repeated."
        )
    if history:
        head.append(history)
    if budget_stop:
        head += ["", f"> **Budget reached:** {inert_line(budget_stop)}"]
    head += [f"> {inert_line(n)}" for n in notes]
    if dropped:
        head += ["", f"{dropped} malformed finding(s) from the model were discarded."]

    problems = [c for c in chunks if c.status not in ("ok", "planned")]
    if budget_stop:  # said once above, not again for every chunk the budget stopped
        problems = [replace(c, error=None) if c.error == budget_stop else c for c in problems]
    sections = [
        ("Findings outside the diff", [_finding_item(f) for f in anchored.unanchored]),
        (
            "More findings (over the inline comment limit)",
            [_finding_item(c.finding) for c in anchored.overflow],
        ),
        (
            "Lesser findings (below the configured minimum severity)",
            [_finding_item(f) for f in anchored.below_threshold],
        ),
        (
            "Less certain findings (below the configured minimum confidence)",
            [_finding_item(f) for f in anchored.low_confidence],
        ),
        ("Parts not fully reviewed", [_chunk_item(c) for c in problems]),
        ("Files not reviewed", [f"{code(f.path)}: {inert_line(f.reason or '')}" for f in skipped]),
        *history_sections,
    ]
    return _pack("\n".join(head), sections, config_details)


def _pack(head: str, sections: list[tuple[str, list[str]]], details: str) -> Summary:
    """Fill the body section by section; items that do not fit continue in follow-ups."""
    body = head
    followups: list[list[str]] = []
    for heading, items in sections:
        if not items:
            continue
        opening = f"\n\n<details><summary><b>{heading}</b> ({len(items)})</summary>\n\n"
        closing = "\n\n</details>"
        kept: list[str] = []
        size = len(body) + len(opening) + len(closing) + 120
        for index, item in enumerate(items):
            if followups or size + len(item) + 3 > BODY_BUDGET:
                _spill(followups, heading, items[index:])
                break
            kept.append(f"- {item}")
            size += len(item) + 3
        if kept:
            body += opening + "\n".join(kept) + closing
        if len(kept) < len(items):
            body += f"\n\n{len(items) - len(kept)} more under “{heading}” in the comments below."
    if details and len(body) + len(details) + 2 <= BODY_BUDGET:
        body += "\n\n" + details
    texts = tuple("\n".join(section) for section in followups)
    return Summary(body=body.rstrip() + "\n", followups=texts)


def _spill(followups: list[list[str]], heading: str, items: list[str]) -> None:
    """Append `items` to follow-up comments, each under GitHub's body limit."""
    title = f"**{heading}** (continued)"
    for item in items:
        entry = f"- {item}"
        current = followups[-1] if followups else None
        if current is None or sum(len(x) + 1 for x in current) + len(entry) > FOLLOWUP_BUDGET:
            followups.append([title])
        elif current[0] != title and not any(x == title for x in current):
            current.append(title)
        followups[-1].append(entry)


def _chunk_item(c: ChunkReport) -> str:
    files = ", ".join(code(p) for p in c.files)
    error = f" — {inert_line(c.error)}" if c.error else ""
    status = f"{c.status} ({c.refusal_category})" if c.refusal_category else c.status
    return f"chunk {c.index + 1} ({files}): {status}{error}"


def _finding_item(f: Finding) -> str:
    where = code(f"{f.path}:{f.start_line}-{f.line}" if f.start_line else f"{f.path}:{f.line}")
    body = inert_line(f.body, MAX_ITEM_CHARS)
    sure = f" (confidence {f.confidence:.2f})" if f.confidence < 1 else ""
    return f"{where} **{f.severity.value}**{sure} {inert_line(f.title)} — {body}"
