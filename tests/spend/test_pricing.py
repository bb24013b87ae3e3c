"""Tests for reviewer/pricing.py: the shipped table, overrides and exact costs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest
from anthropic.types.model_param import ModelParam

from reviewer.errors import ConfigError, UnknownModelError
from reviewer.spend.pricing import PriceTable, cost_of, estimate_cost
from reviewer.spend.usage import CallRecord

# Ids the SDK lists that have no published price yet (see the notes in prices.json).
UNPRICED = {"claude-mythos-5-2", "claude-mythos-preview"}


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def record(model: str = "claude-sonnet-4-6", **usage: object) -> CallRecord:
    return CallRecord(model=model, chunk_index=0, attempt=1, outcome="ok", **usage)  # type: ignore[arg-type]


def sdk_model_ids() -> list[str]:
    literal = get_args(ModelParam)[0]
    return sorted(get_args(literal))


@pytest.mark.parametrize("model", sdk_model_ids())
def test_every_sdk_model_is_priced_or_listed_as_unpriced(table: PriceTable, model: str) -> None:
    if model in UNPRICED:
        with pytest.raises(UnknownModelError):
            table.price(model)
    else:
        assert table.price(model).input > 0


def test_every_haiku_sonnet_opus_id_is_priced(table: PriceTable) -> None:
    families = [m for m in sdk_model_ids() if any(f in m for f in ("haiku", "sonnet", "opus"))]
    assert len(families) >= 12
    for model in families:
        table.price(model)


def test_dated_alias_has_the_price_of_its_model(table: PriceTable) -> None:
    assert table.price("claude-sonnet-4-5-20250929") == table.price("claude-sonnet-4-5")
    assert table.price("claude-haiku-4-5-20251001").model == "claude-haiku-4-5"


# 1,000 input, 2,000 cache writes (no TTL breakdown: 5 minutes), 3,000 cache reads and
# 4,000 output tokens, priced by hand from the published rates.
@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-opus-4-5", "0.119"),
        ("claude-opus-4-8", "0.119"),
        ("claude-opus-5", "0.119"),
        ("claude-opus-5-5", "0.0946"),
        ("claude-sonnet-4-5", "0.0714"),
        ("claude-sonnet-4-6", "0.0714"),
        ("claude-sonnet-5", "0.0476"),
        ("claude-sonnet-5-5", "0.0473"),
        ("claude-haiku-4-5", "0.0238"),
        ("claude-haiku-5-5", "0.00238"),
        ("claude-fable-5", "0.238"),
        ("claude-fable-5-1", "0.23575"),
        ("claude-mythos-5-1", "0.23575"),
        ("claude-fable-5-2", "0.1886"),
    ],
)
def test_cost_per_model(table: PriceTable, model: str, expected: str) -> None:
    usage = record(
        model,
        input_tokens=1_000,
        cache_creation_input_tokens=2_000,
        cache_read_input_tokens=3_000,
        output_tokens=4_000,
    )
    assert cost_of(usage, table.price(model)) == Decimal(expected)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"input_tokens": 1_234}, "0.003702"),
        ({"output_tokens": 567}, "0.008505"),
        ({"cache_read_input_tokens": 10_001}, "0.0030003"),
        # No breakdown: all cache writes at the 5-minute rate ($3.75).
        ({"cache_creation_input_tokens": 1_001}, "0.00375375"),
        # Breakdown present: 5-minute at $3.75, 1-hour at $6.
        (
            {
                "cache_creation_input_tokens": 3_000,
                "cache_write_5m_tokens": 1_000,
                "cache_write_1h_tokens": 2_000,
            },
            "0.01575",
        ),
        (
            {
                "cache_creation_input_tokens": 777,
                "cache_write_5m_tokens": 0,
                "cache_write_1h_tokens": 777,
            },
            "0.004662",
        ),
        # A breakdown short of the total: the rest is billed as 5-minute writes.
        (
            {"cache_creation_input_tokens": 1_000, "cache_write_1h_tokens": 400},
            "0.00465",
        ),
        ({}, "0"),
    ],
)
def test_cost_per_token_kind(table: PriceTable, usage: dict[str, int], expected: str) -> None:
    assert cost_of(record(**usage), table.price("claude-sonnet-4-6")) == Decimal(expected)


def test_batch_is_half_of_every_kind(table: PriceTable) -> None:
    usage = {
        "input_tokens": 1_000,
        "output_tokens": 1_001,
        "cache_creation_input_tokens": 3,
        "cache_write_5m_tokens": 1,
        "cache_write_1h_tokens": 2,
        "cache_read_input_tokens": 5,
    }
    price = table.price("claude-haiku-5-5")
    standard = cost_of(record("claude-haiku-5-5", **usage), price)
    batch = cost_of(record("claude-haiku-5-5", service_tier="batch", **usage), price)
    # 1,000 × 0.10 + 1,001 × 0.50 + 1 × 0.125 + 2 × 0.20 + 5 × 0.01, per million.
    assert standard == Decimal("0.000601075")
    assert batch == Decimal("0.0003005375")
    assert batch * 2 == standard


def test_haiku_5_5_long_prompt_bills_the_whole_request_at_the_higher_rates(
    table: PriceTable,
) -> None:
    price = table.price("claude-haiku-5-5")
    at_threshold = record("claude-haiku-5-5", input_tokens=60_000, cache_read_input_tokens=40_000)
    over = record(
        "claude-haiku-5-5",
        input_tokens=60_000,
        cache_read_input_tokens=40_000,
        cache_creation_input_tokens=1,
        output_tokens=1_000,
    )
    assert cost_of(at_threshold, price) == Decimal("0.0064")
    # 60,000 × 0.50 + 40,000 × 0.05 + 1 × 0.625 + 1,000 × 2.50, per million.
    assert cost_of(over, price) == Decimal("0.034500625")


def test_estimate_cost(table: PriceTable) -> None:
    price = table.price("claude-opus-4-6")
    assert estimate_cost(price, input_tokens=20_000, output_tokens=4_096) == Decimal("0.2024")
    haiku = table.price("claude-haiku-5-5")
    assert estimate_cost(haiku, input_tokens=150_000, output_tokens=0) == Decimal("0.075")


def test_unknown_model_is_an_error_listing_the_known_ids(table: PriceTable) -> None:
    with pytest.raises(UnknownModelError) as caught:
        table.price("claude-sonnet-9")
    message = caught.value.message
    assert "'claude-sonnet-9'" in message
    assert "claude-sonnet-4-6" in message and "claude-haiku-4-5-20251001" in message
    assert isinstance(caught.value, ConfigError)


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_override_changes_one_rate_and_adds_a_model(tmp_path: Path) -> None:
    path = write(
        tmp_path / "prices.json",
        {
            "models": {
                "claude-sonnet-4-6": {"cache_read": "0.25"},
                "claude-sonnet-4-5-20250929": {"output": "14"},
                "my-proxy-model": {
                    "input": "1.5",
                    "output": 7.5,
                    "cache_write_5m": "2",
                    "cache_write_1h": "3",
                    "cache_read": "0.15",
                    "aliases": ["my-proxy-model-latest"],
                },
            }
        },
    )
    table = PriceTable.load(path)
    sonnet = table.price("claude-sonnet-4-6")
    assert (sonnet.input, sonnet.cache_read) == (Decimal(3), Decimal("0.25"))
    assert table.price("claude-sonnet-4-5").output == Decimal(14)
    proxy = table.price("my-proxy-model-latest")
    assert proxy.output == Decimal("7.5")
    assert cost_of(record("my-proxy-model", output_tokens=3), proxy) == Decimal("0.0000225")
    # The shipped table is untouched for other models.
    assert table.price("claude-opus-4-6").input == Decimal(5)


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ("{not json", None),
        ({"prices": {}}, "models"),
        ({"models": {"claude-sonnet-4-6": "3"}}, "models.claude-sonnet-4-6"),
        ({"models": {"claude-sonnet-4-6": {"input": "three"}}}, "models.claude-sonnet-4-6.input"),
        ({"models": {"claude-sonnet-4-6": {"input": "-1"}}}, "models.claude-sonnet-4-6.input"),
        ({"models": {"claude-sonnet-4-6": {"input": True}}}, "models.claude-sonnet-4-6.input"),
        (
            {"models": {"claude-sonnet-4-6": {"input": "0.0000001"}}},
            "models.claude-sonnet-4-6.input",
        ),
        ({"models": {"claude-sonnet-4-6": {"inptu": "3"}}}, "models.claude-sonnet-4-6"),
        ({"models": {"new-model": {"input": "3"}}}, "models.new-model.output"),
        ({"models": {"claude-opus-4-6": {"aliases": "x"}}}, "models.claude-opus-4-6.aliases"),
        (
            {"models": {"claude-haiku-5-5": {"long_prompt": {"input": "1"}}}},
            "models.claude-haiku-5-5.long_prompt.threshold_tokens",
        ),
    ],
)
def test_malformed_override_names_the_file_and_key(
    tmp_path: Path, content: object, key: str | None
) -> None:
    path = write(tmp_path / "bad-prices.json", content)
    with pytest.raises(ConfigError) as caught:
        PriceTable.load(path)
    assert str(path) in caught.value.message
    assert caught.value.path == str(path)
    if key is not None:
        assert caught.value.key == key
        assert key in caught.value.message


def test_missing_override_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        PriceTable.load(tmp_path / "absent.json")
