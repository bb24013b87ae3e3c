"""Settings loaded once from prefixed environment variables into one frozen object."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reviewer.errors import ConfigError

PREFIX = "REVIEWER_"
DEFAULT_MODEL = "claude-sonnet-4-6"


def _default_data_dir(environ: Mapping[str, str]) -> Path:
    """Return the user's data directory for the reviewer (XDG on Linux)."""
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", "~")) / ".local" / "share")
    return Path(base).expanduser() / "reviewer"


REVIEW_MODES = ("realtime", "batch", "auto")


@dataclass(frozen=True)
class Settings:
    """Every knob of the reviewer; build with `Settings.from_env()`, never mutate.

    Lookup order for each value: an explicit override passed to `from_env`, then the
    `REVIEWER_*` variable, then (for the keys the SDKs define) `ANTHROPIC_*` / `GITHUB_*`,
    then the default here. A secret (a field not shown in repr) may instead name a file
    holding it, as container platforms mount them: `REVIEWER_WEBHOOK_SECRET_FILE`,
    `REVIEWER_ANTHROPIC_API_KEY_FILE`, `GITHUB_TOKEN_FILE`, ... (one trailing newline is
    dropped); setting both the value and its file is an error.
    """

    # Claude
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    model: str = DEFAULT_MODEL
    fallback_model: str | None = None
    max_output_tokens: int = 4096
    max_chunk_tokens: int = 24_000
    concurrency: int = 4  # calls in flight before the API states its rate-limit headroom
    max_concurrency: int = 16  # the most the rate-limit headers may raise it to
    max_retries: int = 3
    request_timeout_s: float = 120.0
    max_retry_after_s: float = 60.0
    count_tokens: bool = False
    # Message Batches: force a review mode (realtime | batch | auto) over the repositories'
    # review.mode; seconds between the first polls of a batch (then backing off).
    review_mode: str | None = None
    batch_poll_s: float = 10.0
    # Wait at most this long for a batch, then cancel the rest and finish in real time
    # (the Action sets 50); None: wait until the batch ends.
    batch_max_wait_minutes: float | None = None
    # `output_config.effort` for models that take it (low ... max); None: models.json's.
    effort: str | None = None
    # GitHub
    github_token: str | None = field(default=None, repr=False)
    github_app_id: str | None = None
    github_private_key: str | None = field(default=None, repr=False)
    github_api_url: str = "https://api.github.com"
    # Least seconds between two content-creating GitHub requests; None: GitHub's guidance, 1 s
    # (github/client.WRITE_INTERVAL_S). 0 turns the pause off (a test server, say).
    github_write_interval_s: float | None = None
    bot_login: str | None = None
    review_drafts: bool = False
    max_comments: int = 30
    command: str = "/review"
    fail_on: str | None = None
    config_path: str | None = None
    # The Action's `sarif-file`: where to write the review as SARIF 2.1.0 (relative to the
    # workspace), for github/codeql-action/upload-sarif.
    sarif_file: Path | None = None
    # Read-only context around each hunk (review.context): none, hunk, definition or file.
    context: str = "definition"
    # A YAML file like .github/reviewer.yml: organisation-wide defaults for every repository.
    repo_defaults_path: Path | None = None
    # Repository-config keys (dotted, or whole sections) a repository file may not change.
    locked_keys: tuple[str, ...] = ()
    # The key of the MAC on the bot's hidden markers (review key, fingerprints); None: a key
    # generated into data_dir/marker.key (the Action derives one from the Anthropic API key).
    marker_key: str | None = field(default=None, repr=False)
    # Spend
    data_dir: Path = field(default_factory=lambda: _default_data_dir(os.environ))
    database_url: str | None = field(default=None, repr=False)
    monthly_budget_usd: Decimal | None = None
    review_budget_usd: Decimal | None = None
    prices_path: Path | None = None
    # App service
    webhook_secret: str | None = field(default=None, repr=False)
    # Shown as `Authorization: Bearer ...`, /metrics and /healthz add repository names,
    # spend and backend errors; without it they show counts and states only.
    metrics_token: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    workers: int = 2
    max_body_bytes: int = 25 * 1024 * 1024
    # A request's headers and body must be in within this; a stalled client is cut off.
    webhook_read_timeout_s: float = 5.0
    delivery_ttl_s: int = 7 * 24 * 3600
    job_retries: int = 3  # transient failures retried this many times, then a note on the PR
    job_retry_delay_s: float = 30.0  # first retry delay; doubles each time
    job_lease_s: float = 120.0  # a running job whose worker stops renewing it is run again
    log_level: str = "INFO"
    log_format: str = "json"  # json (one object per line) or text (for a terminal)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings from `environ` (default `os.environ`), then apply `overrides`."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if not f.repr:
                raw = _from_file(env, PREFIX + f.name.upper(), raw)
            if raw is None:
                raw = _sdk_fallback(env, f.name)
            other = _SDK_NAMES.get(f.name)
            if raw is None and other and not f.repr:
                raw = _from_file(env, other, raw)
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, f.type, raw)
        if "data_dir" not in values:
            values["data_dir"] = _default_data_dir(env)
        key_path = env.get(PREFIX + "GITHUB_PRIVATE_KEY_PATH")
        if key_path and "github_private_key" not in values:
            try:
                values["github_private_key"] = Path(key_path).read_text()
            except OSError as exc:
                raise ConfigError(
                    f"REVIEWER_GITHUB_PRIVATE_KEY_PATH: cannot read {key_path}: {exc.strerror}",
                    key="REVIEWER_GITHUB_PRIVATE_KEY_PATH",
                ) from exc
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with `changes` applied and validated."""
        new = dataclasses.replace(self, **changes)
        new.validate()
        return new

    def validate(self) -> None:
        """Raise ConfigError naming the first setting that is out of range."""
        positive = (
            "max_output_tokens", "max_chunk_tokens", "concurrency", "max_concurrency", "workers",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{PREFIX}{name.upper()} must be at least 1", key=name)
        if self.job_retries < 0 or self.job_retry_delay_s < 0 or self.job_lease_s < 10:
            raise ConfigError(
                f"{PREFIX}JOB_RETRIES and {PREFIX}JOB_RETRY_DELAY_S must not be negative, "
                f"and {PREFIX}JOB_LEASE_S must be at least 10"
            )
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(
                    f"{PREFIX}{name.upper()} must be between {low:,} and {high:,}, not {value:,}",
                    key=name,
                )
        if not 0 < self.webhook_read_timeout_s <= 60:
            raise ConfigError(
                f"{PREFIX}WEBHOOK_READ_TIMEOUT_S must be over 0 and at most 60 seconds",
                key="webhook_read_timeout_s",
            )
        if self.max_comments < 0 or self.max_retries < 0:
            raise ConfigError(f"{PREFIX}MAX_COMMENTS and MAX_RETRIES must not be negative")
        for name in ("monthly_budget_usd", "review_budget_usd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{PREFIX}{name.upper()} must not be negative", key=name)
        severities = ("critical", "major", "minor", "nit", "none")
        if self.fail_on is not None and self.fail_on not in severities:
            raise ConfigError(
                f"{PREFIX}FAIL_ON must be one of {', '.join(severities)}", key="fail_on"
            )
        if self.log_format not in ("json", "text"):
            raise ConfigError(f"{PREFIX}LOG_FORMAT must be json or text", key="log_format")
        if self.review_mode is not None and self.review_mode not in REVIEW_MODES:
            raise ConfigError(
                f"{PREFIX}REVIEW_MODE must be one of {', '.join(REVIEW_MODES)}", key="review_mode"
            )
        if self.batch_max_wait_minutes is not None and self.batch_max_wait_minutes < 0:
            raise ConfigError(
                f"{PREFIX}BATCH_MAX_WAIT_MINUTES must not be negative",
                key="batch_max_wait_minutes",
            )
        if self.github_write_interval_s is not None and self.github_write_interval_s < 0:
            raise ConfigError(
                f"{PREFIX}GITHUB_WRITE_INTERVAL_S must not be negative",
                key="github_write_interval_s",
            )
        if self.batch_poll_s <= 0:
            raise ConfigError(f"{PREFIX}BATCH_POLL_S must be positive", key="batch_poll_s")
        if self.context not in ("none", "hunk", "definition", "file"):
            raise ConfigError(
                f"{PREFIX}CONTEXT must be one of none, hunk, definition, file", key="context"
            )
        efforts = ("low", "medium", "high", "xhigh", "max")
        if self.effort is not None and self.effort not in efforts:
            raise ConfigError(f"{PREFIX}EFFORT must be one of {', '.join(efforts)}", key="effort")
        if not self.command.startswith("/") or " " in self.command:
            raise ConfigError(f"{PREFIX}COMMAND must be one word starting with /", key="command")

    @property
    def ledger_url(self) -> str:
        """The SQLAlchemy URL of the spend ledger: PostgreSQL if set, else a SQLite file."""
        return self.database_url or f"sqlite:///{self.data_dir / 'ledger.sqlite3'}"

    @property
    def journal_path(self) -> Path:
        """The spend journal: rows the ledger database could not take, replayed when it can."""
        return self.data_dir / "spend-journal.jsonl"

    @property
    def queue_path(self) -> Path:
        """The SQLite file of the job queue when no Redis URL is set."""
        return self.data_dir / "queue.sqlite3"


# Bounds that keep a review possible: a chunk must hold a file header and some lines, and
# no Claude model writes more than 128k tokens in one answer.
_RANGES = (
    ("max_chunk_tokens", 100, 1_000_000),
    ("max_output_tokens", 256, 128_000),
)


def ensure_parent(path: Path) -> None:
    """Create the folder of a data file; ConfigError naming REVIEWER_DATA_DIR if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"REVIEWER_DATA_DIR: cannot create {path.parent}: {exc.strerror}",
            key="REVIEWER_DATA_DIR",
        ) from exc


