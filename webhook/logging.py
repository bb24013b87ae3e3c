"""Log lines (JSON, or text for a terminal) with the delivery, repository, PR and job they
concern, secrets redacted."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any

from reviewer.redact import REDACTED, Redactor, secret_values
from reviewer.settings import Settings

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "RedactingFilter",
    "Redactor",
    "configure_logging",
    "log_context",
    "secret_values",
]

CONTEXT_FIELDS = ("delivery_id", "repo", "pr", "job_id")

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "reviewer_log_context", default=MappingProxyType({})
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


class TextFormatter(logging.Formatter):
    """One readable line: time, level, logger, the context fields as key=value, message."""

    def __init__(self, *args: Any, redactor: Redactor | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        context = _context.get()
        fields = [
            f"{name}={value}"
            for name in CONTEXT_FIELDS
            if (value := getattr(record, name, context.get(name))) is not None
        ]
        head = " ".join([stamp, record.levelname, record.name, *fields])
        line = f"{head}: {self.redactor(record.getMessage())}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + self.redactor(record.exc_text)
        return line


FORMATTERS: dict[str, type[JsonFormatter] | type[TextFormatter]] = {
    "json": JsonFormatter,
    "text": TextFormatter,
}


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record to `stream` (stderr), redacted, at `settings.log_level`, as
    JSON or text (`settings.log_format`)."""
    redactor = Redactor(secret_values(settings))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(FORMATTERS[settings.log_format](redactor=redactor))
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


def gunicorn_logconfig(level: str, log_format: str = "json") -> dict[str, Any]:
    """Return gunicorn's `logconfig_dict`: its own and the app's records, redacted, as JSON
    or text."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            name: {"level": "INFO", "handlers": [], "propagate": True, "qualname": name}
            for name in ("gunicorn.error", "gunicorn.access")
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "filters": {"redact": {"()": "webhook.logging.redacting_filter_from_env"}},
        "formatters": {"line": {"()": f"webhook.logging.{FORMATTERS[log_format].__name__}"}},
    }
