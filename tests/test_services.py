"""Services are opened once per process and closed at its end."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reviewer.services import open_services
from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from tests.fakes.github_api import FakeGitHub, file_item
from tests.fakes.messages_server import FAKE_API_KEY, FakeMessages, findings_answer
from tests.paths import ROOT, SAMPLE_DIFF
from webhook.jobs import JobQueue, ReviewJob

REPO = "octo/app"
PATCH = "@@ -1,2 +1,3 @@\n def f():\n-    return 1\n+    x = 2\n+    return x"


class LedgerSpy:
    """Wraps Ledger.open and Ledger.close, recording which ledgers were opened and closed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: list[Ledger] = []
        self.closed: list[Ledger] = []
        real_open, real_close = Ledger.open, Ledger.close

        def spy_open(url: str, **options: Any) -> Ledger:
            ledger = real_open(url, **options)
            self.opened.append(ledger)
            return ledger

        def spy_close(ledger: Ledger) -> None:
            self.closed.append(ledger)
            real_close(ledger)

        monkeypatch.setattr(Ledger, "open", spy_open)
        monkeypatch.setattr(Ledger, "close", spy_close)


@pytest.fixture
def ledgers(monkeypatch: pytest.MonkeyPatch) -> LedgerSpy:
    return LedgerSpy(monkeypatch)


def test_a_worker_reviewing_three_pull_requests_opens_the_ledger_once(
    fake_github: FakeGitHub, fake_claude: FakeMessages, ledgers: LedgerSpy
) -> None:
    settings = fake_github.settings(
        anthropic_api_key=FAKE_API_KEY, anthropic_base_url=fake_claude.base_url, max_retries=0
    )
    fake_claude.default = findings_answer([])
    queue = JobQueue(settings, name=f"services-{uuid.uuid4().hex[:8]}")
    outcomes = []
    for number in (1, 2, 3):
        fake_github.add_pull(REPO, number, files=[file_item(f"app/m{number}.py", patch=PATCH)])
        job = ReviewJob(delivery_id=f"d-{number}", repo=REPO, pr_number=number, installation_id=1)
        assert queue.submit(job)
        outcomes.append(queue.process(job.to_dict()))

    assert outcomes == ["reviewed"] * 3
    assert len(fake_claude.requests) == 3  # each review really called the model
    assert len(ledgers.opened) == 1 and ledgers.closed == []  # one ledger, migrated once
    [ledger] = ledgers.opened
    assert len(ledger.report(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)))
    queue.close()  # the worker stops: what it opened is closed
    assert ledgers.closed == [ledger]


def test_a_dry_run_opens_no_ledger(ledgers: LedgerSpy) -> None:
    with open_services(Settings.from_env()) as services:
        assert services.prices.price("claude-sonnet-4-6").input > 0
    assert ledgers.opened == [] and ledgers.closed == []


def test_a_ledger_handed_in_is_not_closed(tmp_path: Path, ledgers: LedgerSpy) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with open_services(Settings.from_env(), ledger=ledger) as services:
        assert services.ledger is ledger
    assert ledgers.closed == []
    ledger.close()


def test_the_dry_run_never_imports_the_sdk(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from reviewer.cli.main import main\n"
        f"sys.argv = ['reviewer', 'review', '--diff', {str(SAMPLE_DIFF)!r}, '--dry-run']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('anthropic' in sys.modules, 'github' in sys.modules, 'sqlalchemy' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "REVIEWER_DATA_DIR": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False False False"


def test_the_marker_key_is_generated_once_into_the_data_directory(tmp_path: Path) -> None:
    import stat

    from reviewer.services import MARKER_KEY_FILE, load_marker_key

    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    with open_services(settings) as services:
        key = services.marker_key
    path = tmp_path / "data" / MARKER_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 64 and load_marker_key(settings) == key  # read back, not made again
    assert load_marker_key(settings.replace(marker_key="from-the-setting")) == b"from-the-setting"
    other = Settings.from_env({}, data_dir=tmp_path / "elsewhere")
    assert load_marker_key(other) != key
