"""Nothing about a database, no token and no key reaches a PR note or a log line."""

from __future__ import annotations

import io
import logging
import socket
from typing import Any

import pytest

from reviewer.errors import LedgerError
from reviewer.redact import Redactor, secret_values
from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from webhook.jobs import ReviewJob, post_failure_note
from webhook.logging import configure_logging

DATABASE_URL = (
    "postgresql+psycopg://ledger_admin:hunter2-Secret@db.internal.example:6543/billing_prod"
)
# What leaks if the URL or libpq's message gets through: every part of the coordinates.
LEAKS = ("ledger_admin", "hunter2-Secret", "db.internal.example", "6543", "billing_prod")
# An error as psycopg words it, and as careless code would wrap it.
ERROR = (
    f"cannot write to the ledger {DATABASE_URL}: connection to server at "
    '"db.internal.example" (10.20.30.40), port 6543 failed: FATAL: password authentication '
    'failed for user "ledger_admin"; database "billing_prod" does not exist'
)


class Comments:
    """A PullRequests stand-in that keeps what would be posted."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def post_issue_comment(self, repo: str, number: int, body: str) -> str:
        self.bodies.append(body)
        return "https://github.example/comment/1"


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.comments = Comments()

    def pull_requests(self, installation_id: int | None = None) -> Any:
        return self.comments


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env(database_url=DATABASE_URL)


def assert_clean(text: str) -> None:
    assert [leak for leak in LEAKS if leak in text] == []


def test_the_failure_note_on_the_pr_names_no_database(settings: Settings) -> None:
    services = Services(settings)
    job = ReviewJob(delivery_id="d-1", repo="octo/widgets", pr_number=4, installation_id=1)
    post_failure_note(job, services, LedgerError(ERROR).message)  # type: ignore[arg-type]
    [body] = services.comments.bodies
    assert "could not be completed: cannot write to the ledger" in body
    assert_clean(body)


def test_log_lines_name_no_database(settings: Settings) -> None:
    stream = io.StringIO()
    handler = configure_logging(settings, stream)
    try:
        logging.getLogger("webhook.jobs").error("review failed for good: %s", ERROR)
    finally:
        logging.getLogger().removeHandler(handler)
    assert "review failed for good: cannot write to the ledger" in stream.getvalue()
    assert_clean(stream.getvalue())


def test_the_redactor_keeps_what_says_what_failed() -> None:
    text = Redactor(secret_values(Settings.from_env(database_url=DATABASE_URL)))(ERROR)
    assert text.startswith("cannot write to the ledger postgresql+psycopg://[REDACTED]")
    assert "password authentication failed" in text
    assert_clean(text)


def test_the_ledgers_own_errors_name_no_database() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://ledger_admin:hunter2-Secret@127.0.0.1:{port}/billing_prod"
    with pytest.raises(LedgerError) as caught:
        Ledger.open(url)
    message = caught.value.message
    assert message.startswith("cannot open the ledger (postgresql):")
    assert caught.value.retryable  # the database is away: a job retries
    assert_clean(message)
    assert str(port) not in message


def test_the_marker_key_is_a_secret_the_redactor_hides() -> None:
    settings = Settings.from_env({}, marker_key="fake-marker-key-abc")
    assert "fake-marker-key-abc" not in Redactor(secret_values(settings))("key fake-marker-key-abc")
