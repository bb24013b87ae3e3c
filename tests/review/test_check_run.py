"""The "Claude review" check run: bodies field by field against the fake GitHub, a conclusion
for each outcome, annotations 50 per request, and find-before-retry."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reviewer.core.findings import Severity
from reviewer.errors import ClaudeError
from reviewer.github.check_payloads import CHECK_NAME, external_id
from reviewer.github.client import GitHubClient
from reviewer.github.payloads import delivery_key
from reviewer.model import CheckRunReport, ChunkReport, ReviewRequest, ReviewResult
from reviewer.review.check_run import not_reviewed, report, wanted
from reviewer.settings import Settings
from tests.fakes.github_api import FakeGitHub, file_item, inline_comment
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, error_answer, findings_answer
from tests.services import review_with

REPO = "octo/app"
HEAD = "a" * 40
RUNS = f"/repos/{REPO}/check-runs"
PATCH = "\n".join(["@@ -1,2 +1,3 @@", " import os", "+x = eval(input())", " # end"])
FINDING = {
    "path": "app/main.py", "line": 2, "side": "RIGHT", "severity": "major",
    "category": "security", "title": "eval of input", "body": "Never eval user input.",
}  # fmt: skip


@pytest.fixture(scope="module")
def app_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


@pytest.fixture
def settings(fake_github: FakeGitHub, fake_claude: FakeMessages, app_key: str) -> Settings:
    """The App: its key and id; each delivery names installation 1."""
    return fake_github.settings(
        github_token=None,
        github_app_id="4242",
        github_private_key=app_key,
        anthropic_api_key=FAKE_API_KEY,
        anthropic_base_url=fake_claude.base_url,
        max_retries=0,
        request_timeout_s=10.0,
    )


@pytest.fixture
def app_client(fake_github: FakeGitHub, settings: Settings) -> GitHubClient:
    return GitHubClient.from_settings(settings, installation_id=1, sleep=fake_github.sleeps.append)


def pull(fake_github: FakeGitHub, config: str | None = None) -> None:
    fake_github.add_pull(REPO, 7, files=[file_item("app/main.py", patch=PATCH)], head_sha=HEAD)
    if config is not None:
        fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, config)


def app_request(**fields: Any) -> ReviewRequest:
    values: dict[str, Any] = {
        "trigger": "auto", "expected_head_sha": HEAD, "installation_id": 1, "delivery_id": "d-1",
    }  # fmt: skip
    return ReviewRequest(REPO, 7, **{**values, **fields})


def patches(fake_github: FakeGitHub, run_id: int) -> list[Any]:
    return fake_github.bodies("PATCH", f"{RUNS}/{run_id}")


# ---- the review's check run, end to end -------------------------------------------------


def test_a_finding_at_fail_on_makes_the_run_fail_field_by_field(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    pull(fake_github, "output:\n  fail_on: major\n")
    fake_claude.enqueue(findings_answer([FINDING]))

    result = review_with(app_request(), settings)

    assert result.status == "reviewed" and result.review_id is not None
    [create] = fake_github.bodies("POST", RUNS)
    assert create == {
        "name": "Claude review",
        "head_sha": HEAD,
        "external_id": delivery_key("d-1"),
        "status": "in_progress",
        "output": {"title": "Reviewing", "summary": "Claude is reviewing this commit."},
    }
    [run] = fake_github.check_runs(REPO)
    [complete] = patches(fake_github, run["id"])
    assert complete["status"] == "completed"
    assert complete["conclusion"] == "failure"
    assert complete["output"]["title"] == "1 finding at or above major"
    assert complete["output"]["summary"] == result.summary
    assert complete["output"]["annotations"] == [
        {
            "path": "app/main.py",
            "start_line": 2,
            "end_line": 2,
            "annotation_level": "failure",
            "title": "major · security · eval of input",
            "message": "Never eval user input.",
        }
    ]
    assert set(complete) == {"status", "conclusion", "output"}
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    # The run was created before the model was asked, and completed after the review posted.
    order = [(c.method, c.path) for c in fake_github.writes()]
    assert order.index(("POST", RUNS)) < order.index(("POST", f"/repos/{REPO}/pulls/7/reviews"))
    assert order[-1] == ("PATCH", f"{RUNS}/{run['id']}")


def test_findings_under_fail_on_succeed(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    pull(fake_github, "output:\n  fail_on: critical\n")
    fake_claude.enqueue(findings_answer([FINDING]))

    review_with(app_request(), settings)

    [run] = fake_github.check_runs(REPO)
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    assert run["output"]["title"] == "1 finding (1 major)"
    assert run["annotations"][0]["annotation_level"] == "failure"  # the level is the severity's


def test_a_budget_stop_is_neutral_never_red(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    pull(fake_github, "output:\n  fail_on: nit\nbudget:\n  monthly_usd: 0\n")

    result = review_with(app_request(), settings)

    assert result.status == "budget_exhausted" and fake_claude.requests == []
    [run] = fake_github.check_runs(REPO)
    assert (run["status"], run["conclusion"]) == ("completed", "neutral")
    assert run["output"]["title"] == "Not reviewed: a budget ran out"


def test_every_chunk_refused_is_neutral(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    pull(fake_github)
    fake_claude.default = findings_answer([])
    fake_claude.enqueue_refusal()

    result = review_with(app_request(), settings)

    assert {c.status for c in result.chunks} == {"refused"}
    [run] = fake_github.check_runs(REPO)
    assert run["conclusion"] == "neutral"
    assert run["output"]["title"].startswith("Not reviewed: Claude refused or failed")


def test_an_outage_completes_the_run_neutral_and_the_retry_starts_a_new_one(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    pull(fake_github)
    fake_claude.enqueue(error_answer(529))

    with pytest.raises(ClaudeError) as caught:
        review_with(app_request(), settings)

    assert caught.value.retryable
    [first] = fake_github.check_runs(REPO)
    assert (first["status"], first["conclusion"]) == ("completed", "neutral")
    assert first["output"]["title"] == "Not reviewed"
    assert "The failure was transient" in first["output"]["summary"]
    # The job's retry: a completed run cannot go back to in_progress, so a new one starts.
    fake_claude.enqueue(findings_answer([]))
    review_with(app_request(), settings)
    first_again, second = fake_github.check_runs(REPO)
    assert first_again["conclusion"] == "neutral"
    assert (second["external_id"], second["conclusion"]) == (delivery_key("d-1"), "success")


def test_an_unfinished_run_of_the_same_review_is_reused(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings, app_client: GitHubClient
) -> None:
    pull(fake_github)
    # A worker killed mid-review left its run in progress; another review's run is beside it.
    left = app_client.check_runs(REPO).start(head_sha=HEAD, key="d-1")
    other = app_client.check_runs(REPO).start(head_sha=HEAD, key="d-0")
    fake_claude.enqueue(findings_answer([]))

    review_with(app_request(), settings)

    assert len(fake_github.bodies("POST", RUNS)) == 2  # none created by the rerun
    assert [b["conclusion"] for b in patches(fake_github, left)] == ["success"]
    assert patches(fake_github, other) == []
    listed = [c for c in fake_github.calls if c.path == f"/repos/{REPO}/commits/{HEAD}/check-runs"]
    assert listed[-1].query == {"check_name": CHECK_NAME, "filter": "all", "per_page": "100"}


def test_a_create_whose_answer_was_lost_is_found_not_repeated(
    fake_github: FakeGitHub, app_client: GitHubClient
) -> None:
    pull(fake_github)
    fake_github.fail_next("POST", r"/check-runs$", 502, perform=True)

    run_id = app_client.check_runs(REPO).start(head_sha=HEAD, key="d-9")

    [run] = fake_github.check_runs(REPO)
    assert run["id"] == run_id and len(fake_github.bodies("POST", RUNS)) == 1


def test_annotations_past_50_are_added_by_updates_before_the_conclusion(
    fake_github: FakeGitHub, app_client: GitHubClient
) -> None:
    pull(fake_github)
    checks = app_client.check_runs(REPO)
    run_id = checks.start(head_sha=HEAD, key="d-2")
    comments = tuple(inline_comment("app/main.py", n) for n in range(1, 121))
    comments += (inline_comment("app/main.py", 5, side="LEFT"),)  # a removed line: no annotation

    checks.complete(run_id, CheckRunReport("failure", "120 findings", "the summary", comments))

    bodies = patches(fake_github, run_id)
    assert [len(b["output"]["annotations"]) for b in bodies] == [50, 50, 20]
    assert [b.get("conclusion") for b in bodies] == [None, None, "failure"]
    assert [b.get("status") for b in bodies] == [None, None, "completed"]
    assert all(b["output"]["title"] == "120 findings" for b in bodies)
    assert all(b["output"]["summary"] == "the summary" for b in bodies)
    [run] = fake_github.check_runs(REPO)
    assert [a["end_line"] for a in run["annotations"]] == list(range(1, 121))
    assert run["output"]["annotations_count"] == 120


def test_a_token_that_cannot_write_checks_still_gets_its_review(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    pull(fake_github, "output:\n  check_run: true\n")
    fake_claude.enqueue(findings_answer([FINDING]))
    token_settings = settings.replace(github_token="ghp_faketoken")
    messages: list[str] = []

    result = review_with(
        ReviewRequest(REPO, 7, trigger="action", expected_head_sha=HEAD),
        token_settings,
        progress=messages.append,
    )

    assert result.review_id is not None
    assert fake_github.check_runs(REPO) == []
    assert any("You must authenticate via a GitHub App" in m for m in messages)


def test_the_action_and_the_cli_make_no_check_run_by_default(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    pull(fake_github)
    fake_claude.enqueue(findings_answer([]))

    review_with(app_request(installation_id=None), settings.replace(github_token="ghp_faketoken"))

    assert [c for c in fake_github.calls if "check-runs" in c.path] == []


def test_check_run_false_turns_it_off_for_the_app(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    pull(fake_github, "output:\n  check_run: false\n")
    fake_claude.enqueue(findings_answer([]))

    review_with(app_request(), settings)

    assert [c for c in fake_github.calls if "check-runs" in c.path] == []


# ---- the conclusion, as a pure function --------------------------------------------------


def result_with(*severities: Severity, **fields: Any) -> ReviewResult:
    comments = []
    for n, severity in enumerate(severities):
        c = inline_comment("a.py", n + 1)
        finding = c.finding.model_copy(update={"severity": severity})
        comments.append(dataclasses.replace(c, severity=severity, finding=finding))
    values: dict[str, Any] = {
        "status": "reviewed", "comments": tuple(comments), "summary": "S",
        "chunks": (ChunkReport(0, ("a.py",), 10, "ok"),),
    }  # fmt: skip
    return ReviewResult(**{**values, **fields})


@pytest.mark.parametrize(
    ("result", "fail_on", "conclusion"),
    [
        (result_with(), Severity.NIT, "success"),
        (result_with(Severity.MINOR), Severity.MAJOR, "success"),
        (result_with(Severity.MINOR), None, "success"),
        (result_with(Severity.MAJOR), Severity.MAJOR, "failure"),
        (result_with(Severity.CRITICAL, budget_stop="monthly budget"), Severity.MAJOR, "failure"),
        (result_with(Severity.MINOR, budget_stop="monthly budget"), Severity.MAJOR, "neutral"),
        (result_with(status="budget_exhausted", budget_stop="monthly"), Severity.NIT, "neutral"),
        (result_with(chunks=(ChunkReport(0, ("a",), 1, "error"),)), Severity.NIT, "neutral"),
        (result_with(chunks=(ChunkReport(0, ("a",), 1, "refused"),
                             ChunkReport(1, ("b",), 1, "ok"))), Severity.NIT, "success"),
        (result_with(status="skipped", reason="the head moved"), Severity.NIT, "neutral"),
        (result_with(chunks=()), Severity.NIT, "success"),
    ],
)  # fmt: skip
def test_conclusion_for_each_outcome(
    result: ReviewResult, fail_on: Severity | None, conclusion: str
) -> None:
    assert report(result, fail_on).conclusion == conclusion


def test_not_reviewed_is_neutral() -> None:
    assert not_reviewed("overloaded", retrying=False) == CheckRunReport(
        "neutral", "Not reviewed", "Claude could not review this commit: overloaded"
    )


@pytest.mark.parametrize(
    ("fields", "check_run", "expected"),
    [
        ({"installation_id": 1}, None, True),
        ({}, None, False),
        ({}, True, True),
        ({"installation_id": 1}, False, False),
        ({"installation_id": 1, "dry_run": True}, True, False),
        ({"installation_id": 1, "post": False}, None, False),
    ],
)
def test_who_gets_a_check_run(
    fields: dict[str, Any], check_run: bool | None, expected: bool
) -> None:
    assert wanted(ReviewRequest(REPO, 7, **fields), check_run) is expected


def test_external_id_is_the_review_key_or_one_per_head() -> None:
    assert external_id("d-1", HEAD) == delivery_key("d-1")
    assert external_id(None, HEAD) == external_id(None, HEAD) != external_id(None, "c" * 40)


def test_a_batch_review_keeps_its_run_in_progress_until_it_is_collected(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    from reviewer.review.collect import collect_batch
    from reviewer.review.pipeline import run_review
    from reviewer.services import open_services

    pull(fake_github, "output:\n  fail_on: major\n")
    fake_claude.default = findings_answer([FINDING])
    fake_claude.batch_polls = 10_000  # ends when the test says
    with open_services(settings) as services:
        submitted = run_review(app_request(mode="batch", wait=False), services)
        assert submitted.status == "submitted"
        [run] = fake_github.check_runs(REPO)
        assert (run["status"], run["conclusion"]) == ("in_progress", None)
        key = submitted.extra["batch_job"]
        assert collect_batch(key, services).status == "submitted"  # still running
        [batch] = fake_claude.batches.values()
        fake_claude.end_batch(batch.id)
        done = collect_batch(key, services)

    assert done.status == "reviewed" and done.review_id is not None
    [run] = fake_github.check_runs(REPO)  # the collector found the submitter's run
    assert len(fake_github.bodies("POST", RUNS)) == 1
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert [a["title"] for a in run["annotations"]] == ["major · security · eval of input"]
