"""Spend is never lost: calls whose answer never came, killed workers, a ledger database away."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from reviewer.claude.client import ChunkReviewer, make_client
from reviewer.cli.main import main
from reviewer.core.chunking import Chunk
from reviewer.core.diff import FileStatus, Hunk
from reviewer.core.lines import DiffLine, HunkLines
from reviewer.core.prompt import PromptContext
from reviewer.core.render import ChunkPart
from reviewer.errors import BudgetExceeded, ConfigError, LedgerError
from reviewer.settings import Settings
from reviewer.spend import engine as engine_module
from reviewer.spend.budget import Limits, ReviewSpend
from reviewer.spend.journal import Journal
from reviewer.spend.ledger import Ledger
from reviewer.spend.migrations import TableNames
from reviewer.spend.pricing import PriceTable, cost_of
from reviewer.spend.schema import CallRow, new_row_id
from reviewer.spend.usage import CallRecord
from tests.fakes.messages_server import FakeMessages, fake_settings, findings_answer
from tests.fakes.tcp_proxy import TcpProxy
from tests.paths import ROOT
from tests.spend.databases import BACKENDS, Database, database_for
from tests.spend.worker import MODEL, REPO

CONTEXT = PromptContext(repo=REPO, title="Spend", description="Never lost.")
# A held call is released after this long at most (a bound, never a timing under test).
HOLD_S = 60.0


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from database_for(request, tmp_path)


@pytest.fixture
def client(fake_claude: FakeMessages) -> Iterator[anthropic.Anthropic]:
    with make_client(fake_settings(fake_claude)) as sdk:
        yield sdk


def chunk(index: int) -> Chunk:
    lines = tuple(DiffLine("added", f"v_{n} = {n}", None, n) for n in range(1, 6))
    hunk = Hunk(
        old_start=0, old_count=0, new_start=1, new_count=5, section="", lines=HunkLines.of(lines)
    )
    part = ChunkPart(f"f{index}.py", FileStatus.ADDED, (hunk,))
    return Chunk(index, (part,), estimated_input_tokens=400)


def spend_for(ledger: Ledger, monthly: Decimal | None = None) -> ReviewSpend:
    limits = Limits(monthly_usd=monthly)
    return ReviewSpend(
        ledger,
        PriceTable.load(),
        repo=REPO,
        pr_number=3,
        head_sha=None,
        trigger="auto",
        limits=limits,
    )


def rows_of(url: str, prefix: str = "") -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = ("outcome", "usage_known", "cost_pusd", "attempt", "row_id")
            calls = sa.table(TableNames(prefix).calls, *(sa.column(n) for n in (*names, "id")))
            query = sa.select(*(calls.c[n] for n in names)).order_by(calls.c.id)
            return [dict(r._mapping) for r in conn.execute(query)]
    finally:
        engine.dispose()


def billed(fake: FakeMessages) -> Decimal:
    """What the fake API billed for every answer it served, at the price table's rates."""
    price = PriceTable.load().price(MODEL)
    total = Decimal(0)
    for answer in fake.served:
        usage = answer.usage
        if usage:
            split = usage["cache_creation"]
            record = CallRecord(
                MODEL,
                0,
                1,
                "ok",
                input_tokens=usage["input_tokens"],
                output_tokens=usage["output_tokens"],
                cache_creation_input_tokens=usage["cache_creation_input_tokens"],
                cache_read_input_tokens=usage["cache_read_input_tokens"],
                cache_write_5m_tokens=split["ephemeral_5m_input_tokens"],
                cache_write_1h_tokens=split["ephemeral_1h_input_tokens"],
            )
            total += cost_of(record, price)
    return total


