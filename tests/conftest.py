"""Shared fixtures: a clean environment for every test, and the policy for real services."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakes.messages_server", "tests.fakes.github_api"]

FIXTURES = Path(__file__).parent / "fixtures"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/15"

_CLEARED_PREFIXES = ("REVIEWER_", "GITHUB_", "ANTHROPIC_", "INPUT_")


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Clear every variable the reviewer reads and point its data at tmp_path."""
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) and name != "REVIEWER_REQUIRE_SERVICES":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REVIEWER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    yield


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def require_service(name: str, port: int) -> None:
    """Skip when the service is absent, unless CI demands it (REVIEWER_REQUIRE_SERVICES=1)."""
    if _port_open(port):
        return
    reason = f"{name} is not listening on 127.0.0.1:{port}"
    if os.environ.get("REVIEWER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and REVIEWER_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> str:
    require_service("PostgreSQL", 5432)
    return POSTGRES_URL


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", 6379)
    return REDIS_URL
