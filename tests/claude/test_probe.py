"""The doctor's probe: one real call, count_tokens and a Message Batch, against the fake API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reviewer.claude.client import make_client
from reviewer.claude.probe import PROBE_DIFF, Probe
from reviewer.core.findings import findings_json_schema
from reviewer.core.models import model_spec
from reviewer.core.prompt import system_prompt
from reviewer.spend.pricing import PriceTable
from tests.fakes.messages_server import (
    FAKE_API_KEY,
    FakeMessages,
    error_answer,
    fake_settings,
    findings_answer,
)

FINDING = {
    "path": "app/users.py", "line": 6, "side": "RIGHT", "severity": "critical",
    "category": "security", "title": "SQL built from input", "body": "Use parameters.",
}  # fmt: skip


def _probe(
    fake: FakeMessages, said: list[str] | None = None, clock: list[float] | None = None
) -> Probe:
    settings = fake_settings(fake)
    now = clock if clock is not None else [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return Probe(
        make_client(settings),
        PriceTable.load(),
        max_output_tokens=settings.max_output_tokens,
        max_chunk_tokens=settings.max_chunk_tokens,
        say=(said if said is not None else []).append,
        sleep=sleep,
        clock=lambda: now[0],
    )


def test_the_call_sends_the_bots_prompt_and_schema_and_prices_the_usage(
    fake_claude: FakeMessages,
) -> None:
    fake_claude.enqueue_findings([FINDING], usage={"input_tokens": 2000, "output_tokens": 100})
    check = _probe(fake_claude).call("claude-haiku-4-5")
    [body] = fake_claude.requests
    assert body["model"] == "claude-haiku-4-5"
    spec = model_spec("claude-haiku-4-5")  # max_tokens as a review's chunk call sets it
    assert body["max_tokens"] == min(spec.output_tokens(4096), spec.max_output_tokens)
    assert "temperature" not in body and "tool_choice" not in body
    assert body["system"][0]["text"] == system_prompt()
    assert body["output_config"] == {
        "format": {"type": "json_schema", "schema": findings_json_schema()}
    }
    diff = body["messages"][0]["content"][-1]["text"]
    added = [
        line[1:] for line in PROBE_DIFF.splitlines() if line.startswith("+") and line[1:4] != "++ "
    ]
    assert len(added) == 10 and all(line in diff for line in added)  # the ten-line diff, whole
    # Haiku 4.5: $1 in, $5 out per million tokens.
    assert check.status == "ok", check
    assert check.found == (
        "claude-haiku-4-5: end_turn, 1 findings; 2,000 in + 0 cache write + 0 cache read "
        "/ 100 out, $0.0025"
    )


def test_a_refused_schema_fails_and_says_so(fake_claude: FakeMessages) -> None:
    def refuse(body: dict[str, Any]) -> Any:
        if "output_config" in body:
            message = "output_config.format.schema: this schema is not supported"
            return error_answer(400, message=message)
        return None

    fake_claude.responder = refuse
    check = _probe(fake_claude).call("claude-haiku-4-5")
    assert check.status == "fail"
    assert "HTTP 400 invalid_request_error: output_config.format.schema" in check.found
    assert check.fix is not None and "refused the findings schema" in check.fix


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        ({"text": "not json", "stop_reason": "end_turn"}, "answer does not validate"),
        ({"text": "", "stop_reason": "max_tokens"}, "stopped at max_tokens"),
        ({"text": "", "stop_reason": "pause_turn"}, "stopped with 'pause_turn'"),
    ],
)
def test_a_bad_answer_fails(fake_claude: FakeMessages, answer: dict[str, str], found: str) -> None:
    fake_claude.enqueue_raw(answer["text"], stop_reason=answer["stop_reason"])
    check = _probe(fake_claude).call("claude-haiku-4-5")
    assert check.status == "fail" and found in check.found


def test_an_estimate_far_below_the_real_prompt_warns(fake_claude: FakeMessages) -> None:
    fake_claude.enqueue_findings([], usage={"input_tokens": 90_000})
    check = _probe(fake_claude).call("claude-haiku-4-5")
    assert check.status == "warn" and check.fix is not None
    assert "REVIEWER_COUNT_TOKENS" in check.fix


def test_count_tokens_answers(fake_claude: FakeMessages) -> None:
    fake_claude.counts.append(1234)
    check = _probe(fake_claude).count_tokens("claude-haiku-4-5")
    assert check.status == "ok" and check.found.startswith("1,234 input tokens")
    [body] = fake_claude.count_requests
    assert "max_tokens" not in body and body["output_config"]["format"]["type"] == "json_schema"


def test_count_tokens_failing_fails(fake_claude: FakeMessages) -> None:
    fake_claude.counts.append(error_answer(404, message="model: claude-haiku-4-5"))
    check = _probe(fake_claude).count_tokens("claude-haiku-4-5")
    assert check.status == "fail" and "HTTP 404 not_found_error" in check.found


def test_the_key_never_appears_even_when_the_api_echoes_it(fake_claude: FakeMessages) -> None:
    fake_claude.enqueue_error(400, message=f"bad request from key {FAKE_API_KEY}")
    check = _probe(fake_claude).call("claude-haiku-4-5")
    assert FAKE_API_KEY not in json.dumps(check.to_dict())
    assert "[redacted]" in check.found


# -- --batch ---------------------------------------------------------------------------------


def test_a_one_request_batch_is_submitted_polled_collected_and_priced(
    fake_claude: FakeMessages,
) -> None:
    fake_claude.batch_polls = 2
    fake_claude.default = findings_answer([FINDING])
    said: list[str] = []
    check = _probe(fake_claude, said).batch("claude-haiku-4-5", timeout_s=3600)
    [batch] = fake_claude.batches.values()
    [request] = batch.requests
    assert request["custom_id"] == "doctor-probe"
    assert request["params"]["output_config"]["format"]["type"] == "json_schema"
    assert request["params"]["system"][0]["text"] == system_prompt()
    assert fake_claude.requests == []  # nothing in real time
    # Usage 1200 in / 150 out on Haiku 4.5 ($1 / $5), halved: $0.000975.
    assert check.status == "ok", check
    assert check.found.endswith(
        "1,200 in + 0 cache write + 0 cache read / 150 out, $0.0010 at the batch rate"
    )
    assert "1 findings" in check.found
    assert said[0].startswith(f"batch {batch.id} submitted; a batch can take minutes")
    assert said[1:] == [
        f"batch {batch.id}: in_progress after 15s (1 processing, 0 succeeded, 0 errored)",
        f"batch {batch.id}: in_progress after 30s (1 processing, 0 succeeded, 0 errored)",
        f"batch {batch.id}: ended after 45s (0 processing, 1 succeeded, 0 errored)",
    ]


def test_a_batch_result_that_errored_fails(fake_claude: FakeMessages) -> None:
    fake_claude.batch_outcomes["doctor-probe"] = "errored"
    check = _probe(fake_claude).batch("claude-haiku-4-5", timeout_s=3600)
    assert check.status == "fail"
    assert check.found.endswith("the request errored: api_error: api error")


def test_a_batch_result_that_expired_fails(fake_claude: FakeMessages) -> None:
    fake_claude.batch_outcomes["doctor-probe"] = "expired"
    check = _probe(fake_claude).batch("claude-haiku-4-5", timeout_s=3600)
    assert check.status == "fail" and check.found.endswith("the request was expired")


def test_a_batch_that_does_not_end_in_time_is_canceled(fake_claude: FakeMessages) -> None:
    fake_claude.batch_polls = 1000
    check = _probe(fake_claude).batch("claude-haiku-4-5", timeout_s=60)
    [batch] = fake_claude.batches.values()
    assert check.status == "warn" and "canceled" in check.found
    assert batch.cancel_requested
