"""REVIEWER_LOG_FORMAT: JSON lines (the default) or text lines, both redacted, with context."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest

from reviewer.errors import ConfigError
from reviewer.settings import Settings
from webhook.logging import configure_logging, gunicorn_logconfig, log_context

SECRET = "fake-webhook-secret-0123456789"


@pytest.fixture
def root_handlers() -> Iterator[None]:
    """Leave the root logger as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def emit(settings: Settings) -> str:
    stream = io.StringIO()
    configure_logging(settings, stream)
    with log_context(delivery_id="d-1", repo="octo/app", pr=7):
        logging.getLogger("test.format").warning("secret is %s", SECRET)
    return stream.getvalue()


def test_json_is_the_default(root_handlers: None) -> None:
    settings = Settings.from_env({"REVIEWER_WEBHOOK_SECRET": SECRET})

    [line] = emit(settings).splitlines()

    record = json.loads(line)
    assert record["message"] == "secret is [REDACTED]"
    assert (record["delivery_id"], record["repo"], record["pr"]) == ("d-1", "octo/app", 7)


def test_text_lines_carry_the_context_and_are_redacted(root_handlers: None) -> None:
    settings = Settings.from_env({"REVIEWER_WEBHOOK_SECRET": SECRET, "REVIEWER_LOG_FORMAT": "text"})

    [line] = emit(settings).splitlines()

    assert SECRET not in line
    assert line.endswith(
        " WARNING test.format delivery_id=d-1 repo=octo/app pr=7: secret is [REDACTED]"
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ConfigError, match="REVIEWER_LOG_FORMAT must be json or text"):
        Settings.from_env({"REVIEWER_LOG_FORMAT": "xml"})


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_gunicorn_logs_in_the_same_format(root_handlers: None, log_format: str) -> None:
    config = gunicorn_logconfig("INFO", log_format)
    stream = io.StringIO()
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)

    logging.getLogger("gunicorn.error").info("Booting worker")

    [line] = stream.getvalue().splitlines()
    if log_format == "json":
        assert json.loads(line)["message"] == "Booting worker"
    else:
        assert line.endswith(" INFO gunicorn.error: Booting worker")
