"""Score review findings against labelled problems: recall, false findings, precision."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from reviewer.core.findings import Finding

# A finding counts for a label when it cites the same file and side within this many lines:
# models often point at the call rather than the argument, or at the line before a loop.
WINDOW = 2

SideName = Literal["RIGHT", "LEFT"]


@dataclass(frozen=True)
class Label:
    """One known problem: the line (or lines `line`..`end_line`) a reviewer should point at,
    and its class."""

    path: str
    line: int
    problem: str
    side: SideName = "RIGHT"
    note: str = ""
    end_line: int | None = None


def distance(finding: Finding, label: Label) -> int | None:
    """Lines between what `finding` cites and `label`; None for another file or side.

    A finding over a range (`start_line`..`line`) is at distance 0 from every line inside it,
    and so is a label over a range from every line inside its own.
    """
    if finding.path != label.path or finding.side != label.side:
        return None
    first = finding.start_line if finding.start_line is not None else finding.line
    low, high = min(first, finding.line), max(first, finding.line)
    label_low = label.line
    label_high = label.end_line if label.end_line is not None else label.line
    if label_high < low:
        return low - label_high
    return max(0, label_low - high)


def matches(finding: Finding, label: Label, window: int = WINDOW) -> bool:
    gap = distance(finding, label)
    return gap is not None and gap <= window


@dataclass(frozen=True)
class CaseScore:
    """How one review of one case went against its labels."""

    case: str
    labels: int
    found: int  # labels with at least one finding within the window
    findings: int
    false_findings: int  # findings within the window of no label
    cost_usd: Decimal = Decimal(0)
    seconds: float = 0.0
    error: str | None = None  # the review did not complete (its findings may be partial)
    missed: tuple[str, ...] = ()  # classes of the labels no finding matched
    found_classes: tuple[str, ...] = ()
    language: str = ""

    @property
    def clean(self) -> bool:
        return self.labels == 0


def score_case(
    case: str,
    labels: Sequence[Label],
    findings: Sequence[Finding],
    *,
    window: int = WINDOW,
    cost_usd: Decimal = Decimal(0),
    seconds: float = 0.0,
    error: str | None = None,
    language: str = "",
) -> CaseScore:
    """Match every finding against every label; a label found twice still counts once."""
    hit = [any(matches(f, label, window) for f in findings) for label in labels]
    false = sum(1 for f in findings if not any(matches(f, label, window) for label in labels))
    return CaseScore(
        case=case,
        labels=len(labels),
        found=sum(hit),
        findings=len(findings),
        false_findings=false,
        cost_usd=cost_usd,
        seconds=seconds,
        error=error,
        missed=tuple(label.problem for label, h in zip(labels, hit, strict=True) if not h),
        found_classes=tuple(label.problem for label, h in zip(labels, hit, strict=True) if h),
        language=language,
    )


@dataclass(frozen=True)
class Summary:
    """The figures of one model in one mode over a whole dataset."""

    model: str
    mode: str
    cases: int
    buggy: int
    clean: int
    labels: int
    found: int
    findings_on_buggy: int
    false_on_buggy: int
    false_on_clean: int
    errors: int
    cost_usd: Decimal
    seconds: float  # wall time of the whole run
    recall_by_class: dict[str, tuple[int, int]]  # class -> (found, labels)
    recall_by_language: dict[str, tuple[int, int]]  # language -> (found, labels)

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        """Share of the findings on buggy changes that point at a labelled problem."""
        if not self.findings_on_buggy:
            return None
        return (self.findings_on_buggy - self.false_on_buggy) / self.findings_on_buggy

    @property
    def false_per_clean(self) -> float | None:
        return self.false_on_clean / self.clean if self.clean else None

    @property
    def cost_per_change(self) -> Decimal:
        return self.cost_usd / self.cases if self.cases else Decimal(0)


def summarize(
    model: str, mode: str, scores: Iterable[CaseScore], *, seconds: float | None = None
) -> Summary:
    """Add up the case scores of one model and mode; `seconds` is the run's wall time when
    cases ran in parallel (else the sum of the cases' times)."""
    items = list(scores)
    buggy = [s for s in items if not s.clean]
    clean = [s for s in items if s.clean]
    by_class: dict[str, tuple[int, int]] = {}
    by_language: dict[str, tuple[int, int]] = {}
    for score in buggy:
        for problem, hit in [(p, 1) for p in score.found_classes] + [(p, 0) for p in score.missed]:
            found, total = by_class.get(problem, (0, 0))
            by_class[problem] = (found + hit, total + 1)
        found, total = by_language.get(score.language, (0, 0))
        by_language[score.language] = (found + score.found, total + score.labels)
    return Summary(
        model=model,
        mode=mode,
        cases=len(items),
        buggy=len(buggy),
        clean=len(clean),
        labels=sum(s.labels for s in buggy),
        found=sum(s.found for s in buggy),
        findings_on_buggy=sum(s.findings for s in buggy),
        false_on_buggy=sum(s.false_findings for s in buggy),
        false_on_clean=sum(s.findings for s in clean),
        errors=sum(1 for s in items if s.error is not None),
        cost_usd=sum((s.cost_usd for s in items), Decimal(0)),
        seconds=sum(s.seconds for s in items) if seconds is None else seconds,
        recall_by_class=dict(sorted(by_class.items())),
        recall_by_language=dict(sorted(by_language.items())),
    )
