"""Findings over time: what a re-review remembers, reports and cleans up, through ports.

Before the model runs, `recall` reads the pull request's findings (FindingStore) and the
bot's threads (ThreadActions): a finding a person dismissed (a "false positive" or "won't
fix" reply, a 👎, the thread resolved without a code change) is marked dismissed and never
raised again on that code. `account` then tells new, still open, fixed and dismissed apart
for the summary, and once the review is posted `remember` records the new findings with
their comment and thread ids and resolves the bot's threads of fixed ones (never a thread
where a person has the last word).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from reviewer.config.schema import ConversationOptions
from reviewer.core.anchoring import AnchorResult, InlineComment, sanitize
from reviewer.core.lifecycle import (
    RESOLVED_UNCHANGED,
    FindingRecord,
    History,
    dismissal,
    person_has_last_word,
    settle,
    thread_fingerprints,
)
from reviewer.core.threads import ReviewThread
from reviewer.errors import GitHubError
from reviewer.model import ConversationResult, ReviewRequest, ReviewTarget
from reviewer.review.ports import FindingStore, PullRequests, ReviewServices, ThreadActions

log = logging.getLogger(__name__)


@dataclass
class Memory:
    """What was known about a pull request's findings before this review."""

    repo: str
    number: int
    bot: str
    key: bytes  # the MAC key of the bot's hidden markers
    records: list[FindingRecord]
    threads: dict[str, ReviewThread]  # the bot's threads, by fingerprint
    dismissed_now: list[FindingRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def dismissed(self) -> frozenset[str]:
        """Fingerprints never to raise again on this pull request."""
        return frozenset(r.fingerprint for r in self.records if r.status == "dismissed")


class FollowUp:
    """One review's view of its pull request's findings: before, and after it is posted."""

    def __init__(
        self,
        memory: Memory,
        store: FindingStore,
        threads: ThreadActions,
        options: ConversationOptions,
    ) -> None:
        self.memory, self.store, self.threads, self.options = memory, store, threads, options

    @property
    def dismissed(self) -> frozenset[str]:
        """Fingerprints a person dismissed on this pull request: never raised again."""
        return self.memory.dismissed

    def account(self, anchored: AnchorResult) -> History:
        return account(self.memory, anchored)

    def remember(self, past: History, *, posted: Sequence[InlineComment], commit_sha: str) -> None:
        remember(
            self.memory, past, self.store, self.threads,
            posted=posted, commit_sha=commit_sha, options=self.options,
        )  # fmt: skip


def follow_up(
    request: ReviewRequest,
    services: ReviewServices,
    target: ReviewTarget,
    gh: PullRequests | None,
    options: ConversationOptions,
) -> FollowUp | None:
    """The pull request's findings before a review that will be posted (None otherwise)."""
    if gh is None or target.pr_number is None or not request.post:
        return None
    repo, number = target.repo, target.pr_number
    store, threads = services.findings(), gh.threads(repo, number)
    memory = recall(store, threads, repo, number, gh.bot_login(), services.marker_key)
    target.notes.extend(memory.notes)
    return FollowUp(memory, store, threads, options)


@dataclass(frozen=True)
class ThreadEvent:
    """A review thread was resolved or unresolved (`pull_request_review_thread`)."""

    repo: str
    pr_number: int
    action: str  # resolved | unresolved
    installation_id: int | None = None


def follow_thread(event: ThreadEvent, services: ReviewServices) -> ConversationResult:
    """Record what a person's resolving (a dismissal) or unresolving (reopened) means."""
    gh = services.pull_requests(event.installation_id)
    repo, number = event.repo, event.pr_number
    store, threads = services.findings(), gh.threads(repo, number)
    memory = recall(store, threads, repo, number, gh.bot_login(), services.marker_key)
    if event.action != "unresolved":
        changed = len(memory.dismissed_now)
        return ConversationResult("dismissed" if changed else "ignored", f"{changed} dismissed")
    reopened = [
        dataclasses.replace(r, status="open", status_by=None, reason=None)
        for r in memory.records
        if r.status == "dismissed"
        and r.reason == RESOLVED_UNCHANGED
        and (t := memory.threads.get(r.fingerprint)) is not None
        and not t.is_resolved
    ]
    store.save(reopened)
    return ConversationResult("ignored", f"{len(reopened)} reopened")


def recall(
    store: FindingStore, threads: ThreadActions, repo: str, number: int, bot: str, key: bytes
) -> Memory:
    """Read the findings and the bot's threads; record what people dismissed since."""
    records = {r.fingerprint: r for r in store.for_pull(repo, number)}
    memory = Memory(repo, number, bot, key, [], {})
    try:
        listed = threads.all()
    except GitHubError as exc:  # no GraphQL (permissions, an outage): review without history
        log.warning("could not list review threads: %s", exc.message)
        memory.notes.append("Review threads could not be read: findings were not followed up.")
        memory.records = list(records.values())
        return memory
    changed: list[FindingRecord] = []
    for thread in listed:
        for fp in thread_fingerprints(thread, bot, key):
            memory.threads[fp] = thread
            record = records.get(fp)
            if record is None:  # posted before findings were recorded: adopt it as open
                record = FindingRecord(
                    repository=repo, pr_number=number, fingerprint=fp, path=thread.path,
                    line=thread.line, commit_sha="", title="",
                    comment_id=thread.first.comment_id if thread.first else None,
                    thread_id=thread.thread_id,
                )  # fmt: skip
                records[fp] = record
                changed.append(record)
            if record.status != "open" or thread.first is None:
                continue
            who = dismissal(thread, bot, threads.thumbs_down(thread.first.comment_id))
            if who is not None:
                record = dataclasses.replace(
                    record, status="dismissed", status_by=who[0], reason=who[1]
                )
                records[fp] = record
                changed.append(record)
                memory.dismissed_now.append(record)
    store.save(changed)
    memory.records = list(records.values())
    return memory


def account(memory: Memory, anchored: AnchorResult) -> History:
    """New, still open, fixed and newly dismissed findings, for the summary."""
    known = {r.fingerprint for r in memory.records}
    raised = {c.fingerprint for c in anchored.comments} | set(anchored.repeated)
    still_open, fixed = settle(memory.records, memory.threads, raised=raised, bot=memory.bot)
    new = tuple(_record(memory, c, "") for c in anchored.comments if c.fingerprint not in known)
    return History(new, tuple(still_open), tuple(fixed), tuple(memory.dismissed_now))


def history_sections(history: History) -> list[tuple[str, list[str]]]:
    """Summary sections listing what was fixed and dismissed since the last review."""
    return [
        ("Fixed since the last review", [_item(r) for r in history.fixed]),
        (
            "Dismissed (not raised again on this code)",
            [f"{_item(r)}: {r.status_by} {r.reason}" for r in history.dismissed],
        ),
    ]


def remember(
    memory: Memory,
    history: History,
    store: FindingStore,
    threads: ThreadActions,
    *,
    posted: Sequence[InlineComment],
    commit_sha: str,
    options: ConversationOptions,
) -> None:
    """After the review is posted: record new findings and close the bot's fixed threads."""
    ids: dict[str, ReviewThread] = {}
    if posted:
        try:
            for thread in threads.all():
                for fp in thread_fingerprints(thread, memory.bot, memory.key):
                    ids[fp] = thread
        except GitHubError as exc:
            log.warning("could not list review threads after posting: %s", exc.message)
    rows = [_record(memory, c, commit_sha, ids.get(c.fingerprint)) for c in posted]
    known = {r.fingerprint for r in memory.records}
    rows = [r for r in rows if r.fingerprint not in known]
    for record in history.fixed:
        rows.append(record)
        old = memory.threads.get(record.fingerprint)
        if old is None or old.is_resolved or not options.resolve_fixed:
            continue
        if person_has_last_word(old, memory.bot):
            continue  # a person is still talking there: theirs to close
        try:
            threads.resolve(old.thread_id)
            if options.minimize_fixed and old.first is not None:
                threads.minimize(old.first.node_id)
        except GitHubError as exc:
            log.warning("could not resolve a fixed finding's thread: %s", exc.message)
    store.save(rows)


def _record(
    memory: Memory, comment: InlineComment, commit_sha: str, thread: ReviewThread | None = None
) -> FindingRecord:
    return FindingRecord(
        repository=memory.repo,
        pr_number=memory.number,
        fingerprint=comment.fingerprint,
        path=comment.path,
        line=comment.line,
        commit_sha=commit_sha,
        title=comment.finding.title,
        comment_id=thread.first.comment_id if thread and thread.first else None,
        thread_id=thread.thread_id if thread else None,
    )


def _item(record: FindingRecord) -> str:
    path = record.path.replace("`", "'")
    where = f"`{path}`" + (f" line {record.line}" if record.line else "")
    return f"{where}: {sanitize(record.title)}" if record.title else where
