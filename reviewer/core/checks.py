"""The result of one `reviewer doctor` check, and how a list of them is summed up and redacted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[str, ...] = get_args(Status)
REDACTED = "[redacted]"
# Shorter values are not redacted: replacing "abc" everywhere would garble the report, and a
# secret that short is reported as too weak by the settings checks anyway.
MIN_REDACTED_LENGTH = 6


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what was found and, unless ok, what to do."""

    name: str  # dotted, group first: "anthropic.key", "github.installation.octo"
    status: Status
    found: str
    fix: str | None = None

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "status": self.status,
            "found": self.found,
            "fix": self.fix,
        }


def ok(name: str, found: str) -> Check:
    return Check(name, "ok", found)


def warn(name: str, found: str, fix: str | None = None) -> Check:
    return Check(name, "warn", found, fix)


def fail(name: str, found: str, fix: str | None = None) -> Check:
    return Check(name, "fail", found, fix)


def skip(name: str, found: str) -> Check:
    return Check(name, "skip", found)


def counts(checks: Iterable[Check]) -> dict[str, int]:
    """How many checks ended in each status (every status present, zero or not)."""
    found: Counter[str] = Counter(c.status for c in checks)
    return {status: found.get(status, 0) for status in STATUSES}


def exit_code(checks: Iterable[Check]) -> int:
    """0 when no check failed (warnings included), else 1."""
    return 1 if any(c.status == "fail" for c in checks) else 0


def secret_fragments(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """The strings to hide: each secret whole, and each long line of a multi-line one (a PEM)."""
    found: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        for piece in (secret, secret.strip(), *secret.splitlines()):
            piece = piece.strip()
            if len(piece) >= MIN_REDACTED_LENGTH and not piece.startswith("-----"):
                found.add(piece)
    # Longest first, so a secret that contains another is hidden whole.
    return tuple(sorted(found, key=len, reverse=True))


def redact(text: str, fragments: Sequence[str]) -> str:
    """`text` with every fragment replaced by a marker."""
    for fragment in fragments:
        text = text.replace(fragment, REDACTED)
    return text


def redact_check(check: Check, fragments: Sequence[str]) -> Check:
    fix = redact(check.fix, fragments) if check.fix is not None else None
    return Check(check.name, check.status, redact(check.found, fragments), fix)
