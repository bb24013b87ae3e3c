"""Fault matrix: every API fault, end to end through run_review, loses nothing and doubles nothing.

Each case reviews one six-chunk pull request (one file per chunk) through the real engine, the
real Anthropic SDK against the fake Messages API, and PyGithub against the fake GitHub, with a
fault injected at one step (or several at once). Every case then checks the same invariants:

- every valid finding the model delivered is posted exactly once: inline, in the review body,
  or in a follow-up comment (counted by its unique title across everything GitHub holds);
- nothing is posted twice: at most one submitted review, no probe review left pending;
- the ledger equals the sum of the usages the fake server billed, and holds one row per HTTP
  attempt it served (failed, dropped and timed-out attempts included). An answer sent after
  the client stopped waiting is billed but never seen: its row has no tokens, and the check
  subtracts its usage (a known limit of any client-side ledger);
- a review that could not complete says so: the summary names each failed chunk, or
  run_review raises a retryable ReviewerError with nothing posted (the job queue's retries and
  its failure note take over: tests/test_jobs.py), or the result is skipped for a newer head.

A worker killed mid-job is covered by the App's tests:
tests/test_jobs.py::test_a_worker_killed_mid_job_loses_nothing.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from reviewer.errors import RemoteError, ReviewerError
from reviewer.model import ReviewRequest, ReviewResult
from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from tests.fakes.github_api import FakeGitHub, file_item
from tests.fakes.messages_server import (
    FAKE_API_KEY,
    USAGE_KEYS,
    Answer,
    FakeMessages,
    drop_answer,
    error_answer,
    findings_answer,
    message_answer,
    refusal_answer,
)
from tests.services import review_with

REPO = "octo/app"
NUMBER = 7
HEAD = "a" * 40
BASE = "b" * 40
FILES = 6
HUNKS = 2
# Small enough that each file is a chunk of its own, large enough for a whole file.
MAX_CHUNK_TOKENS = 200
# Only the timeout cases set this short timeout: a loaded machine must not time out others.
SHORT_TIMEOUT = {"request_timeout_s": 1.0}
SERVER_STALL_S = 2.5  # past the short timeout
NORMAL_USAGE = {
    "input_tokens": 180,
    "output_tokens": 120,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 3100,
}
CUT_JSON = '{"findings": [{"path": "src/mod_2.py", "line": 2, "side": "RIGH'
_FILE_RE = re.compile(r"^FILE: src/mod_(\d+)\.py$", re.MULTILINE)
_TITLE_RE = re.compile(r"FM-\d-\d(?:-OUT)?|FM-INVALID")


def _path(i: int) -> str:
    return f"src/mod_{i}.py"


def _patch(i: int) -> str:
    """Two hunks, each adding two lines (see _added_line) and removing one."""
    lines: list[str] = []
    for h in range(HUNKS):
        start = 1 + 40 * h
        lines.append(f"@@ -{start},3 +{start + h},4 @@ def f{h}():")
        lines += [
            f" ctx_{i}_{h} = 1",
            f"-old_{i}_{h} = compute({h})",
            f"+new_{i}_{h} = compute({h}, safe=True)",
            f"+extra_{i}_{h} = check(new_{i}_{h})",
            f" tail_{i}_{h} = 2",
        ]
    return "\n".join(lines)


def _added_line(h: int) -> int:
    """The new-side number of hunk `h`'s first added line."""
    return 2 + 41 * h


def _finding(i: int, h: int) -> dict[str, Any]:
    return {
        "path": _path(i),
        "line": _added_line(h),
        "side": "RIGHT",
        "severity": "major",
        "category": "bug",
        "title": f"FM-{i}-{h}",
        "body": f"The call in hunk {h} of file {i} ignores its result.",
    }


def _outside(i: int) -> dict[str, Any]:
    """A finding on a line that is not in the diff: it belongs in the review body."""
    return _finding(i, 0) | {"line": 90, "title": f"FM-{i}-0-OUT", "severity": "minor"}


INVALID = {"path": "src/mod_3.py", "line": 3, "title": "FM-INVALID"}  # no severity, no body


