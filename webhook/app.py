"""The GitHub App's web endpoint: verify, parse, route by (event, action), enqueue."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import ClientDisconnected

from reviewer.errors import ConfigError
from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from webhook import metrics
from webhook import payload as fields
from webhook.jobs import JobQueue, ReviewJob
from webhook.logging import Redactor, log_context, secret_values
from webhook.payload import BadDelivery, decode, read_limited
from webhook.store import open_store
from webhook.store.base import DeliveryStore

log = logging.getLogger("webhook.app")

Enqueue = Callable[[ReviewJob], None]

PR_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
ASK_COMMAND = "/ask"
THREAD_ACTIONS = frozenset({"resolved", "unresolved"})
COMMAND_RE = re.compile(r"/[A-Za-z][A-Za-z0-9_-]{0,31}")
_EVENT_NAME = re.compile(r"^[a-z_]{1,40}$")
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Decision:
    """What to answer to one delivery, and the job to queue if any."""

    status: int
    outcome: str  # pong | ignored | queued
    reason: str
    job: ReviewJob | None = None


def check_webhook_secret(secret: str | None) -> str:
    """Return the webhook secret, or ConfigError if it is missing or too weak to sign with."""
    if not secret or not secret.strip():
        raise ConfigError(
            "REVIEWER_WEBHOOK_SECRET is not set (the App's webhook secret)",
            key="REVIEWER_WEBHOOK_SECRET",
        )
    if len(secret.strip()) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"REVIEWER_WEBHOOK_SECRET is shorter than {MIN_SECRET_LENGTH} characters: "
            "use a long random value (openssl rand -hex 32)",
            key="REVIEWER_WEBHOOK_SECRET",
        )
    return secret


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Check GitHub's `X-Hub-Signature-256: sha256=<hex HMAC of body>` in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


_HANDLERS: dict[str, Callable[[dict[str, Any], str, Settings], Decision]] = {}


def handles(event: str) -> Callable[[Callable[..., Decision]], Callable[..., Decision]]:
    def register(fn: Callable[..., Decision]) -> Callable[..., Decision]:
        _HANDLERS[event] = fn
        return fn

    return register


def route(event: str, payload: dict[str, Any], delivery_id: str, settings: Settings) -> Decision:
    """Decide what one verified delivery asks for (no I/O); raise BadDelivery if malformed."""
    handler = _HANDLERS.get(event)
    if handler is None:
        return Decision(202, "ignored", f"event {event!r} is not handled")
    return handler(payload, delivery_id, settings)


def _ignored(reason: str) -> Decision:
    return Decision(202, "ignored", reason)


def _installation_id(payload: dict[str, Any]) -> int:
    installation = payload.get("installation")
    if not isinstance(installation, dict) or "id" not in installation:
        raise BadDelivery("missing installation.id: is the webhook set on the GitHub App?")
    return fields.number(payload, "installation", "id")


@handles("ping")
def _ping(payload: dict[str, Any], delivery_id: str, settings: Settings) -> Decision:
    return Decision(200, "pong", "pong")


@handles("pull_request")
def _pull_request(payload: dict[str, Any], delivery_id: str, settings: Settings) -> Decision:
    installation_id = _installation_id(payload)
    action = fields.optional_text(payload, "action")
    if action not in PR_ACTIONS:
        return _ignored(f"pull_request action {action!r} is not reviewed")
    if fields.text(payload, "pull_request", "state") != "open":
        return _ignored("the pull request is closed")
    # Drafts go to the engine: a repository's own `review.drafts` may ask for them.
    job = ReviewJob(
        delivery_id=delivery_id,
        repo=fields.repo_name(payload),
        pr_number=fields.number(payload, "pull_request", "number"),
        installation_id=installation_id,
        trigger="auto",
        expected_head_sha=fields.sha(payload, "pull_request", "head", "sha"),
        event="pull_request",
        action=action,
    )
    return Decision(202, "queued", f"review of {job.lock_key} queued", job)


# The event a person's comment arrives in, by where the pull request's number is.
_COMMENT_EVENTS = {"issue": "issue_comment", "pull_request": "pull_request_review_comment"}


@handles("issue_comment")
def _issue_comment(payload: dict[str, Any], delivery_id: str, settings: Settings) -> Decision:
    installation_id = _installation_id(payload)
    action = fields.optional_text(payload, "action")
    if action != "created":
        return _ignored(f"issue_comment action {action!r} is not handled")
    issue = fields.obj(payload, "issue")
    if not issue.get("pull_request"):
        return _ignored("comment on an issue, not a pull request")
    if fields.optional_text(payload, "comment", "user", "type") == "Bot":
        return _ignored("comment by a bot")
    words = (fields.optional_text(payload, "comment", "body") or "").split(maxsplit=1)
    # A repository may choose its own command (review.command in its config, which only the
    # worker reads): any single /word is queued, and the engine drops the ones not in use.
    if not words or not (words[0] == settings.command or COMMAND_RE.fullmatch(words[0])):
        return _ignored(f"comment does not start with {settings.command} or another /command")
    if fields.optional_text(payload, "issue", "state") == "closed":
        return _ignored("the pull request is closed")
    if words[0] == ASK_COMMAND and settings.command != ASK_COMMAND:
        text = words[1] if len(words) > 1 else ""
        job = _comment_job(
            payload, delivery_id, installation_id, "issue", command=ASK_COMMAND, kind="ask",
            text=text,
        )  # fmt: skip
        return Decision(202, "queued", f"/ask on {job.lock_key} queued", job)
    job = _comment_job(payload, delivery_id, installation_id, "issue", command=words[0])
    return Decision(202, "queued", f"{words[0]} on {job.lock_key} queued", job)


def _comment_job(
    payload: dict[str, Any],
    delivery_id: str,
    installation_id: int,
    parent: str,
    **details: Any,
) -> ReviewJob:
    """The job a person's comment asks for; `parent` holds the PR's number ("issue" or
    "pull_request"), `details` what the comment asks (command, kind, text, ...)."""
    return ReviewJob(
        delivery_id=delivery_id,
        repo=fields.repo_name(payload),
        pr_number=fields.number(payload, parent, "number"),
        installation_id=installation_id,
        trigger="command",
        requested_by=fields.text(payload, "comment", "user", "login", max_len=100),
        comment_id=fields.number(payload, "comment", "id"),
        event=_COMMENT_EVENTS[parent],
        **details,
    )


@handles("pull_request_review_comment")
def _review_comment(payload: dict[str, Any], delivery_id: str, settings: Settings) -> Decision:
    """A comment in a review thread: the worker answers it if it is in one of the bot's."""
    installation_id = _installation_id(payload)
    action = fields.optional_text(payload, "action")
    if action != "created":
        return _ignored(f"pull_request_review_comment action {action!r} is not handled")
    if fields.optional_text(payload, "comment", "user", "type") == "Bot":
        return _ignored("comment by a bot")  # the bot's own answers included
    if fields.optional_text(payload, "pull_request", "state") == "closed":
        return _ignored("the pull request is closed")
    reply_to = fields.obj(payload, "comment").get("in_reply_to_id")
    if reply_to is not None and (isinstance(reply_to, bool) or not isinstance(reply_to, int)):
        raise BadDelivery("comment.in_reply_to_id is not an integer")
    job = _comment_job(
        payload, delivery_id, installation_id, "pull_request", kind="reply",
        text=fields.optional_text(payload, "comment", "body") or "", in_reply_to=reply_to,
    )  # fmt: skip
    return Decision(202, "queued", f"reply on {job.lock_key} queued", job)


