"""`reviewer review --batch` and `reviewer batch ...` end to end against the fake Messages API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner, Result

from reviewer.cli.main import main
from reviewer.spend.batch_jobs import BatchJobs
from reviewer.spend.ledger import Ledger
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, findings_answer
from tests.paths import SAMPLE_DIFF

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FINDING = {
    "path": "src/app/users.py", "line": 7, "side": "RIGHT", "severity": "major",
    "category": "security", "title": "SQL built from input", "body": "Use parameters.",
}  # fmt: skip


def _env(fake: FakeMessages, tmp_path: Path) -> dict[str, str]:
    return {
        "ANTHROPIC_API_KEY": FAKE_API_KEY,
        "ANTHROPIC_BASE_URL": fake.base_url,
        "REVIEWER_DATA_DIR": str(tmp_path),
        "REVIEWER_BATCH_POLL_S": "0.001",
    }


def _invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def test_review_batch_waits_prints_and_ledgers_at_half_price(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    fake_claude.default = findings_answer([FINDING])
    env = _env(fake_claude, tmp_path)
    result = _invoke(env, "review", "--diff", str(SAMPLE_DIFF), "--batch", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["status"] == "reviewed"
    assert [c["title"] for c in out["comments"]] == ["SQL built from input"]
    # Nothing went through real time; one batch, polled while in progress, on stderr.
    assert fake_claude.requests == []
    [batch] = fake_claude.batches.values()
    assert "in_progress" in result.stderr and "ended" in result.stderr
    params = batch.requests[0]["params"]
    cached = [b for b in params["system"] if "cache_control" in b]
    assert cached and all(b["cache_control"] == {"type": "ephemeral", "ttl": "1h"} for b in cached)
    assert out["usage"] == fake_claude.batch_usage_totals()
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        rows = ledger.batch_rows(batch.id)
        [mode] = ledger.report(EPOCH, EPOCH.replace(year=3000), by="mode")
    assert [custom_id for custom_id, _ in rows] == batch.custom_ids
    # 1200 input + 150 output tokens of claude-sonnet-4-6 ($3 / $15 per MTok), halved.
    assert rows[0][1] == (Decimal(1200) * 3 + Decimal(150) * 15) / 1_000_000 / 2
    assert mode.key == "batch" and mode.cost_usd == rows[0][1]
    assert Decimal(str(out["cost_usd"])) == rows[0][1]
    by_mode = _invoke(env, "spend", "--by", "mode", "--format", "json", "--since", "2000-01-01")
    assert by_mode.exit_code == 0, by_mode.output
    assert [(r["mode"], r["calls"]) for r in json.loads(by_mode.stdout)["rows"]] == [("batch", 1)]


def test_no_wait_then_status_and_collect(fake_claude: FakeMessages, tmp_path: Path) -> None:
    fake_claude.default = findings_answer([FINDING])
    fake_claude.batch_polls = 3
    env = _env(fake_claude, tmp_path)
    submitted = _invoke(
        env, "review", "--diff", str(SAMPLE_DIFF), "--batch", "--no-wait", "--format", "json"
    )
    assert submitted.exit_code == 0, submitted.output
    out = json.loads(submitted.stdout)
    assert out["status"] == "submitted"
    job = out["batch_job"]
    status = _invoke(env, "batch", "status", job)
    assert status.exit_code == 0, status.output
    assert f"job {job}: submitted" in status.stdout and "in_progress" in status.stdout
    early = _invoke(env, "batch", "collect", out["batch_id"])
    assert early.exit_code == 0 and early.stdout.startswith("submitted:")
    done = _invoke(env, "batch", "collect", job, "--wait", "--format", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "reviewed"
    again = _invoke(env, "batch", "collect", job)
    assert again.stdout.startswith("skipped:") and "collected" in again.stdout
    assert len(fake_claude.batches) == 1


def test_no_wait_needs_batch(tmp_path: Path) -> None:
    result = _invoke({"REVIEWER_DATA_DIR": str(tmp_path)}, "review", "--diff",
                     str(SAMPLE_DIFF), "--no-wait")  # fmt: skip
    assert result.exit_code == 2 and "--no-wait goes with --batch" in result.stderr


def test_collect_resumes_a_job_whose_submitter_died_before_recording_the_batch(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    env = _env(fake_claude, tmp_path)
    submitted = _invoke(
        env, "review", "--diff", str(SAMPLE_DIFF), "--batch", "--no-wait", "--format", "json"
    )
    job = json.loads(submitted.stdout)["batch_job"]
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        jobs = BatchJobs(ledger)
        record = jobs.get(job)
        assert record is not None
        lost = record.state_json.replace('"batches": ["msgbatch_fake_0001"]', '"batches": []')
        jobs.update(job, now=datetime.now(UTC), status="submitting", batch_id=None,
                    state_json=lost)  # fmt: skip
    done = _invoke(env, "batch", "collect", job, "--wait", "--format", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "reviewed"
    assert len(fake_claude.batches) == 1  # found again, not submitted twice


def test_a_batch_over_the_budget_is_not_submitted(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    env = {**_env(fake_claude, tmp_path), "REVIEWER_REVIEW_BUDGET_USD": "0.0001"}
    result = _invoke(env, "review", "--diff", str(SAMPLE_DIFF), "--batch", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # Nothing was reviewed: its own status, never read as "clean".
    assert out["status"] == "budget_exhausted" and out["cost_usd"] == 0
    assert [c["status"] for c in out["chunks"]] == ["skipped"]
    assert fake_claude.batches == {} and fake_claude.requests == []