class Script:
    """The model's side: a normal answer per chunk, with faults for some files.

    A normal answer holds one finding per hunk present in the request (so the halves of a
    split chunk answer for their own hunks); file 0 adds one finding outside the diff and
    file 3 one malformed finding. `delivered` collects the titles of valid findings in
    answers the client received; `lost_usage` the usage of answers served after the client
    had given up waiting; `fired` counts the faulty answers per file.
    """

    def __init__(self, faults: Mapping[int, Fault] | None = None) -> None:
        self.faults = dict(faults or {})
        self.delivered: set[str] = set()
        self.lost_usage: dict[str, int] = dict.fromkeys(USAGE_KEYS, 0)
        self.attempts: Counter[int] = Counter()
        self.fired: Counter[int] = Counter()
        self.on_request: Callable[[], None] | None = None
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Answer:
        text = "".join(
            block.get("text", "")
            for message in body.get("messages", [])
            for block in message.get("content", [])
        )
        match = _FILE_RE.search(text)
        assert match is not None, "every chunk names its file"
        i = int(match.group(1))
        with self.lock:
            self.attempts[i] += 1
            attempt = self.attempts[i]
        if self.on_request is not None:
            self.on_request()
        fault = self.faults.get(i)
        answer = fault(self, attempt, body) if fault is not None else None
        if answer is not None:
            with self.lock:
                self.fired[i] += 1
            return answer
        findings = [_finding(i, h) for h in range(HUNKS) if f"new_{i}_{h} " in text]
        if i == 0 and "new_0_0 " in text:
            findings.append(_outside(0))
        if i == 3:
            findings.append(INVALID)
        with self.lock:
            self.delivered.update(f["title"] for f in findings if f is not INVALID)
        return findings_answer(findings, usage=NORMAL_USAGE)


# (script, attempt number of this file from 1, request body) → a faulty answer, or None
Fault = Callable[[Script, int, dict[str, Any]], Answer | None]


def first(answer: Answer, times: int = 1) -> Fault:
    return lambda _script, attempt, _body: answer if attempt <= times else None


def always(answer: Answer) -> Fault:
    return lambda _script, _attempt, _body: answer


def stall(times: int = 1) -> Fault:
    """Answer (and bill) only after the client's timeout, the first `times` attempts."""

    def fault(script: Script, attempt: int, _body: dict[str, Any]) -> Answer | None:
        if attempt > times:
            return None
        time.sleep(SERVER_STALL_S)
        with script.lock:
            for key in USAGE_KEYS:
                script.lost_usage[key] += NORMAL_USAGE[key]
        return findings_answer([], usage=NORMAL_USAGE)

    return fault


def refuse_unless(model: str) -> Fault:
    """Refuse every call except those made with `model` (the fallback)."""
    return lambda _script, _attempt, body: None if body["model"] == model else refusal_answer()


MAX_TOKENS = message_answer(CUT_JSON, stop_reason="max_tokens", usage={"output_tokens": 4096})
NOT_JSON = message_answer("Here are my findings: none.", usage=NORMAL_USAGE)
RETRY_AFTER_1S = {"retry-after": "1"}
FALLBACK = "claude-haiku-4-5"


@dataclass(frozen=True)
class Case:
    """One row of the matrix: what breaks, and what the PR must show for it."""

    claude: Mapping[int, Fault] = field(default_factory=dict)  # file index → its fault
    github: Callable[[FakeGitHub], None] | None = None
    failed_chunks: Mapping[int, str] = field(default_factory=dict)  # index → status named
    outcome: str = "posted"  # posted | retryable | skipped
    dropped: int = 1  # malformed findings (file 3 always adds one)
    settings: Mapping[str, Any] = field(default_factory=dict)
    sleeps: tuple[float, ...] = ()  # GitHub rate-limit waits the client must have taken
    push_mid_review: bool = False  # the head moves while the model is reading
    moved: bool = False  # GitHub refuses one inline comment: it must land in the body


def _reject(gh: FakeGitHub) -> None:
    gh.reject_line(REPO, NUMBER, _path(3), _added_line(1))


def _rate_limit(retry_after: int | None) -> Callable[[FakeGitHub], None]:
    return lambda gh: gh.rate_limit_next(
        "POST", rf"/pulls/{NUMBER}/reviews$", retry_after=retry_after
    )


def _created_then_502(gh: FakeGitHub) -> None:
    gh.fail_next("POST", rf"/pulls/{NUMBER}/reviews$", 502, perform=True)


def _reject_and_created_then_502(gh: FakeGitHub) -> None:
    _reject(gh)
    _created_then_502(gh)


def _files_502(times: int) -> Callable[[FakeGitHub], None]:
    return lambda gh: gh.fail_next("GET", rf"/pulls/{NUMBER}/files$", 502, times=times)