@handles("pull_request_review_thread")
def _review_thread(payload: dict[str, Any], delivery_id: str, settings: Settings) -> Decision:
    """A thread resolved (maybe a dismissal) or unresolved: the worker records which."""
    installation_id = _installation_id(payload)
    action = fields.optional_text(payload, "action")
    if action not in THREAD_ACTIONS:
        return _ignored(f"pull_request_review_thread action {action!r} is not handled")
    if fields.optional_text(payload, "sender", "type") == "Bot":
        return _ignored("thread changed by a bot")  # the bot resolving its own fixed threads
    job = ReviewJob(
        delivery_id=delivery_id,
        repo=fields.repo_name(payload),
        pr_number=fields.number(payload, "pull_request", "number"),
        installation_id=installation_id,
        trigger="command",
        event="pull_request_review_thread",
        action=action,
        kind="thread",
    )
    return Decision(202, "queued", f"thread {action} on {job.lock_key} queued", job)


class _Service:
    """What the request handlers share: settings, the store, the queue and a redactor."""

    def __init__(
        self, settings: Settings, store: DeliveryStore, enqueue: Enqueue, queue: JobQueue | None
    ):
        self.settings = settings
        self.store = store
        self.enqueue = enqueue
        self.queue = queue
        self.redact = Redactor(secret_values(settings))
        self._ledger: Ledger | None = None

    def count(self, event: str, outcome: str) -> None:
        try:
            self.store.incr({metrics.series(metrics.DELIVERIES, event=event, outcome=outcome): 1.0})
        except Exception as exc:  # metrics must never cost a delivery
            log.warning("could not count a delivery: %s", self.redact(str(exc)))

    def check_ledger(self) -> None:
        """Open the spend ledger once (it migrates), then read from it on every check."""
        if self._ledger is None:
            self._ledger = Ledger.open(self.settings.ledger_url)
        self._ledger.migrations()


