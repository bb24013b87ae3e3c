"""Open a process's services once: the ledger, the price table, the Claude and GitHub clients.

The composition root. A CLI run, an Action run and each worker process call `open_services`
once and hand the `Services` to every use case, which sees them only through the Protocols in
`reviewer.review.ports`. Each client is built on first use (a dry run opens no ledger and never
imports the SDK) and closed when the block ends; clients handed in (tests, benchmarks) stay
open, since their owner closes them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING

from reviewer.core.models import model_spec
from reviewer.errors import ConfigError
from reviewer.model import Trigger
from reviewer.settings import Settings, ensure_parent
from reviewer.spend.pricing import PriceTable

if TYPE_CHECKING:
    from reviewer.claude.answer import TextAnswerer
    from reviewer.claude.batch import BatchRunner
    from reviewer.claude.client import ChunkReviewer, ClaudeClient
    from reviewer.github.client import GitHubClient
    from reviewer.spend.budget import ReviewSpend
    from reviewer.spend.findings import FindingBook
    from reviewer.spend.ledger import Ledger


class Services:
    """What one process opened, handed out by the review ports' names."""

    def __init__(
        self,
        settings: Settings,
        *,
        ledger: Ledger | None = None,
        anthropic_client: ClaudeClient | None = None,
        github: GitHubClient | None = None,
        prices: PriceTable | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._sleep = sleep  # between batch polls (tests pass one that returns at once)
        self._ledger = ledger
        self._anthropic = anthropic_client
        self._github: dict[int | None, GitHubClient] = {}
        self._given_github = github
        self._prices = prices
        self._marker_key: bytes | None = None
        # What this object built, and so must close.
        self._owns_ledger = ledger is None
        self._owns_anthropic = anthropic_client is None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def prices(self) -> PriceTable:
        with self._lock:
            if self._prices is None:
                self._prices = PriceTable.load(self._settings.prices_path)
            return self._prices

    @property
    def marker_key(self) -> bytes:
        """The key of the MAC on hidden markers: the setting, else the data directory's file."""
        with self._lock:
            if self._marker_key is None:
                self._marker_key = load_marker_key(self._settings)
            return self._marker_key

    @property
    def ledger(self) -> Ledger:
        """The spend ledger, opened (and migrated) on first use, once per process."""
        with self._lock:
            if self._ledger is None:
                from reviewer.spend.ledger import Ledger

                # Replays the spend journal: rows written while the database was away.
                self._ledger = Ledger.open(
                    self._settings.ledger_url, journal_path=self._settings.journal_path
                )
            return self._ledger

    def claude(self) -> ClaudeClient:
        """The SDK client; the SDK is imported only when a model is first called."""
        with self._lock:
            if self._anthropic is None:
                from reviewer.claude.client import make_client

                self._anthropic = make_client(self._settings)
            return self._anthropic

    def pull_requests(self, installation_id: int | None = None) -> GitHubClient:
        """GitHub for one App installation (or the configured token), built once."""
        if self._given_github is not None:
            return self._given_github
        with self._lock:
            client = self._github.get(installation_id)
            if client is None:
                from reviewer.github.client import GitHubClient

                client = GitHubClient.from_settings(self._settings, installation_id=installation_id)
                self._github[installation_id] = client
            return client

    def model_runner(self, model: str) -> ChunkReviewer:
        from reviewer.claude.client import ChunkReviewer

        settings = self._settings
        return ChunkReviewer(
            self.claude(),
            model=model,
            # Thinking tokens are output tokens: max_tokens, and so the budget reservation,
            # hold the model's thinking reserve on top of the answer (data/models.json).
            max_output_tokens=model_spec(model).output_tokens(settings.max_output_tokens),
            concurrency=settings.concurrency,
            max_concurrency=settings.max_concurrency,
            fallback_model=settings.fallback_model,
            count_tokens=settings.count_tokens,
            effort=settings.effort,
        )

    def batch_runner(self, model: str) -> BatchRunner:
        """The Message Batches runner for `model`; jobs kept in the ledger database."""
        from reviewer.claude.batch import BatchRunner
        from reviewer.spend.batch_jobs import BatchJobs, utc_now

        settings = self._settings

        def realtime(model: str, max_tokens: int, may_fall_back: bool) -> ChunkReviewer:
            from reviewer.claude.client import ChunkReviewer

            return ChunkReviewer(
                self.claude(),
                model=model,
                max_output_tokens=max_tokens,
                concurrency=settings.concurrency,
                fallback_model=settings.fallback_model if may_fall_back else None,
                count_tokens=settings.count_tokens,
                effort=settings.effort,
            )

        return BatchRunner(
            self.claude(),
            BatchJobs(self.ledger),
            model=model,
            max_output_tokens=model_spec(model).output_tokens(settings.max_output_tokens),
            fallback_model=settings.fallback_model,
            realtime=realtime,
            clock=utc_now,
            sleep=self._sleep,
            poll_s=settings.batch_poll_s,
            effort=settings.effort,
        )

    def answerer(self, model: str) -> TextAnswerer:
        """Plain-text answers (threads, /ask) from `model`."""
        from reviewer.claude.answer import TextAnswerer

        return TextAnswerer(self.claude(), model=model)

    def findings(self) -> FindingBook:
        """The findings table, in the ledger's database (opened on first use)."""
        from reviewer.spend.findings import FindingBook

        return FindingBook(self.ledger)

    def spend_book(
        self,
        *,
        repo: str,
        pr_number: int | None,
        head_sha: str | None,
        trigger: Trigger,
        monthly_usd: Decimal | None,
        review_usd: Decimal | None,
        review_id: str | None = None,
        kind: str = "review",
    ) -> ReviewSpend:
        from reviewer.spend.budget import Limits, ReviewSpend

        return ReviewSpend(
            self.ledger,
            self.prices,
            review_id=review_id,
            # A batch job collected in another process: its earlier rounds count.
            spent=self.ledger.review_total(review_id) if review_id else Decimal(0),
            repo=repo,
            pr_number=pr_number,
            head_sha=head_sha,
            trigger=trigger,
            limits=Limits(monthly_usd, review_usd),
            kind=kind,
        )

    def close(self) -> None:
        """Close what this object opened; clients handed in stay open."""
        with self._lock:
            clients, self._github = list(self._github.values()), {}
            ledger = self._ledger if self._owns_ledger else None
            sdk = self._anthropic if self._owns_anthropic else None
            self._ledger = None if self._owns_ledger else self._ledger
            self._anthropic = None if self._owns_anthropic else self._anthropic
        for client in clients:
            client.close()
        if sdk is not None:
            sdk.close()
        if ledger is not None:
            ledger.close()


MARKER_KEY_FILE = "marker.key"


def load_marker_key(settings: Settings) -> bytes:
    """`REVIEWER_MARKER_KEY` (or its `_FILE`), else `data_dir/marker.key`, made (0600) if absent.

    Every process of one deployment must share the key: with the App on several machines,
    set REVIEWER_MARKER_KEY (or share the data directory).
    """
    if settings.marker_key:
        return settings.marker_key.encode("utf-8")
    path = settings.data_dir / MARKER_KEY_FILE
    ensure_parent(path)
    try:  # O_EXCL: of two processes starting at once, one writes and both read its key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(
            f"REVIEWER_DATA_DIR: cannot create {path}: {exc.strerror}", key="REVIEWER_DATA_DIR"
        ) from exc
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"REVIEWER_DATA_DIR: cannot read {path}: {exc.strerror}", key="REVIEWER_DATA_DIR"
        ) from exc
    if not key:  # a writer stopped between creating and writing the file
        raise ConfigError(
            f"{path} is empty: delete it to make a new key", key="REVIEWER_MARKER_KEY"
        )
    return key.encode("utf-8")


def derived_marker_key(secret: str) -> str:
    """A marker key derived from a secret every run has (the Action: the Anthropic API key)."""
    return hmac.new(secret.encode("utf-8"), b"reviewer marker key v1", hashlib.sha256).hexdigest()


@contextmanager
def open_services(
    settings: Settings,
    *,
    ledger: Ledger | None = None,
    anthropic_client: ClaudeClient | None = None,
    github: GitHubClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Services]:
    """Services for one process (a CLI run, an Action run, a worker), closed at the end."""
    services = Services(
        settings, ledger=ledger, anthropic_client=anthropic_client, github=github, sleep=sleep
    )
    try:
        yield services
    finally:
        services.close()
