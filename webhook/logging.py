"""JSON log lines with the delivery, repository, PR and job they concern, secrets redacted."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any
from urllib.parse import urlsplit

from reviewer.settings import Settings

CONTEXT_FIELDS = ("delivery_id", "repo", "pr", "job_id")
REDACTED = "[REDACTED]"

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "reviewer_log_context", default=MappingProxyType({})
)

# Whatever the code logs, these never reach a log line.
_PATTERNS = (
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
    ),
    re.compile(r"(?i)(authorization\"?'?\s*[:=]\s*\"?'?)(?:bearer|token|basic)?\s*[^\s,;\"'}]+"),
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{10,}"),
    re.compile(r"(?i)(x-hub-signature(?:-256)?\"?'?\s*[:=]\s*\"?'?)\S+"),
)


def _stamp_context_factory() -> None:
    """Copy the context fields onto each record when it is made, in the logging thread."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_reviewer_context", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return record

    factory._reviewer_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_stamp_context_factory()


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach `fields` (delivery_id, repo, pr, job_id) to every log line inside the block."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def secret_values(settings: Settings) -> list[str]:
    """Return the configured secrets, and the passwords inside the service URLs."""
    values = [
        settings.webhook_secret,
        settings.github_private_key,
        settings.github_token,
        settings.anthropic_api_key,
        settings.metrics_token,
    ]
    for url in (settings.redis_url, settings.database_url):
        if url:
            password = urlsplit(url).password
            values.append(password)
    return [v.strip() for v in values if v and len(v.strip()) >= 4]


class Redactor:
    """Replace known secret values and credential-shaped strings with a marker."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is removed whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(_keep_prefix, text)
        return text


def _keep_prefix(match: re.Match[str]) -> str:
    prefix = match.group(1) if match.groups() else ""
    return f"{prefix}{REDACTED}"


class RedactingFilter(logging.Filter):
    """Render each record's message and traceback now, redacted, so no handler sees secrets."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redactor(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message, logger and the context fields."""

    def __init__(self, *args: Any, redactor: Redactor | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": self.redactor(record.getMessage()),
            "logger": record.name,
        }
        context = _context.get()
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, context.get(name))
            if value is not None:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = self.redactor(record.exc_text)
        return json.dumps(line, default=str)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record to `stream` (stderr) as redacted JSON at `settings.log_level`."""
    redactor = Redactor(secret_values(settings))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redactor=redactor))
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_reviewer_json", False):
            root.removeHandler(old)
    handler._reviewer_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    return handler


def redacting_filter_from_env() -> RedactingFilter:
    """Build the redacting filter from the environment's settings (gunicorn's dictConfig)."""
    from reviewer.errors import ConfigError

    try:
        secrets = secret_values(Settings.from_env())
    except ConfigError:
        secrets = []
    return RedactingFilter(Redactor(secrets))


def gunicorn_logconfig(level: str) -> dict[str, Any]:
    """Return gunicorn's `logconfig_dict`: its own and the app's records as redacted JSON."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": level.upper(), "handlers": ["json"]},
        "loggers": {
            name: {"level": "INFO", "handlers": [], "propagate": True, "qualname": name}
            for name in ("gunicorn.error", "gunicorn.access")
        },
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "filters": {"redact": {"()": "webhook.logging.redacting_filter_from_env"}},
        "formatters": {"json": {"()": "webhook.logging.JsonFormatter"}},
    }
