"""The engine end to end: fake GitHub (responses) and the real SDK against a fake Messages API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reviewer.errors import ClaudeError
from reviewer.model import ReviewRequest
from reviewer.review.pipeline import run_review
from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from tests.fakes.github_api import FakeGitHub, file_item
from tests.fakes.messages_server import (
    FAKE_API_KEY,
    FakeMessages,
    error_answer,
    findings_answer,
    message_answer,
)
from tests.paths import SAMPLE_DIFF
from tests.services import review_with

REPO = "octo/app"
PATCH = "\n".join(
    [
        "@@ -1,4 +1,6 @@",
        " import sqlite3",
        "-def find(conn, uid):",
        '-    return conn.execute("SELECT * FROM u WHERE id = ?", (uid,)).fetchone()',
        "+def find(conn, name):",
        "+    sql = f\"SELECT * FROM u WHERE name = '{name}'\"",
        "+    return conn.execute(sql).fetchone()",
        "+",
        " # end",
    ]
)
INJECTION = {
    "path": "app/users.py",
    "line": 3,
    "side": "RIGHT",
    "severity": "critical",
    "category": "security",
    "title": "SQL injection",
    "body": "User input is formatted into SQL.",
    "suggestion": '    sql = "SELECT * FROM u WHERE name = ?"',
}
OUTSIDE = INJECTION | {"line": 40, "title": "Elsewhere", "severity": "minor"}


@pytest.fixture
def settings(fake_github: FakeGitHub, fake_claude: FakeMessages) -> Settings:
    return fake_github.settings(
        anthropic_api_key=FAKE_API_KEY,
        anthropic_base_url=fake_claude.base_url,
        max_retries=1,
        request_timeout_s=10.0,
        max_retry_after_s=5.0,
    )


def _pull(fake_github: FakeGitHub, **fields: Any) -> None:
    fake_github.add_pull(
        REPO,
        7,
        files=[
            file_item("app/users.py", patch=PATCH),
            file_item("package-lock.json", patch="@@ -1 +1 @@\n-{}\n+{ }"),
            file_item("logo.png", status="added"),
        ],
        **fields,
    )


def _ledger_totals(settings: Settings) -> tuple[int, dict[str, int]]:
    ledger = Ledger.open(settings.ledger_url)
    try:
        rows = ledger.report(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    finally:
        ledger.close()
    keys = (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    )
    return sum(r.calls for r in rows), {k: sum(getattr(r, k) for r in rows) for k in keys}


def test_pr_review_posts_one_review_with_inline_comment_and_records_spend(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_claude.enqueue(
        findings_answer(
            [INJECTION, OUTSIDE],
            usage={"input_tokens": 2000, "output_tokens": 300, "cache_creation_input_tokens": 1500},
        )
    )
    result = review_with(
        ReviewRequest(REPO, 7, trigger="auto", expected_head_sha="a" * 40), settings
    )

    assert result.status == "reviewed" and result.review_id is not None
    [body] = fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews")
    assert body["commit_id"] == "a" * 40 and body["event"] == "COMMENT"
    [comment] = body["comments"]
    assert {k: comment[k] for k in ("path", "line", "side")} == {
        "path": "app/users.py", "line": 3, "side": "RIGHT",
    }  # fmt: skip
    assert "```suggestion\n" in comment["body"]
    assert "Findings outside the diff" in body["body"] and "Elsewhere" in body["body"]
    assert "`package-lock.json`: lockfile" in body["body"]
    assert "`logo.png`: GitHub sent no patch" in body["body"]
    # The one model call was priced and written down, to the token.
    calls, totals = _ledger_totals(settings)
    assert calls == 1 and totals == fake_claude.usage_totals()
    assert result.cost_usd > 0


def test_re_review_of_the_same_code_repeats_nothing(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_claude.default = findings_answer([INJECTION])
    review_with(ReviewRequest(REPO, 7, trigger="command"), settings)
    second = review_with(ReviewRequest(REPO, 7, trigger="command"), settings)

    first_body, second_body = fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews")
    assert len(first_body["comments"]) == 1
    assert second_body["comments"] == []
    assert second.extra["already_posted"] == 1
    assert "already reported on unchanged code were not repeated" in second_body["body"]


def test_auto_review_of_an_already_reviewed_head_is_skipped(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    review_with(ReviewRequest(REPO, 7, trigger="auto"), settings)
    again = review_with(ReviewRequest(REPO, 7, trigger="auto"), settings)
    assert again.status == "skipped" and "already reviewed" in (again.reason or "")
    assert len(fake_claude.requests) == 1


def test_head_moved_while_the_model_was_reading_posts_nothing(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)

    def push_then_answer(_request: dict[str, Any]) -> Any:
        fake_github.push(REPO, 7, "c" * 40, [file_item("app/users.py", patch=PATCH)])
        return findings_answer([INJECTION])

    fake_claude.responder = push_then_answer
    result = review_with(ReviewRequest(REPO, 7, trigger="auto"), settings)
    assert result.status == "skipped" and "head moved" in (result.reason or "")
    assert fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews") == []
    assert _ledger_totals(settings)[0] == 1  # the call was billed, and recorded


def test_head_moved_before_the_job_started_skips_without_spending(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github, head={"sha": "d" * 40, "ref": "f", "repo": {"full_name": REPO}})
    result = review_with(
        ReviewRequest(REPO, 7, trigger="auto", expected_head_sha="a" * 40), settings
    )
    assert result.status == "skipped"
    assert fake_claude.requests == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("output:\n  max_coments: 5\n", "max_coments"),
        ("output:\n  max_comments: many\n", "output.max_comments"),
        ("review: [unclosed\n", "invalid YAML"),
    ],
)
def test_invalid_base_branch_config_is_reported_on_the_pr_with_no_spend(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings, text: str, problem: str
) -> None:
    _pull(fake_github)
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, text)
    result = review_with(ReviewRequest(REPO, 7, trigger="auto"), settings)
    assert result.status == "failed"
    [note] = fake_github.bodies("POST", f"/repos/{REPO}/issues/7/comments")
    assert ".github/reviewer.yml" in note["body"] and problem in note["body"]
    assert fake_claude.requests == []
    assert fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews") == []


def test_config_comes_from_the_base_branch_not_the_head(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_github.add_content(
        REPO, ".github/reviewer.yml", "b" * 40, "paths:\n  exclude: ['app/**']\n"
    )
    fake_github.add_content(REPO, ".github/reviewer.yml", "a" * 40, "paths:\n  exclude: []\n")
    result = review_with(ReviewRequest(REPO, 7, trigger="auto"), settings)
    reasons = {f.path: f.reason for f in result.files}
    assert reasons["app/users.py"] == "excluded by pattern 'app/**'"
    assert fake_claude.requests == []


def test_command_from_a_reader_is_refused_politely_without_a_model_call(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_github.set_permission(REPO, "reader", "read")
    result = review_with(
        ReviewRequest(REPO, 7, trigger="command", requested_by="reader", comment_id=55), settings
    )
    assert result.status == "refused"
    [note] = fake_github.bodies("POST", f"/repos/{REPO}/issues/7/comments")
    assert "write access" in note["body"]
    assert fake_github.bodies("POST", f"/repos/{REPO}/issues/comments/55/reactions") == []
    assert fake_claude.requests == []


def test_command_from_a_writer_is_acknowledged_and_reviewed(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_github.set_permission(REPO, "writer", "write")
    result = review_with(
        ReviewRequest(REPO, 7, trigger="command", requested_by="writer", comment_id=55), settings
    )
    assert result.status == "reviewed"
    assert fake_github.bodies("POST", f"/repos/{REPO}/issues/comments/55/reactions") == [
        {"content": "eyes"}
    ]


def test_zero_budget_means_no_model_call_and_the_review_says_so(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, "budget:\n  monthly_usd: 0\n")
    result = review_with(ReviewRequest(REPO, 7, trigger="auto"), settings)
    assert fake_claude.requests == []
    assert result.budget_stop is not None
    [body] = fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews")
    assert "Budget reached" in body["body"] and "$0" in body["body"]


def test_overload_on_every_chunk_is_retryable_and_posts_nothing(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_claude.default = error_answer(529)
    with pytest.raises(ClaudeError) as caught:
        review_with(ReviewRequest(REPO, 7, trigger="auto"), settings)
    assert caught.value.retryable
    assert fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews") == []
    calls, _ = _ledger_totals(settings)
    assert calls == len(fake_claude.requests)  # every attempt written, billed or not


def test_local_diff_dry_run_needs_no_key_and_writes_nothing(tmp_path: Path) -> None:
    diff = SAMPLE_DIFF
    settings = Settings.from_env({"REVIEWER_DATA_DIR": str(tmp_path / "data")})
    result = review_with(ReviewRequest("local", diff_text=diff.read_text(), dry_run=True), settings)
    assert result.status == "dry_run"
    assert [f.path for f in result.files if f.reviewed] == [
        "src/app/arith.py", "src/app/cache.py", "src/app/users.py",
    ]  # fmt: skip
    assert result.chunks and result.estimated_cost_usd > 0
    assert not (tmp_path / "data").exists()


def test_local_diff_review_records_spend_under_the_given_repo(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    diff = SAMPLE_DIFF
    fake_claude.default = findings_answer([INJECTION | {"path": "src/app/users.py", "line": 7}])
    settings = Settings.from_env(
        {"REVIEWER_DATA_DIR": str(tmp_path / "data")},
        anthropic_api_key=FAKE_API_KEY,
        anthropic_base_url=fake_claude.base_url,
    )
    result = review_with(ReviewRequest("me/tool", diff_text=diff.read_text()), settings)
    assert [(c.path, c.line) for c in result.comments] == [("src/app/users.py", 7)]
    ledger = Ledger.open(settings.ledger_url)
    [row] = ledger.report(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    ledger.close()
    assert row.key == "me/tool" and row.calls == len(fake_claude.requests)


def test_configured_config_path_is_read_from_the_base_branch(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_github.add_content(REPO, "ci/review.yml", "b" * 40, "paths:\n  exclude: ['app/**']\n")
    result = review_with(
        ReviewRequest(REPO, 7, trigger="action"), settings.replace(config_path="ci/review.yml")
    )
    assert {f.path: f.reason for f in result.files}[
        "app/users.py"
    ] == "excluded by pattern 'app/**'"


def test_a_checkout_diff_with_a_pr_number_is_posted_to_that_pr(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_claude.default = findings_answer([INJECTION])
    local = "diff --git a/app/users.py b/app/users.py\n--- a/app/users.py\n+++ b/app/users.py\n"
    result = review_with(
        ReviewRequest(REPO, 7, trigger="action", diff_text=local + PATCH + "\n"), settings
    )
    assert result.status == "reviewed"
    [body] = fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews")
    assert [c["line"] for c in body["comments"]] == [3]
    assert "Reviewed the diff of the local checkout." in body["body"]
    assert not any(c.path.endswith("/files") for c in fake_github.calls)


SAMPLE = SAMPLE_DIFF


def _local_settings(fake_claude: FakeMessages, tmp_path: Path, **overrides: Any) -> Settings:
    return Settings.from_env(
        {"REVIEWER_DATA_DIR": str(tmp_path / "data")},
        anthropic_api_key=FAKE_API_KEY,
        anthropic_base_url=fake_claude.base_url,
        max_retries=1,
        **overrides,
    )


def test_ledger_equals_every_attempt_including_cache_and_truncation(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    fake_claude.enqueue(
        # Cut off mid-JSON: billed, then retried with a larger max_tokens.
        message_answer(
            '{"findings": [{"path": "src/app/us',
            stop_reason="max_tokens",
            usage={"input_tokens": 300, "output_tokens": 4096, "cache_creation_input_tokens": 2100},
        ),
        error_answer(529),  # retried by the SDK: an attempt with no usage
        findings_answer(
            [INJECTION | {"path": "src/app/users.py", "line": 7}],
            usage={"input_tokens": 300, "output_tokens": 700, "cache_read_input_tokens": 2100},
        ),
    )
    settings = _local_settings(fake_claude, tmp_path)
    result = review_with(ReviewRequest("me/tool", diff_text=SAMPLE.read_text()), settings)

    assert [c.line for c in result.comments] == [7]
    calls, totals = _ledger_totals(settings)
    assert calls == len(fake_claude.served) == 3
    assert totals == fake_claude.usage_totals()
    assert totals["cache_creation_input_tokens"] == totals["cache_read_input_tokens"] == 2100
    assert result.usage == totals
    ledger = Ledger.open(settings.ledger_url)
    assert ledger.month_to_date("me/tool", datetime.now(UTC)) == result.cost_usd > 0
    ledger.close()


def test_review_budget_reached_mid_review_keeps_what_was_found(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    # Each answer costs about $0.06 (4,000 output tokens), and each call is estimated at its
    # worst case (4,096 output tokens): after one call, the next cannot fit a $0.10 budget.
    fake_claude.default = findings_answer(
        [INJECTION | {"path": "src/app/users.py", "line": 7}],
        usage={"input_tokens": 500, "output_tokens": 4000},
    )
    settings = _local_settings(
        fake_claude, tmp_path, max_chunk_tokens=400, concurrency=1,
        review_budget_usd=Decimal("0.10"),
    )  # fmt: skip
    result = review_with(ReviewRequest("me/tool", diff_text=SAMPLE.read_text()), settings)

    assert len(result.chunks) > 1
    assert len(fake_claude.requests) == 1
    assert [c.status for c in result.chunks].count("skipped") == len(result.chunks) - 1
    assert [c.line for c in result.comments] == [7]  # what was found is kept
    assert result.budget_stop is not None and "review budget" in result.budget_stop
    assert "left" in result.budget_stop
    assert "Budget reached" in result.summary


def test_dry_run_of_a_pr_with_a_broken_config_posts_nothing(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, "outptu: {}\n")
    result = review_with(ReviewRequest(REPO, 7, dry_run=True), settings)
    assert result.status == "failed" and "outptu" in (result.reason or "")
    assert fake_github.writes() == []


def test_dry_run_of_a_pr_fetches_and_plans_without_model_or_post(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    result = review_with(ReviewRequest(REPO, 7, dry_run=True), settings)
    assert result.status == "dry_run" and result.estimated_cost_usd > 0
    assert [f.path for f in result.files if f.reviewed] == ["app/users.py"]
    assert fake_claude.requests == [] and fake_github.writes() == []


def test_routing_rule_picks_the_model_sent_to_claude(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    routing = "model:\n  routing:\n    - model: claude-opus-4-6\n      paths: ['app/**']\n"
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, routing)
    result = review_with(ReviewRequest(REPO, 7, trigger="auto"), settings)
    assert result.model == "claude-opus-4-6"
    assert [r["model"] for r in fake_claude.requests] == ["claude-opus-4-6"]


def test_per_path_instructions_reach_only_the_matching_chunk(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    config = tmp_path / "reviewer.yml"
    config.write_text(
        "paths:\n  instructions:\n    - path: 'src/app/users.py'\n"
        "      instructions: 'Every query must be parameterized.'\n"
    )
    settings = _local_settings(fake_claude, tmp_path, max_chunk_tokens=400)
    review_with(
        ReviewRequest("me/tool", diff_text=SAMPLE.read_text(), config_path=str(config)), settings
    )
    texts = [str(r["messages"]) for r in fake_claude.requests]
    assert len(texts) == 2
    with_rule = [t for t in texts if "Every query must be parameterized." in t]
    assert len(with_rule) == 1 and "FILE: src/app/users.py" in with_rule[0]


def test_review_events_of_the_repository_decide_automatic_reviews(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, "review:\n  events: [opened]\n")
    pushed = review_with(
        ReviewRequest(REPO, 7, trigger="auto", event_action="synchronize"), settings
    )
    assert pushed.status == "skipped" and "review.events" in (pushed.reason or "")
    opened = review_with(ReviewRequest(REPO, 7, trigger="auto", event_action="opened"), settings)
    assert opened.status == "reviewed"


def test_the_repository_command_is_the_one_that_triggers(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github)
    fake_github.set_permission(REPO, "writer", "write")
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, "review:\n  command: /claude\n")

    def ask(word: str) -> Any:
        request = ReviewRequest(
            REPO, 7, trigger="command", requested_by="writer", comment_id=9, command=word
        )
        return review_with(request, settings)

    ignored = ask("/review")
    assert ignored.status == "skipped" and "/claude" in (ignored.reason or "")
    assert fake_github.writes() == []  # quietly: no reaction, no note, no review
    assert ask("/claude").status == "reviewed"
    assert fake_github.bodies("POST", f"/repos/{REPO}/issues/comments/9/reactions") == [
        {"content": "eyes"}
    ]


def test_automatic_reviews_off_still_answers_a_command(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    _pull(fake_github, draft=True)
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, "review:\n  auto: false\n")
    assert review_with(ReviewRequest(REPO, 7, trigger="auto"), settings).status == "skipped"
    assert review_with(ReviewRequest(REPO, 7, trigger="action"), settings).status == "skipped"
    assert review_with(ReviewRequest(REPO, 7, trigger="command"), settings).status == "reviewed"


def test_a_rerun_of_the_same_delivery_finds_its_review_and_spends_nothing(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    # A worker killed after posting runs the job again: one review, one model call.
    _pull(fake_github)
    fake_claude.default = findings_answer([INJECTION])
    request = ReviewRequest(REPO, 7, trigger="command", delivery_id="delivery-42")
    first = review_with(request, settings)
    again = review_with(request, settings)

    assert first.status == "reviewed"
    assert again.status == "skipped" and again.review_id == first.review_id
    assert len(fake_github.bodies("POST", f"/repos/{REPO}/pulls/7/reviews")) == 1
    assert len(fake_claude.requests) == 1
    other = review_with(ReviewRequest(REPO, 7, trigger="command", delivery_id="d-43"), settings)
    assert other.status == "reviewed"  # a new command is a new review


def test_the_reviews_list_is_read_once_per_review_and_afresh_by_the_next(
    fake_github: FakeGitHub, fake_claude: FakeMessages, settings: Settings
) -> None:
    # The delivery check, the last reviewed head and the earlier fingerprints all need the
    # PR's reviews: one GET serves them. Two reviews through one client (a worker's) each
    # read it once, and the second sees what the first posted.
    from reviewer.services import open_services

    _pull(fake_github)
    fake_claude.default = findings_answer([INJECTION])
    reviews_path = f"/repos/{REPO}/pulls/7/reviews"

    def reads() -> int:
        return sum(1 for c in fake_github.calls if c.method == "GET" and c.path == reviews_path)

    with open_services(settings) as services:
        first = run_review(ReviewRequest(REPO, 7, trigger="command", delivery_id="d-1"), services)
        assert first.status == "reviewed"
        assert reads() == 1
        second = run_review(ReviewRequest(REPO, 7, trigger="command", delivery_id="d-2"), services)
        assert reads() == 2
    assert second.status == "reviewed"
    assert second.extra["already_posted"] == 1  # the first review's finding, read afresh
    assert len(fake_github.bodies("POST", reviews_path)) == 2


def test_files_are_listed_in_the_shared_prefix_only_when_several_requests_share_it(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    def shared_texts(**overrides: Any) -> list[str]:
        fake_claude.requests.clear()
        settings = _local_settings(fake_claude, tmp_path, **overrides)
        review_with(ReviewRequest("me/tool", diff_text=SAMPLE.read_text()), settings)
        return [r["messages"][0]["content"][0]["text"] for r in fake_claude.requests]

    several = shared_texts(max_chunk_tokens=400)
    assert len(several) == 2 and len(set(several)) == 1  # byte-identical, so cached once
    assert "<pr_files>\nsrc/app/: arith.py cache.py users.py\n</pr_files>" in several[0]
    [one] = shared_texts()
    assert "<pr_files>" not in one
