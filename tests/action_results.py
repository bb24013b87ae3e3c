"""Review results and GITHUB_OUTPUT parsing shared by the Action's tests."""

from __future__ import annotations

from decimal import Decimal

from reviewer.core.anchoring import InlineComment
from reviewer.core.findings import Finding, Severity
from reviewer.core.lines import Side
from reviewer.core.reports import ChunkReport, FileReport
from reviewer.model import ReviewResult

REPO = "Codertocat/Hello-World"
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def finding(severity: Severity, path: str = "README.md", line: int = 1) -> Finding:
    return Finding(
        path=path,
        line=line,
        severity=severity,
        category="bug",
        title=f"A {severity.value} problem",
        body="Explain it.",
    )


def comment(f: Finding) -> InlineComment:
    return InlineComment(
        path=f.path,
        line=f.line,
        side=Side.RIGHT,
        body=f.body,
        severity=f.severity,
        fingerprint="0" * 16,
        finding=f,
    )


def reviewed_result(*inline: Severity, unanchored: tuple[Severity, ...] = ()) -> ReviewResult:
    return ReviewResult(
        status="reviewed",
        model="claude-sonnet-4-6",
        head_sha=HEAD_SHA,
        files=(
            FileReport("README.md", "modified", True, None, 3, 1),
            FileReport("package-lock.json", "modified", False, "lockfile", 900, 850),
        ),
        chunks=(ChunkReport(0, ("README.md",), 1200, "ok", "end_turn"),),
        comments=tuple(comment(finding(s, line=i + 1)) for i, s in enumerate(inline)),
        unanchored=tuple(finding(s, line=99) for s in unanchored),
        usage={"input_tokens": 1500, "output_tokens": 300, "cache_read_input_tokens": 0},
        cost_usd=Decimal("0.0123"),
        review_id=80,
        review_url=f"https://github.com/{REPO}/pull/2#pullrequestreview-80",
    )


def parse_github_output(text: str) -> dict[str, str]:
    """Read a GITHUB_OUTPUT file the way the runner does (`k=v` lines and heredocs)."""
    values: dict[str, str] = {}
    lines = iter(text.split("\n"))
    for line in lines:
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals != -1 and (heredoc == -1 or equals < heredoc):
            name, value = line.split("=", 1)
            values[name] = value
            continue
        name, delimiter = line.split("<<", 1)
        body = []
        for part in lines:
            if part == delimiter:
                break
            body.append(part)
        else:
            raise AssertionError(f"no closing delimiter for {name}")
        values[name] = "\n".join(body)
    return values
