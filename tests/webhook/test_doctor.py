"""`reviewer doctor`'s Redis check."""

from __future__ import annotations

from reviewer.settings import Settings
from webhook.doctor import redis_check


def test_redis_not_configured_is_skipped() -> None:
    check = redis_check(Settings.from_env({}))
    assert check.status == "skip" and check.found.startswith("not configured")


def test_redis_that_answers(redis_url: str) -> None:
    check = redis_check(Settings.from_env({}, redis_url=redis_url))
    assert check.status == "ok" and check.found.endswith("at 127.0.0.1:6379 answers")


def test_redis_down_fails_without_its_password() -> None:
    settings = Settings.from_env({}, redis_url="redis://:doctor-redis-pw@127.0.0.1:1/0")
    check = redis_check(settings)
    assert check.status == "fail"
    assert check.found == "Redis at 127.0.0.1:1 does not answer: ConnectionError"
    assert "doctor-redis-pw" not in f"{check.found} {check.fix}"


def test_a_url_that_is_not_redis_fails() -> None:
    check = redis_check(Settings.from_env({}, redis_url="http://127.0.0.1:1/"))
    assert check.status == "fail" and "not a redis:// URL" in check.found
