"""data/models.json as a table, and the start-up warnings about configured models."""

from __future__ import annotations

import json
from datetime import date

import pytest

from reviewer.claude.models import model_warnings, retirement_date
from reviewer.core.models import model_spec, model_table, parse_models
from reviewer.spend.pricing import PriceTable


def test_every_priced_model_is_described_and_every_described_model_is_priced() -> None:
    priced = {m for m in PriceTable.load().models if not m[-8:].isdigit()}
    assert set(model_table().specs) == priced


def test_a_dated_alias_and_an_unknown_model() -> None:
    assert model_spec("claude-sonnet-4-5-20250929") == model_spec("claude-sonnet-4-5")
    unknown = model_spec("claude-new-9")
    assert not unknown.known and unknown.model == "claude-new-9"
    assert unknown.request_options() == {}  # no effort for a model nobody described


def test_a_malformed_table_is_refused() -> None:
    data = json.loads(
        '{"defaults": {"context_window": 1, "max_output_tokens": 1, "min_cacheable_tokens": 1,'
        ' "thinking": "off", "thinking_reserve_tokens": 0, "effort": null,'
        ' "supports_effort": false, "accepts_temperature": false, "server_fallbacks": false},'
        ' "models": {"m": {"temperature": 0.2}}}'
    )
    with pytest.raises(ValueError, match="unknown field"):
        parse_models(json.dumps(data))
    data["models"] = {"m": {"effort": "extreme"}}
    with pytest.raises(ValueError, match="effort must be"):
        parse_models(json.dumps(data))


@pytest.mark.parametrize(
    ("text", "day"),
    [("November 30th, 2026", date(2026, 11, 30)), ("June 1st, 2027", date(2027, 6, 1)),
     ("January 22nd, 2027", date(2027, 1, 22)), ("someday", None)],
)  # fmt: skip
def test_the_sdk_dates_are_read(text: str, day: date | None) -> None:
    assert retirement_date(text) == day


def test_warnings_before_and_after_a_retirement_date() -> None:
    deprecated = {"old-a": "January 10th, 2027", "old-b": "June 30th, 2026", "far": "2030-01-01"}
    table = model_table()
    today = date(2026, 11, 30)
    [soon] = model_warnings(["old-a"], deprecated=deprecated, today=today, table=table)[:1]
    assert "retires on 2027-01-10 (in 41 days)" in soon
    [gone] = model_warnings(["old-b"], deprecated=deprecated, today=today, table=table)[:1]
    assert "was retired on 2026-06-30" in gone
    assert (
        model_warnings(["claude-sonnet-4-6"], deprecated=deprecated, today=today, table=table) == []
    )