def test_an_error_answer_costs_nothing_an_unanswered_attempt_its_worst_case(
    fake_claude: FakeMessages, client: anthropic.Anthropic, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    fake_claude.enqueue_error(500)  # an answer: it bills nothing
    fake_claude.enqueue_drop()  # no answer: it may have been billed in full
    fake_claude.enqueue_findings([], usage={"input_tokens": 900, "output_tokens": 40})
    with Ledger.open(url) as ledger:
        spend = spend_for(ledger)
        ChunkReviewer(client, model=MODEL, max_output_tokens=4_000).review(
            CONTEXT, [chunk(0)], sink=spend, gate=spend
        )
        total = ledger.review_total(spend.review_id)
    rows = rows_of(url)
    assert [(r["outcome"], bool(r["usage_known"]), r["attempt"]) for r in rows] == [
        ("error", True, 1),  # the reservation, settled by the first attempt: an HTTP 500
        ("error", False, 2),  # the dropped connection keeps the call's worst case
        ("ok", True, 3),
    ]
    assert rows[0]["cost_pusd"] == 0
    worst = rows[1]["cost_pusd"]
    assert worst >= 4_000 * 15 * 10**6  # at least max_tokens of output at $15 per million
    assert spend.unknown == Decimal(worst).scaleb(-12)
    assert total == spend.total == spend.unknown + billed(fake_claude)


def test_a_worker_killed_mid_call_leaves_its_worst_case_counted(
    fake_claude: FakeMessages,
) -> None:
    url = Settings.from_env().ledger_url  # the data directory's SQLite ledger
    arrived, release = threading.Event(), threading.Event()

    def hold(body: dict[str, Any]) -> Any:
        arrived.set()
        release.wait(HOLD_S)
        return findings_answer([])

    fake_claude.responder = hold
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.spend.worker", "review", url, fake_claude.base_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert arrived.wait(HOLD_S), "the worker never called the fake Messages API"
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(HOLD_S) == -signal.SIGKILL
    finally:
        release.set()
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if worker.stdout is not None:
            worker.stdout.close()
    [row] = rows_of(url)
    assert (row["outcome"], bool(row["usage_known"])) == ("reserved", False)
    worst = Decimal(row["cost_pusd"]).scaleb(-12)
    assert worst >= Decimal("0.06")  # 4,000 output tokens at $15 per million, at least

    result = CliRunner().invoke(main, ["spend", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    [repo] = report["rows"]
    assert (Decimal(repo["cost_usd"]), Decimal(repo["unknown_usd"])) == (worst, worst)

    # The next budget check counts it: room for one more $0.018 call, but not beside it.
    with Ledger.open(url) as ledger:
        spend = spend_for(ledger, monthly=worst + Decimal("0.017"))
        with pytest.raises(BudgetExceeded):
            spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)


class Outage:
    """Make the ledger database unreachable, then bring it back."""

    def __init__(self, database: Database, proxy: TcpProxy | None) -> None:
        self.database = database
        self.proxy = proxy
        self._locker: sqlite3.Connection | None = None

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
            return
        # SQLite: another process holds the write lock (in WAL mode, EXCLUSIVE is that lock).
        path = sa.make_url(self.database.url).database or ""
        self._locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._locker.execute("BEGIN EXCLUSIVE")

    def start(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
        elif self._locker is not None:
            self._locker.execute("ROLLBACK")
            self._locker.close()


def test_ledger_stopped_mid_review_journals_then_replays(
    database: Database,
    fake_claude: FakeMessages,
    client: anthropic.Anthropic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A locked SQLite file fails a writer after its busy timeout: keep that short here.
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 100)
    database.open().close()
    with TcpProxy(("127.0.0.1", 5432)) as proxy:
        url = database.url
        if database.dialect == "postgresql":
            # Never stop the shared server: cut a proxy of our own in front of it.
            url = sa.make_url(url).set(port=proxy.port).render_as_string(hide_password=False)
        outage = Outage(database, proxy if database.dialect == "postgresql" else None)

        def respond(body: dict[str, Any]) -> Any:
            number = len(fake_claude.requests)
            if number == 2:
                outage.stop()  # the database goes away while the second call is answered
            return findings_answer([], usage={"input_tokens": 1_000 + number, "output_tokens": 50})

        fake_claude.responder = respond
        ledger = database.open(url)
        spend = spend_for(ledger)
        runner = ChunkReviewer(client, model=MODEL, max_output_tokens=4_000, concurrency=1)
        try:
            with pytest.raises(LedgerError) as caught:
                runner.review(CONTEXT, [chunk(0), chunk(1), chunk(2)], sink=spend, gate=spend)
        finally:
            ledger.close()
        assert caught.value.retryable  # the job is retried, not failed for good
        assert len(fake_claude.requests) == 2  # no third call without a place to record it
        journal = Journal(database.journal)
        assert journal.pending() == 1  # the second call's settlement waits there
        outage.start()
        journalled = database.journal.read_text()

        with database.open(url) as reopened:  # replays the journal
            assert journal.pending() == 0
            assert reopened.review_total(spend.review_id) == billed(fake_claude) == spend.total
            replayed = rows_of(database.url, database.prefix)
            assert [r["outcome"] for r in replayed] == ["ok", "ok"]
            assert all(r["usage_known"] for r in replayed)
            # Replayed again (a crash before the journal was emptied): nothing written twice.
            database.journal.write_text(journalled)
            assert reopened.replay_journal() == 1
            assert reopened.review_total(spend.review_id) == billed(fake_claude)
            assert len(rows_of(database.url, database.prefix)) == 2


def test_a_long_lived_worker_replays_the_journal_before_its_next_reservation(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "data" / "spend-journal.jsonl"
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", journal_path=journal) as ledger:
        earlier = spend_for(ledger)
        earlier.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)  # $0.018
        # What an outage left: a retry of that call, billed $0.018, the database never took.
        retry = CallRow(
            time=datetime.now(UTC),
            repository=REPO,
            pr_number=3,
            head_sha=None,
            trigger="auto",
            model=MODEL,
            input_tokens=1_000,
            output_tokens=1_000,
            cache_creation_input_tokens=0,
            cache_read_input_tokens=0,
            cost_usd=Decimal("0.018"),
            outcome="ok",
            review_id=earlier.review_id,
            chunk_index=0,
            attempt=2,
            row_id=new_row_id(),
        )
        Journal(journal).append([retry.to_json()])
        # $0.036 spent with the journal, $0.018 without: a third $0.018 fits $0.05 only without.
        spend = spend_for(ledger, monthly=Decimal("0.05"))
        with pytest.raises(BudgetExceeded):
            spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)
        assert not Journal(journal).has_rows()
        # The live reservation and the replayed retry both count against the month.
        assert ledger.month_to_date(REPO, datetime.now(UTC)) == Decimal("0.036")


def test_a_call_refused_before_it_was_sent_holds_nothing(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    no_key = fake_settings(fake_claude, anthropic_api_key=None)
    with Ledger.open(url) as ledger, make_client(no_key) as sdk:
        spend = spend_for(ledger)
        with pytest.raises(ConfigError):
            ChunkReviewer(sdk, model=MODEL).review(CONTEXT, [chunk(0)], sink=spend, gate=spend)
        assert ledger.month_to_date(REPO, datetime.now(UTC)) == 0
    assert fake_claude.requests == []
    assert [(r["outcome"], r["cost_pusd"]) for r in rows_of(url)] == [("not_sent", 0)]