def _comment_cap(gh: FakeGitHub) -> None:
    gh.add_content(REPO, ".github/reviewer.yml", BASE, "output:\n  max_comments: 3\n")
    gh.reject_line(REPO, NUMBER, _path(0), _added_line(0))  # one of the three inline


CASES: dict[str, Case] = {
    "no-fault": Case(),
    "claude-429-retry-after": Case(claude={1: first(error_answer(429, headers=RETRY_AFTER_1S))}),
    "claude-429-retry-after-past-cap": Case(
        claude={1: always(error_answer(429, headers={"retry-after": "120"}))},
        failed_chunks={1: "error"},
    ),
    "claude-529-once": Case(claude={2: first(error_answer(529))}),
    "claude-529-past-retries": Case(
        claude={2: always(error_answer(529))}, failed_chunks={2: "error"}
    ),
    "claude-529-every-chunk": Case(
        claude={i: always(error_answer(529)) for i in range(FILES)}, outcome="retryable", dropped=0
    ),
    "claude-500-once": Case(claude={4: first(error_answer(500))}),
    "claude-500-past-retries": Case(
        claude={4: always(error_answer(500))}, failed_chunks={4: "error"}
    ),
    "claude-timeout-once": Case(claude={1: stall()}, settings=SHORT_TIMEOUT),
    "claude-timeout-past-retries": Case(
        claude={1: stall(times=3)}, failed_chunks={1: "error"}, settings=SHORT_TIMEOUT
    ),
    "claude-drop-once": Case(claude={5: first(drop_answer())}),
    "claude-drop-past-retries": Case(claude={5: always(drop_answer())}, failed_chunks={5: "error"}),
    "claude-max-tokens-once": Case(claude={2: first(MAX_TOKENS)}),
    "claude-max-tokens-always": Case(
        claude={2: always(MAX_TOKENS)}, failed_chunks={2: "truncated"}
    ),
    "claude-refusal": Case(claude={4: always(refusal_answer())}, failed_chunks={4: "refused"}),
    "claude-refusal-then-fallback-model": Case(
        claude={4: refuse_unless(FALLBACK)}, settings={"fallback_model": FALLBACK}
    ),
    "claude-not-json": Case(claude={1: always(NOT_JSON)}, failed_chunks={1: "error"}),
    "claude-one-invalid-finding-among-valid": Case(),  # file 3's answer always carries one
    "github-502-fetching-files-once": Case(github=_files_502(1)),
    "github-502-fetching-files-always": Case(
        github=_files_502(100), outcome="retryable", dropped=0
    ),
    "github-422-one-comment": Case(github=_reject, moved=True),
    "github-422-one-comment-past-the-comment-cap": Case(github=_comment_cap, moved=True),
    "github-403-secondary-rate-limit-on-post": Case(github=_rate_limit(30), sleeps=(30.0,)),
    "github-403-secondary-rate-limit-no-retry-after": Case(
        github=_rate_limit(None), sleeps=(60.0,)
    ),
    "github-502-after-review-created": Case(github=_created_then_502),
    "head-moved-mid-review": Case(outcome="skipped", push_mid_review=True),
    "everything-at-once": Case(
        claude={
            0: first(error_answer(429, headers=RETRY_AFTER_1S)),
            1: first(drop_answer()),
            2: first(MAX_TOKENS),
            3: stall(),
            4: always(refusal_answer()),
            5: first(error_answer(529), times=2),
        },
        github=_reject_and_created_then_502,
        failed_chunks={4: "refused"},
        moved=True,
        settings=SHORT_TIMEOUT,
    ),
}


@pytest.fixture(scope="module")
def claude_server() -> Iterator[HTTPServer]:
    """A threaded loopback server, as the real API serves calls concurrently: a stalled
    answer must not hold up (and time out) the other chunks' calls. One per module: stopping
    a server takes up to half a second."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_claude(claude_server: HTTPServer) -> Iterator[FakeMessages]:
    """The fake Messages API of one test, on the module's server."""
    claude_server.clear()
    try:
        yield FakeMessages(claude_server)
        claude_server.check_assertions()
        claude_server.check_handler_errors()
    finally:
        claude_server.clear()


