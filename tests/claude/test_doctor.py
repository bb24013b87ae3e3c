"""`reviewer doctor`'s Anthropic checks against the fake Messages API (the real SDK talks to it)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reviewer.claude.client import make_client
from reviewer.claude.doctor import (
    AnthropicDoctor,
    cheapest,
    offline_model_check,
)
from reviewer.claude.probe import KEY_FIX
from reviewer.spend.pricing import PriceTable
from tests.fakes.messages_server import (
    FAKE_API_KEY,
    FakeMessages,
    fake_settings,
    model_info,
)

TODAY = date(2026, 11, 30)


def _doctor(fake: FakeMessages, **overrides: Any) -> AnthropicDoctor:
    return AnthropicDoctor(
        make_client(fake_settings(fake, **overrides)), PriceTable.load(), today=TODAY
    )


def test_the_key_works_when_the_models_list_answers(fake_claude: FakeMessages) -> None:
    fake_claude.api_keys = {FAKE_API_KEY}
    check = _doctor(fake_claude).key()
    assert check.status == "ok"
    assert check.found == "the key works: 3 models available"


def test_a_bad_key_fails_with_what_to_do(fake_claude: FakeMessages) -> None:
    fake_claude.api_keys = {"sk-ant-the-right-one"}
    check = _doctor(fake_claude).key()
    assert check.status == "fail"
    assert "HTTP 401 authentication_error" in check.found
    assert check.fix == KEY_FIX


def test_an_unreachable_base_url_says_so(fake_claude: FakeMessages) -> None:
    check = _doctor(fake_claude, anthropic_base_url="http://127.0.0.1:1", max_retries=0).key()
    assert check.status == "fail" and "cannot connect" in check.found
    assert check.fix is not None and "REVIEWER_ANTHROPIC_BASE_URL" in check.fix


def test_no_key_fails_before_any_request(fake_claude: FakeMessages) -> None:
    check = _doctor(fake_claude, anthropic_api_key=None).key()
    assert check.status == "fail" and "ANTHROPIC_API_KEY is not set" in check.found
    assert fake_claude.model_requests == []


def test_a_model_the_api_does_not_know_fails_and_lists_the_others(
    fake_claude: FakeMessages,
) -> None:
    del fake_claude.models["claude-haiku-4-5"]
    doctor = _doctor(fake_claude)
    doctor.key()
    check = doctor.model("claude-haiku-4-5", "routing: docs/** → claude-haiku-4-5")
    assert check.status == "fail"
    assert check.found == (
        "claude-haiku-4-5 (routing: docs/** → claude-haiku-4-5) does not exist for this account"
    )
    assert check.fix == "choose one of: claude-opus-4-6, claude-sonnet-4-6"
    assert fake_claude.model_requests[-1] == "/v1/models/claude-haiku-4-5"


@pytest.mark.parametrize(
    ("info", "status", "found"),
    [
        (model_info("claude-sonnet-4-6"), "ok", "is available and priced"),
        (model_info("claude-sonnet-4-6", lifecycle="retired"), "fail", "is retired"),
        (
            model_info("claude-sonnet-4-6", lifecycle="deprecated", retires_at="2026-12-20T00:00Z"),
            "warn",
            "retires on 2026-12-20, in 20 days (the Models API)",
        ),
        (
            model_info("claude-sonnet-4-6", lifecycle="deprecated", retires_at="2026-10-01T00:00Z"),
            "fail",
            "retired on 2026-10-01",
        ),
        (model_info("claude-sonnet-4-6", lifecycle="deprecated"), "warn", "is deprecated"),
    ],
)
def test_a_model_near_or_past_retirement_is_named(
    fake_claude: FakeMessages, info: dict[str, Any], status: str, found: str
) -> None:
    fake_claude.models["claude-sonnet-4-6"] = info
    check = _doctor(fake_claude).model("claude-sonnet-4-6", "the default model")
    assert (check.status, check.name) == (status, "anthropic.model.claude-sonnet-4-6")
    assert found in check.found


def test_the_sdk_deprecation_list_counts_offline() -> None:
    prices = PriceTable.load()
    retiring = offline_model_check("claude-sonnet-4-5", "x", prices, date(2026, 10, 15))
    assert retiring.status == "warn" and "retires on 2026-11-30, in 46 days" in retiring.found
    gone = offline_model_check("claude-sonnet-4-5", "x", prices, date(2026, 12, 1))
    assert gone.status == "fail" and "retired on 2026-11-30" in gone.found
    assert offline_model_check("claude-sonnet-4-6", "x", prices, TODAY).status == "ok"


def test_a_priced_model_missing_from_models_json_warns(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    rates = {
        "input": "1", "output": "5", "cache_write_5m": "1.25", "cache_write_1h": "2",
        "cache_read": "0.1",
    }  # fmt: skip
    prices.write_text(json.dumps({"models": {"claude-new-9": rates}}))
    check = offline_model_check("claude-new-9", "x", PriceTable.load(prices), TODAY)
    assert check.status == "warn" and "is not in models.json" in check.found


def test_a_model_without_a_price_fails() -> None:
    check = offline_model_check("claude-new-9", "the default model", PriceTable.load(), TODAY)
    assert check.status == "fail" and "has no price in the table" in check.found
    assert check.fix is not None and "REVIEWER_PRICES_PATH" in check.fix


def test_cheapest_configured_model_is_chosen() -> None:
    prices = PriceTable.load()
    models = {"claude-opus-4-6": "a", "claude-haiku-4-5": "b", "claude-unpriced": "c"}
    assert cheapest(models, prices) == "claude-haiku-4-5"
    assert cheapest({"claude-unpriced": "c"}, prices) is None
