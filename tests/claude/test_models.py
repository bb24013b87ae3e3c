"""Each model's request settings, as data/models.json says, on the body the API receives."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from reviewer.claude.models import check_models
from reviewer.core.chunking import Chunk
from reviewer.core.diff import FileStatus, Hunk
from reviewer.core.lines import DiffLine, HunkLines
from reviewer.core.models import model_spec, model_table
from reviewer.core.prompt import PromptContext
from reviewer.core.render import ChunkPart
from reviewer.errors import UnknownModelError
from reviewer.services import open_services
from reviewer.spend.pricing import PriceTable
from reviewer.spend.usage import CallRecord
from tests.fakes.messages_server import FakeMessages, fake_settings, message_answer

CONTEXT = PromptContext(repo="octo/app")
ANSWER = 4096


def _chunk() -> Chunk:
    line = DiffLine("added", "x = 1", None, 1)
    part = ChunkPart("a.py", FileStatus.ADDED, (Hunk(0, 0, 1, 1, "", HunkLines.of([line])),))
    return Chunk(0, (part,), estimated_input_tokens=50)


def _review(fake: FakeMessages, model: str, **settings: Any) -> list[CallRecord]:
    records: list[CallRecord] = []
    config = fake_settings(fake, max_output_tokens=ANSWER, **settings)
    with open_services(config) as services:
        runner = services.model_runner(model)
        outcome = runner.review(CONTEXT, [_chunk()], sink=records.append)
    assert outcome.results[0].status == "ok"
    return records


# The SDK warns on every call to a model in its deprecated list (claude-opus-4-5, ...).
@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
@pytest.mark.parametrize("model", sorted(model_table().specs))
def test_every_model_gets_its_own_settings_and_never_temperature(
    fake_claude: FakeMessages, model: str
) -> None:
    spec = model_spec(model)

    _review(fake_claude, model)

    [body] = fake_claude.requests
    assert body["model"] == model
    assert "temperature" not in body and "tool_choice" not in body and "tools" not in body
    assert "thinking" not in body  # adaptive-default models think unasked; others are not asked
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert body["output_config"].get("effort") == (spec.effort if spec.supports_effort else None)
    reserve = spec.thinking_reserve_tokens if spec.thinking == "adaptive-default" else 0
    assert body["max_tokens"] == min(spec.max_output_tokens, ANSWER + reserve)


def test_a_model_that_thinks_by_default_reserves_its_thinking_in_the_budget(
    fake_claude: FakeMessages,
) -> None:
    reserved: list[int] = []

    class Gate:
        def before_call(self, *, model: str, input_tokens: int, max_output_tokens: int) -> None:
            reserved.append(max_output_tokens)

        def release(self) -> None:
            pass

    config = fake_settings(fake_claude, max_output_tokens=ANSWER)
    with open_services(config) as services:
        runner = services.model_runner("claude-opus-5")
        runner.review(CONTEXT, [_chunk()], sink=lambda _: None, gate=Gate())

    spec = model_spec("claude-opus-5")
    assert spec.thinking == "adaptive-default" and spec.thinking_reserve_tokens > 0
    assert reserved == [ANSWER + spec.thinking_reserve_tokens]
    assert fake_claude.requests[0]["max_tokens"] == reserved[0]
    # A model that does not think unasked reserves the answer alone.
    assert model_spec("claude-sonnet-4-6").output_tokens(ANSWER) == ANSWER


def test_effort_setting_replaces_the_data_only_where_the_model_takes_effort(
    fake_claude: FakeMessages,
) -> None:
    _review(fake_claude, "claude-opus-5", effort="low")
    _review(fake_claude, "claude-haiku-4-5", effort="low")

    opus, haiku = fake_claude.requests
    assert opus["output_config"]["effort"] == "low"
    assert "effort" not in haiku["output_config"]


def test_server_side_fallbacks_where_the_model_takes_them_else_the_client_falls_back(
    fake_claude: FakeMessages,
) -> None:
    # The fallback model answered for the refusing one: priced at the fallback's rates.
    fake_claude.enqueue(message_answer('{"findings": []}', model="claude-sonnet-5"))
    records = _review(fake_claude, "claude-opus-5", fallback_model="claude-sonnet-5")

    [body] = fake_claude.requests
    assert body["fallbacks"] == [{"model": "claude-sonnet-5"}]
    assert "server-side-fallback-2026-07-01" in fake_claude.request_headers[0]["Anthropic-Beta"]
    assert [r.model for r in records] == ["claude-sonnet-5"]

    # The requested model under a dated id answered itself: priced as the requested model.
    fake_claude.enqueue(message_answer('{"findings": []}', model="claude-opus-5-20260101"))
    again = _review(fake_claude, "claude-opus-5", fallback_model="claude-sonnet-5")
    assert [r.model for r in again] == ["claude-opus-5"]

    # claude-sonnet-4-6 takes no `fallbacks`: none is sent (the client falls back itself).
    _review(fake_claude, "claude-sonnet-4-6", fallback_model="claude-opus-4-6")
    assert "fallbacks" not in fake_claude.requests[2]
    assert "Anthropic-Beta" not in fake_claude.request_headers[2]


def test_start_up_check_uses_the_sdk_list_and_the_price_table() -> None:
    prices = PriceTable.load()
    warnings = check_models(["claude-sonnet-4-5", None], prices, today=date(2026, 11, 1))
    assert warnings == [
        "claude-sonnet-4-5 is deprecated and retires on 2026-11-30 (in 29 days); "
        "move to a newer model"
    ]
    with pytest.raises(UnknownModelError):
        check_models(["claude-unknown-1"], prices)