@pytest.fixture
def settings(fake_github: FakeGitHub, fake_claude: FakeMessages) -> Settings:
    return fake_github.settings(
        anthropic_api_key=FAKE_API_KEY,
        anthropic_base_url=fake_claude.base_url,
        max_retries=2,
        request_timeout_s=10.0,
        max_retry_after_s=5.0,
        max_chunk_tokens=MAX_CHUNK_TOKENS,
    )


def _ledger(settings: Settings) -> tuple[int, dict[str, int]]:
    ledger = Ledger.open(settings.ledger_url)
    try:
        rows = ledger.report(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    finally:
        ledger.close()
    return sum(r.calls for r in rows), {k: sum(getattr(r, k) for r in rows) for k in USAGE_KEYS}


def _wait_until_served(fake: FakeMessages) -> None:
    """A stalled handler finishes after the client gave up: wait for its answer to count."""
    deadline = time.monotonic() + 10
    while len(fake.served) < len(fake.requests) and time.monotonic() < deadline:
        time.sleep(0.05)


def _posted_texts(gh: FakeGitHub) -> list[str]:
    """Everything GitHub shows on the PR: submitted reviews, their comments, PR comments."""
    pull = gh.repo(REPO).pulls[NUMBER]
    texts = [r["body"] for r in pull.reviews if r["state"] != "PENDING"]
    texts += [c["body"] for c in pull.review_comments]
    texts += [c["body"] for c in pull.issue_comments]
    return texts


def _titles(texts: list[str]) -> list[str]:
    return [title for text in texts for title in _TITLE_RE.findall(text)]


def _review(request: ReviewRequest, settings: Settings) -> ReviewResult | ReviewerError:
    try:
        return review_with(request, settings)
    except ReviewerError as exc:
        return exc


@pytest.mark.parametrize("name", list(CASES))
def test_fault_loses_nothing_and_posts_nothing_twice(
    name: str, fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    case = CASES[name]
    fake_github.add_pull(
        REPO, NUMBER, files=[file_item(_path(i), patch=_patch(i)) for i in range(FILES)]
    )
    script = Script(case.claude)
    if case.push_mid_review:

        def push() -> None:
            if fake_github.repo(REPO).pulls[NUMBER].data["head"]["sha"] == HEAD:
                files = [file_item(_path(i), patch=_patch(i)) for i in range(FILES)]
                fake_github.push(REPO, NUMBER, "c" * 40, files)

        script.on_request = push
    fake_claude.responder = script
    fake_claude.default = None
    if case.github is not None:
        case.github(fake_github)
    armed = [fault.times for fault in fake_github.faults]
    if case.settings:
        settings = settings.replace(**case.settings)
    request = ReviewRequest(REPO, NUMBER, trigger="auto", expected_head_sha=HEAD)

    outcome = _review(request, settings)
    _wait_until_served(fake_claude)

    # The faults really happened.
    assert all(script.fired[i] for i in case.claude), script.fired
    assert all(f.times < n for f, n in zip(fake_github.faults, armed, strict=True))
    assert all(wait in fake_github.sleeps for wait in case.sleeps), fake_github.sleeps

    # Spend: one ledger row per HTTP attempt served, and exactly the tokens billed.
    calls, totals = _ledger(settings)
    billed = fake_claude.usage_totals()
    assert calls == len(fake_claude.requests) == len(fake_claude.served)
    assert totals == {k: billed[k] - script.lost_usage[k] for k in USAGE_KEYS}

    pull = fake_github.repo(REPO).pulls[NUMBER]
    assert not [r for r in pull.reviews if r["state"] == "PENDING"], "a probe was left behind"
    submitted = [r for r in pull.reviews if r["state"] != "PENDING"]
    if case.outcome == "retryable":
        assert isinstance(outcome, RemoteError) and outcome.retryable, outcome
        assert submitted == [] and pull.issue_comments == []
        return
    assert isinstance(outcome, ReviewResult), outcome
    if case.outcome == "skipped":
        assert outcome.status == "skipped" and "head moved" in (outcome.reason or "")
        assert submitted == [] and pull.issue_comments == []
        return

    assert outcome.status == "reviewed"
    [review] = submitted
    assert review["commit_id"] == HEAD and outcome.review_id == review["id"]
    titles = _titles(_posted_texts(fake_github))
    assert sorted(titles) == sorted(script.delivered), "each valid finding exactly once"
    assert "FM-INVALID" not in titles
    assert ("GitHub refused these as inline comments" in review["body"]) == case.moved
    if case.dropped:
        assert (
            f"{case.dropped} malformed finding(s) from the model were discarded" in (review["body"])
        )
    for index, status in case.failed_chunks.items():
        assert f"chunk {index + 1} (`{_path(index)}`): {status}" in review["body"]
    named = re.findall(r"^- chunk (\d+) ", review["body"], re.MULTILINE)
    assert sorted(int(n) - 1 for n in named) == sorted(case.failed_chunks)
    assert [c.status for c in outcome.chunks if c.status != "ok"] == [
        case.failed_chunks[i] for i in sorted(case.failed_chunks)
    ]


def test_a_job_retried_after_every_chunk_was_overloaded_posts_once(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    fake_github.add_pull(
        REPO, NUMBER, files=[file_item(_path(i), patch=_patch(i)) for i in range(FILES)]
    )
    request = ReviewRequest(REPO, NUMBER, trigger="auto", expected_head_sha=HEAD)
    fake_claude.default = error_answer(529)
    failed = _review(request, settings)
    assert isinstance(failed, RemoteError) and failed.retryable

    script = Script()
    fake_claude.default = None
    fake_claude.responder = script
    second = _review(request, settings)  # the job queue's retry
    assert isinstance(second, ReviewResult) and second.status == "reviewed"
    third = _review(request, settings)  # a duplicate delivery of the same job
    assert isinstance(third, ReviewResult) and third.status == "skipped"

    assert len(fake_github.reviews(REPO, NUMBER)) == 1
    assert sorted(_titles(_posted_texts(fake_github))) == sorted(script.delivered)
    calls, totals = _ledger(settings)
    assert calls == len(fake_claude.requests)
    assert totals == fake_claude.usage_totals()


def test_a_review_post_that_keeps_failing_is_retryable_and_the_retry_posts_once(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    fake_github.add_pull(
        REPO, NUMBER, files=[file_item(_path(i), patch=_patch(i)) for i in range(FILES)]
    )
    script = Script()
    fake_claude.responder = script
    fake_github.fail_next("POST", rf"/pulls/{NUMBER}/reviews$", 502, times=3)
    request = ReviewRequest(REPO, NUMBER, trigger="auto", expected_head_sha=HEAD)

    failed = _review(request, settings)
    assert isinstance(failed, RemoteError) and failed.retryable
    assert fake_github.reviews(REPO, NUMBER) == []
    retried = _review(request, settings)
    assert isinstance(retried, ReviewResult) and retried.status == "reviewed"

    assert len(fake_github.reviews(REPO, NUMBER)) == 1
    assert sorted(_titles(_posted_texts(fake_github))) == sorted(script.delivered)
    calls, totals = _ledger(settings)
    assert calls == len(fake_claude.requests)
    assert totals == fake_claude.usage_totals()


def test_the_matrix_pull_request_needs_one_chunk_per_file(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    fake_github.add_pull(
        REPO, NUMBER, files=[file_item(_path(i), patch=_patch(i)) for i in range(FILES)]
    )
    result = review_with(ReviewRequest(REPO, NUMBER, dry_run=True), settings)
    assert [c.files for c in result.chunks] == [(_path(i),) for i in range(FILES)]


@pytest.mark.parametrize("kind", ["outside-the-diff", "over-the-comment-cap"])
def test_every_finding_is_posted_when_there_are_many(
    kind: str, fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    fake_github.add_pull(
        REPO, NUMBER, files=[file_item(_path(i), patch=_patch(i)) for i in range(FILES)]
    )
    many: list[dict[str, Any]] = []
    for n in range(15):  # 15 per file, 90 in all
        finding = _finding(0, n % HUNKS) | {"title": f"FM-MANY-{n:02d}"}
        if kind == "outside-the-diff":
            finding["line"] = 100 + n
        many.append(finding)

    def answer(body: dict[str, Any]) -> Answer:
        text = json.dumps(body["messages"])
        [i] = {int(m) for m in re.findall(r"FILE: src/mod_(\d+)\.py", text)}
        return findings_answer([f | {"path": _path(i), "title": f"{f['title']}-{i}"} for f in many])

    fake_claude.responder = answer
    result = review_with(ReviewRequest(REPO, NUMBER, trigger="auto"), settings)
    assert result.status == "reviewed"

    posted = "\n".join(_posted_texts(fake_github))
    titles = re.findall(r"FM-MANY-\d\d-\d", posted)
    assert len(titles) == len(set(titles)) == 6 * len(many)