def create_app(
    settings: Settings | None = None,
    *,
    enqueue: Enqueue | None = None,
    queue: JobQueue | None = None,
) -> Flask:
    """Build the webhook app; refuse to without a webhook secret.

    `enqueue` replaces the huey queue (tests); `queue` passes a ready JobQueue.
    """
    settings = settings or Settings.from_env()
    secret = check_webhook_secret(settings.webhook_secret)
    if enqueue is None:
        queue = queue or JobQueue(settings)
        enqueue = queue.enqueue
    store = queue.store if queue is not None else open_store(settings)
    service = _Service(settings, store, enqueue, queue)

    app = Flask("webhook")
    app.extensions["reviewer"] = service

    def reply(
        status: int, event: str, outcome: str, reason: str, counted: bool = False, **extra: Any
    ) -> Response:
        if not counted:
            service.count(event, outcome)
        body = {"status": outcome, "reason": reason, **extra}
        if status >= 400:
            log.info("delivery refused (%d): %s", status, reason)
        return Response(json.dumps(body) + "\n", status, mimetype="application/json")

    @app.post("/webhook")
    def webhook() -> Response:
        claimed = request.headers.get("X-GitHub-Event", "")
        unverified = "unverified"
        limit = settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return reply(413, unverified, "too_large", f"body over {limit} bytes")
        try:
            body = read_limited(request.stream, limit)
        except ClientDisconnected:  # or cut at REVIEWER_WEBHOOK_READ_TIMEOUT_S
            return reply(400, unverified, "bad_request", "the body ended before its length")
        if body is None:
            return reply(413, unverified, "too_large", f"body over {limit} bytes")
        signature = request.headers.get("X-Hub-Signature-256")
        if not signature:
            return reply(401, unverified, "unauthorized", "missing X-Hub-Signature-256")
        if not verify_signature(secret, body, signature):
            return reply(401, unverified, "unauthorized", "X-Hub-Signature-256 does not match")
        event = claimed if _EVENT_NAME.match(claimed) else "invalid"
        delivery_id = request.headers.get("X-GitHub-Delivery", "").strip()
        if event == "invalid":
            return reply(400, event, "bad_request", "missing or invalid X-GitHub-Event")
        if not delivery_id or len(delivery_id) > 100:
            return reply(400, event, "bad_request", "missing or invalid X-GitHub-Delivery")
        with log_context(delivery_id=delivery_id):
            try:
                payload = decode(body, request.headers.get("Content-Type", ""))
                decision = route(event, payload, delivery_id, settings)
            except BadDelivery as exc:
                return reply(400, event, "bad_request", str(exc))
            if decision.job is None:
                return reply(decision.status, event, decision.outcome, decision.reason)
            return _submit(decision, event, decision.job)

    def _submit(decision: Decision, event: str, job: ReviewJob) -> Response:
        with log_context(repo=job.repo, pr=job.pr_number, job_id=job.job_id):
            # Counted in the claim's own transaction: one write per delivery, not two.
            queued = {metrics.series(metrics.DELIVERIES, event=event, outcome="queued"): 1.0}
            try:
                fresh = store.claim(
                    job.dedupe_key,
                    job_id=job.job_id,
                    lock_key=job.lock_key,
                    payload=job.to_dict(),
                    counters=queued,
                )
            except Exception as exc:
                log.error("delivery store unavailable: %s", service.redact(str(exc)))
                return reply(503, event, "error", "the delivery store is unavailable")
            if not fresh:
                log.info("duplicate delivery acknowledged")
                what = "comment" if job.comment_id is not None else "delivery"
                return reply(200, event, "duplicate", f"this {what} was already received")
            try:
                service.enqueue(job)
            except Exception as exc:
                # Counted as queued and as an error: a counter never goes down.
                store.release(job.dedupe_key, job.job_id)
                log.error("queue unavailable: %s", service.redact(str(exc)))
                return reply(503, event, "error", "the job queue is unavailable")
            log.info("job queued: %s", decision.reason)
            return reply(202, event, "queued", decision.reason, counted=True, job_id=job.job_id)

    def detailed() -> bool:
        """Whether the caller showed REVIEWER_METRICS_TOKEN (names, spend, hosts may show)."""
        token = settings.metrics_token
        given = request.headers.get("Authorization", "")
        return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    @app.get("/healthz")
    def healthz() -> Response:
        checks = {}
        try:
            if service.queue is not None:
                service.queue.ping()
            else:
                store.ping()
            checks["queue"] = "ok"
            service.check_ledger()
            checks["ledger"] = "ok"
        except Exception as exc:
            failed = "queue" if "queue" not in checks else "ledger"
            body = {"status": "unavailable", **checks, failed: "unavailable"}
            log.warning("health check failed: %s", service.redact(f"{failed}: {exc}"))
            if detailed():  # an error names hosts, ports, database names
                reason = service.redact(f"{failed}: {exc.__class__.__name__}: {exc}")
                body["reason"] = reason.splitlines()[0][:300]
            return Response(json.dumps(body) + "\n", 503, mimetype="application/json")
        return Response(
            json.dumps({"status": "ok", **checks}) + "\n", 200, mimetype="application/json"
        )

    @app.get("/metrics")
    def prometheus() -> Response:
        text = metrics.render(store.counters(), store.state_counts(), detailed=detailed())
        return Response(text, 200, content_type="text/plain; version=0.0.4; charset=utf-8")

    return app
