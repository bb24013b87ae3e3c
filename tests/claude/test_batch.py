"""The batch runner: every result type through the stop_reason policy, rounds, the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from reviewer.claude.batch import BatchRunner
from reviewer.claude.client import ChunkReviewer, make_client
from reviewer.core.chunking import Chunk, plan_chunks
from reviewer.core.diff import parse_diff
from reviewer.core.prompt import PromptContext
from reviewer.spend.batch_jobs import BatchJobs
from reviewer.spend.budget import ReviewSpend
from reviewer.spend.ledger import Ledger
from reviewer.spend.pricing import PriceTable
from tests.fakes.messages_server import (
    FakeMessages,
    fake_settings,
    findings_answer,
    message_answer,
    refusal_answer,
)
from tests.paths import SAMPLE_DIFF

MODEL = "claude-sonnet-4-6"
FALLBACK = "claude-opus-4-6"
CONTEXT = PromptContext(repo="octo/app", title="t")
NOW = datetime(2026, 11, 30, tzinfo=UTC)
FINDING = {
    "path": "src/app/users.py", "line": 7, "side": "RIGHT", "severity": "major",
    "category": "security", "title": "SQL built from input", "body": "Use parameters.",
}  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        yield ledger


def _chunks() -> tuple[Chunk, ...]:
    files = [f for f in parse_diff(SAMPLE_DIFF.read_text()).files if f.path.endswith(".py")]
    # Several chunks; chunk 6, which the tests split, holds more than one line.
    chunks = plan_chunks(files, budget_tokens=90, model=MODEL)
    assert len(chunks) >= 7
    return chunks


def _runner(fake: FakeMessages, ledger: Ledger) -> BatchRunner:
    client = make_client(fake_settings(fake))

    def realtime(model: str, max_tokens: int, may_fall_back: bool) -> ChunkReviewer:
        return ChunkReviewer(client, model=model, max_output_tokens=max_tokens,
                             fallback_model=FALLBACK if may_fall_back else None)  # fmt: skip

    return BatchRunner(
        client, BatchJobs(ledger), model=MODEL, fallback_model=FALLBACK, realtime=realtime,
        clock=lambda: NOW, sleep=lambda _s: None, max_output_tokens=1000,
    )  # fmt: skip


def _spend(ledger: Ledger) -> ReviewSpend:
    return ReviewSpend(ledger, PriceTable.load(), repo="octo/app", pr_number=1, head_sha="abc",
                       trigger="cli", review_id="rvtest")  # fmt: skip


def test_every_result_type_through_the_policy_in_follow_up_rounds(
    fake_claude: FakeMessages, ledger: Ledger
) -> None:
    chunks = _chunks()
    fake_claude.default = findings_answer([FINDING])
    fake_claude.batch_outcomes = {
        "rvtest-c1": "errored",  # retried once, in round 2
        "rvtest-c2": "expired",  # re-queued once
        "rvtest-c3": "canceled",  # reported, costs nothing
        "rvtest-c4": refusal_answer(),  # falls back to the other model
        "rvtest-c5": message_answer("{}", stop_reason="max_tokens"),  # retried larger
        "rvtest-c6": message_answer("", stop_reason="model_context_window_exceeded"),  # split
    }
    runner, spend = _runner(fake_claude, ledger), _spend(ledger)
    first = runner.submit("rvtest", CONTEXT, chunks, repository="octo/app", pr_number=1,
                          request_json="{}", gate=spend)  # fmt: skip
    assert runner.wait("rvtest").status == "ended"
    assert runner.collect("rvtest", CONTEXT, chunks, sink=spend, waiting=False) is None
    [round1, round2] = fake_claude.batches.values()
    assert round1.id == first
    by_id = {r["custom_id"]: r["params"] for r in round2.requests}
    assert set(by_id) == {
        "rvtest-c1-r2", "rvtest-c2-r2", "rvtest-c4-r2", "rvtest-c5-r2",
        "rvtest-c6-h0-r2", "rvtest-c6-h1-r2",
    }  # fmt: skip
    assert by_id["rvtest-c4-r2"]["model"] == FALLBACK
    assert by_id["rvtest-c5-r2"]["max_tokens"] == 2000
    runner.wait("rvtest")
    outcome = runner.collect("rvtest", CONTEXT, chunks, sink=spend, waiting=False)
    assert outcome is not None
    status = {r.index: r.status for r in outcome.results}
    assert status[3] == "skipped" and all(status[i] == "ok" for i in status if i != 3)
    assert len(outcome.results[6].findings) == 2  # both halves' findings, merged
    # Canceled, errored and expired results cost nothing; every result has its row.
    rows = dict(ledger.batch_rows(round1.id))
    assert set(rows) == set(round1.custom_ids)
    assert rows["rvtest-c1"] == rows["rvtest-c2"] == rows["rvtest-c3"] == Decimal(0)
    assert rows["rvtest-c0"] > 0
    prices = PriceTable.load()
    expected = Decimal(0)
    for answer in fake_claude.batch_served:  # what the fake billed, at the standard rates
        assert answer.usage["service_tier"] == "batch"
        rate = prices.price(str(answer.body["model"]))  # type: ignore[index]
        expected += answer.usage["input_tokens"] * rate.input
        expected += answer.usage["output_tokens"] * rate.output
    assert spend.total == expected / 1_000_000 / 2  # half price, every billed result
    assert ledger.review_total("rvtest") == spend.total
    # Each round's worst-case reservation was settled when its results were written: the
    # month holds exactly what was billed, whichever process collects.
    assert ledger.month_to_date("octo/app", datetime.now(UTC)) == spend.total
    assert fake_claude.requests == []  # nothing in real time: nobody was waiting


def test_errored_twice_is_reported_and_split_goes_real_time_when_waiting(
    fake_claude: FakeMessages, ledger: Ledger
) -> None:
    chunks = _chunks()[:2]
    fake_claude.batch_outcomes = {
        "rvtest-c0": message_answer("", stop_reason="model_context_window_exceeded"),
        "rvtest-c1": "errored",
    }
    runner, spend = _runner(fake_claude, ledger), _spend(ledger)
    runner.submit("rvtest", CONTEXT, chunks, repository="octo/app", pr_number=1,
                  request_json="{}", gate=spend)  # fmt: skip
    runner.wait("rvtest")
    outcome = runner.collect("rvtest", CONTEXT, chunks, sink=spend, waiting=True)
    assert outcome is not None and outcome.results[0].status == "ok"
    assert len(fake_claude.requests) == 3  # the halves of c0 and the retry of c1, real time
    assert len(fake_claude.batches) == 1


def test_errored_twice_in_batches_is_an_error(fake_claude: FakeMessages, ledger: Ledger) -> None:
    chunks = _chunks()[:1]
    fake_claude.batch_outcomes = {"rvtest-c0": "errored", "rvtest-c0-r2": "errored"}
    runner, spend = _runner(fake_claude, ledger), _spend(ledger)
    runner.submit("rvtest", CONTEXT, chunks, repository="octo/app", pr_number=1,
                  request_json="{}")  # fmt: skip
    runner.wait("rvtest")
    assert runner.collect("rvtest", CONTEXT, chunks, sink=spend, waiting=False) is None
    runner.wait("rvtest")
    outcome = runner.collect("rvtest", CONTEXT, chunks, sink=spend, waiting=False)
    assert outcome is not None and outcome.results[0].status == "error"
    assert "errored" in (outcome.results[0].error or "")


def test_a_lost_batch_is_found_not_submitted_again(
    fake_claude: FakeMessages, ledger: Ledger
) -> None:
    chunks = _chunks()[:2]
    runner = _runner(fake_claude, ledger)
    runner.submit("rvtest", CONTEXT, chunks, repository="octo/app", pr_number=1,
                  request_json="{}")  # fmt: skip
    # As if the worker died after the API created the batch, before its id was written.
    jobs = BatchJobs(ledger)
    jobs.update("rvtest", now=NOW, status="submitting", batch_id=None,
                state_json=jobs.get("rvtest").state_json.replace(  # type: ignore[union-attr]
                    '"batches": ["msgbatch_fake_0001"]', '"batches": []'))  # fmt: skip
    again = runner.submit("rvtest", CONTEXT, chunks, repository="octo/app", pr_number=1,
                          request_json="{}")  # fmt: skip
    assert again == "msgbatch_fake_0001" and len(fake_claude.batches) == 1


def test_a_cancel_keeps_what_completed_and_finishes_the_rest_in_real_time(
    fake_claude: FakeMessages, ledger: Ledger
) -> None:
    chunks = _chunks()[:3]
    fake_claude.default = findings_answer([FINDING])
    fake_claude.batch_polls = 10_000
    fake_claude.batch_done_before_cancel = lambda custom_id: custom_id == "rvtest-c0"
    runner, spend = _runner(fake_claude, ledger), _spend(ledger)
    batch_id = runner.submit("rvtest", CONTEXT, chunks, repository="octo/app", pr_number=1,
                             request_json="{}")  # fmt: skip
    assert runner.wait("rvtest", max_wait_s=1).status == "in_progress"
    runner.cancel("rvtest")
    assert runner.wait("rvtest").status == "ended"
    outcome = runner.collect("rvtest", CONTEXT, chunks, sink=spend, waiting=True,
                             canceled_to_realtime=True)  # fmt: skip
    assert outcome is not None and [r.status for r in outcome.results] == ["ok"] * 3
    assert len(fake_claude.requests) == 2  # c1 and c2, in real time
    rows = dict(ledger.batch_rows(batch_id))
    assert rows["rvtest-c0"] > 0 and rows["rvtest-c1"] == rows["rvtest-c2"] == 0


def test_a_round_past_the_request_limit_goes_as_several_batches(
    fake_claude: FakeMessages, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reviewer.core.batch_state.MAX_BATCH_REQUESTS", 2)
    chunks = _chunks()[:5]
    fake_claude.default = findings_answer([FINDING])
    runner, spend = _runner(fake_claude, ledger), _spend(ledger)
    runner.submit("rvtest", CONTEXT, chunks, repository="octo/app", pr_number=1,
                  request_json="{}")  # fmt: skip
    assert [len(b.requests) for b in fake_claude.batches.values()] == [2, 2, 1]
    assert runner.wait("rvtest").status == "ended"
    outcome = runner.collect("rvtest", CONTEXT, chunks, sink=spend, waiting=False)
    assert outcome is not None and len(outcome.results) == 5
    assert all(len(r.findings) == 1 for r in outcome.results)
