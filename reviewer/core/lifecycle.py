"""What became of each finding the bot posted: still open, fixed, or dismissed by a person."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from reviewer.core.markers import FINGERPRINT, trusted_values
from reviewer.core.threads import ReviewThread, same_login

# A person saying the finding is wrong, or will not be acted on, anywhere in a reply.
DISMISS_RE = re.compile(
    r"\b(?:false[\s-]*positive|won'?t[\s-]*fix|wontfix|not\s+an?\s+(?:issue|bug|problem))\b",
    re.IGNORECASE,
)


FindingStatus = Literal["open", "fixed", "dismissed"]


@dataclass(frozen=True)
class FindingRecord:
    """One finding the bot posted on a pull request, and what became of it."""

    repository: str
    pr_number: int
    fingerprint: str
    path: str
    line: int | None
    commit_sha: str
    title: str = ""
    comment_id: int | None = None
    thread_id: str | None = None
    status: FindingStatus = "open"
    status_by: str | None = None  # who fixed (the bot saw it) or dismissed it
    reason: str | None = None  # why the status changed, for people


RESOLVED_UNCHANGED = "resolved the thread without a code change"


@dataclass(frozen=True)
class History:
    """A re-review's account of the findings: what is new, still open, fixed, dismissed."""

    new: tuple[FindingRecord, ...] = ()
    still_open: tuple[FindingRecord, ...] = ()
    fixed: tuple[FindingRecord, ...] = ()
    dismissed: tuple[FindingRecord, ...] = ()

    def line(self) -> str:
        """One line for the summary."""
        return (
            f"Since the last review: {len(self.new)} new, {len(self.still_open)} still open, "
            f"{len(self.fixed)} fixed, {len(self.dismissed)} dismissed."
        )


def says_dismiss(text: str) -> bool:
    """Whether a reply says the finding is wrong or will not be fixed."""
    return DISMISS_RE.search(text) is not None


def thread_fingerprints(thread: ReviewThread, bot: str, key: bytes) -> list[str]:
    """The fingerprints the bot's first comment of `thread` carries under a valid MAC (none:
    not its thread, or a marker someone planted)."""
    first = thread.first
    if first is None or not same_login(first.author, bot):
        return []
    return sorted(trusted_values(key, FINGERPRINT, first.body))


def dismissal(
    thread: ReviewThread, bot: str, thumbs_down: Iterable[str] = ()
) -> tuple[str, str] | None:
    """(who, why) when a person dismissed the bot's finding in `thread`, else None.

    A reply saying "false positive" or "won't fix", a 👎 on the finding, or the thread
    resolved by a person while its code is unchanged (GitHub has not marked it outdated).
    Bots and the bot itself never dismiss.
    """
    for comment in thread.comments[1:]:
        if comment.author_is_bot or same_login(comment.author, bot):
            continue
        if says_dismiss(comment.body):
            return comment.author, "replied that the finding is wrong or will not be fixed"
    for login in thumbs_down:
        if not same_login(login, bot) and not login.endswith("[bot]"):
            return login, "reacted 👎 to the finding"
    resolver = thread.resolved_by
    if thread.is_resolved and not thread.is_outdated and resolver and not same_login(resolver, bot):
        return resolver, RESOLVED_UNCHANGED
    return None


def person_has_last_word(thread: ReviewThread, bot: str) -> bool:
    """Whether someone other than the bot wrote the thread's last comment."""
    last = thread.last
    return last is not None and not same_login(last.author, bot)


def settle(
    before: Sequence[FindingRecord],
    threads: dict[str, ReviewThread],
    *,
    raised: Collection[str],
    bot: str,
) -> tuple[list[FindingRecord], list[FindingRecord]]:
    """Split the open findings of `before` into (still open, fixed).

    Fixed: not raised again, and the code it pointed at changed (GitHub marks the thread
    outdated when the lines under it change or leave the diff). A finding not raised again
    on code that did not change stays open: an incremental review did not look at it, and
    the model is no reliable witness of absence.
    """
    still_open: list[FindingRecord] = []
    fixed: list[FindingRecord] = []
    for record in before:
        if record.status != "open":
            continue
        thread = threads.get(record.fingerprint)
        outdated = thread is not None and thread.is_outdated
        if record.fingerprint not in raised and outdated:
            fixed.append(replace(record, status="fixed", status_by=bot, reason="code changed"))
        else:
            still_open.append(record)
    return still_open, fixed
