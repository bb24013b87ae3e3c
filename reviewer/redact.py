"""Redact secrets and database coordinates from text bound for logs, PR notes or `/healthz`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from reviewer.settings import Settings

REDACTED = "[REDACTED]"

# Whatever the code logs or posts, these never get through.
PATTERNS = (
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
    ),
    re.compile(r"(?i)(authorization\"?'?\s*[:=]\s*\"?'?)(?:bearer|token|basic)?\s*[^\s,;\"'}]+"),
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{10,}"),
    re.compile(r"(?i)(x-hub-signature(?:-256)?\"?'?\s*[:=]\s*\"?'?)\S+"),
    # A service URL names its user, password, host, port and database: keep the scheme only.
    re.compile(
        r"(?i)\b((?:postgres(?:ql)?|mysql|mariadb|sqlite|redis|rediss|mssql|oracle)"
        r"(?:\+[a-z0-9_]+)?://)[^\s\"'<>]*"
    ),
    # What libpq and psycopg say about a failed connection: host, port, user, database.
    re.compile(r"(?i)(connection to server (?:at|on))\s+(?:\"[^\"]*\"|\S+)(?:\s*\([^)]*\))?"),
    re.compile(r"(?i)(\bport\s+)\d+"),
    re.compile(r"(?i)(\b(?:for user|role|database|host|user)\s+)\"[^\"]*\""),
    re.compile(r"(?i)(\b(?:host|hostaddr|user|dbname|password|port)\s*=\s*)\S+"),
)


def secret_values(settings: Settings) -> list[str]:
    """Return the configured secrets, and the credentials and hosts inside the service URLs."""
    values = [
        settings.webhook_secret,
        settings.github_private_key,
        settings.github_token,
        settings.anthropic_api_key,
        settings.metrics_token,
        settings.marker_key,
    ]
    for url in (settings.redis_url, settings.database_url):
        if url:
            parts = urlsplit(url)
            values.append(parts.password)
            # A host outside loopback names the operator's infrastructure.
            if parts.hostname and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
                values.append(parts.hostname)
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
        for pattern in PATTERNS:
            text = pattern.sub(_keep_prefix, text)
        return text


def redact(text: str) -> str:
    """Redact credential-shaped strings and database coordinates (no configured secrets)."""
    return Redactor()(text)


def _keep_prefix(match: re.Match[str]) -> str:
    prefix = match.group(1) if match.groups() else ""
    return f"{prefix}{REDACTED}"