def prefixed_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `REVIEWER_*`, `ANTHROPIC_*` and `GITHUB_*` variables set (for `reviewer doctor`)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k.startswith((PREFIX, "ANTHROPIC_", "GITHUB_"))}


def known_variables() -> frozenset[str]:
    """Every `REVIEWER_*` name `Settings.from_env` reads."""
    names = {PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}
    return frozenset({*names, PREFIX + "GITHUB_PRIVATE_KEY_PATH"})


def secret_fields() -> tuple[str, ...]:
    """The settings that hold secrets (kept out of `repr`, never printed)."""
    return tuple(f.name for f in dataclasses.fields(Settings) if not f.repr)


# Variables the SDKs and GitHub Actions define themselves, honoured under their own names.
_SDK_NAMES = {
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "anthropic_base_url": "ANTHROPIC_BASE_URL",
    "github_token": "GITHUB_TOKEN",
    "github_api_url": "GITHUB_API_URL",
}


def _from_file(env: Mapping[str, str], name: str, value: str | None) -> str | None:
    """The secret in the file `<name>_FILE` names, else `value`; ConfigError if both are set."""
    path = env.get(name + "_FILE")
    if not path:
        return value
    if value:
        raise ConfigError(f"{name} and {name}_FILE are both set: keep one", key=name)
    try:
        text = Path(path).expanduser().read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{name}_FILE: cannot read {path}: {reason}", key=name) from exc
    return text[:-1] if text.endswith("\n") else text


def _sdk_fallback(env: Mapping[str, str], name: str) -> str | None:
    other = _SDK_NAMES.get(name)
    return env.get(other) if other else None


def _convert(name: str, type_name: Any, raw: str) -> Any:
    key = PREFIX + name.upper()
    kind = str(type_name)
    try:
        if kind.startswith("bool"):
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("Decimal"):
            return Decimal(raw)
        if kind.startswith("Path"):
            return Path(raw).expanduser()
        if kind.startswith("tuple"):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
    except (ValueError, InvalidOperation) as exc:
        raise ConfigError(f"{key}: cannot read {raw!r} as {kind.split(' ')[0]}", key=key) from exc
    return raw
