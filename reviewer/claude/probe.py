"""One real call, `count_tokens` and a Message Batch with the bot's own prompt: doctor's probe."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import anthropic
from anthropic.types import Message, MessageParam, TextBlockParam

from reviewer.core.checks import Check, fail, ok, warn
from reviewer.core.chunking import Chunk, plan_chunks
from reviewer.core.diff import parse_diff
from reviewer.core.findings import InvalidOutputError, findings_json_schema, parse_findings
from reviewer.core.models import model_spec
from reviewer.core.prompt import PromptContext, build_request, prefix_tokens
from reviewer.core.text import format_usd, one_line
from reviewer.errors import ReviewerError
from reviewer.spend.pricing import PriceTable, cost_of, estimate_cost
from reviewer.spend.usage import CallRecord

BATCH_POLL_S = 15.0
BATCH_CUSTOM_ID = "doctor-probe"
# Real prompt tokens above 1.5× the estimate: budget reservations would be too small.
ESTIMATE_SLACK = Decimal("1.5")
# What the probe's answer is assumed to cost in output tokens, for the estimate it announces.
ESTIMATED_OUTPUT_TOKENS = 300
KEY_FIX = "set ANTHROPIC_API_KEY to a key from https://console.anthropic.com (Settings → API keys)"
Say = Callable[[str], None]
Sleep = Callable[[float], None]

# A ten-line change, shaped like a real one, for the probe call.
PROBE_DIFF = "".join(
    line + "\n"
    for line in (
        "diff --git a/app/users.py b/app/users.py",
        "--- a/app/users.py",
        "+++ b/app/users.py",
        "@@ -1,3 +1,13 @@",
        " import sqlite3",
        " ",
        " ",
        "+def find_user(conn: sqlite3.Connection, name: str) -> tuple | None:",
        '+    """Return the user called `name`, or None."""',
        '+    query = "SELECT id, name FROM users WHERE name = \'" + name + "\'"',
        "+    return conn.execute(query).fetchone()",
        "+",
        "+",
        "+def count_users(conn: sqlite3.Connection) -> int:",
        '+    """Return how many users there are."""',
        '+    (count,) = conn.execute("SELECT COUNT(*) FROM users").fetchone()',
        "+    return count",
    )
)
PROBE_CONTEXT = PromptContext(
    repo="reviewer/doctor",
    title="reviewer doctor: check the deployment",
    description="A ten-line change sent by `reviewer doctor` to check the model call.",
)


def describe(exc: BaseException, key: str | None) -> str:
    """One line about a failed call; the key never appears in it."""
    if isinstance(exc, anthropic.APIStatusError):
        text = f"HTTP {exc.status_code} {exc.type or type(exc).__name__}: {exc.api_message or ''}"
    elif isinstance(exc, anthropic.APITimeoutError):
        text = "the request timed out"
    elif isinstance(exc, anthropic.APIConnectionError):
        text = f"cannot connect: {exc.__cause__ or exc.message}"
    elif isinstance(exc, ReviewerError):
        text = exc.message
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = one_line(text, 300)
    return text.replace(key, "[redacted]") if key else text


def fix_for(exc: BaseException, model: str) -> str:
    """What to do about a failed call, by the kind of failure."""
    if isinstance(exc, anthropic.AuthenticationError):
        return KEY_FIX
    if isinstance(exc, anthropic.PermissionDeniedError):
        return "this key's organisation or workspace may not use this: check its limits"
    if isinstance(exc, anthropic.NotFoundError):
        return f"{model} does not exist for this account: choose another model"
    if isinstance(exc, anthropic.BadRequestError):
        message = (exc.api_message or "").lower()
        if "output_config" in message or "schema" in message:
            return (
                f"the API refused the findings schema for {model} (structured outputs): "
                "choose a model that supports them, or report this with the message above"
            )
        return "the API refused the request: report it with the message above"
    if isinstance(exc, anthropic.APIConnectionError):
        return "check REVIEWER_ANTHROPIC_BASE_URL and the network (a proxy or firewall?)"
    return "try again; if it persists, see https://status.anthropic.com"


@dataclass
class ProbeRequest:
    """The probe's request: built by the same core code as a review's first chunk."""

    model: str
    chunk: Chunk
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    estimated_input_tokens: int

    @classmethod
    def build(cls, model: str, max_chunk_tokens: int) -> ProbeRequest:
        diff = parse_diff(PROBE_DIFF)
        [chunk] = plan_chunks(diff.files, budget_tokens=max_chunk_tokens, model=model)
        system, messages = build_request(PROBE_CONTEXT, chunk)
        estimate = chunk.estimated_input_tokens + prefix_tokens(PROBE_CONTEXT, model)
        return cls(model, chunk, system, messages, estimate)

    def params(self, answer_tokens: int, effort: str | None) -> dict[str, Any]:
        """The keyword arguments of `messages.create`, as a review's chunk call sends them."""
        spec = model_spec(self.model)
        options = spec.request_options(effort=effort)
        output_config = {
            "format": {"type": "json_schema", "schema": findings_json_schema()},
            **options.pop("output_config", {}),
        }
        return {
            "model": self.model,
            "max_tokens": min(spec.output_tokens(answer_tokens), spec.max_output_tokens),
            "system": cast("list[TextBlockParam]", self.system),
            "messages": cast("list[MessageParam]", self.messages),
            "output_config": output_config,
            **options,
        }


class Probe:
    """The calls a review makes, made once each; nothing here writes to the ledger."""

    def __init__(
        self,
        client: anthropic.Anthropic,
        prices: PriceTable,
        *,
        max_output_tokens: int,
        max_chunk_tokens: int,
        effort: str | None = None,
        say: Say,
        sleep: Sleep = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prices = prices
        self._answer_tokens = max_output_tokens
        self._effort = effort
        self._max_chunk_tokens = max_chunk_tokens
        self._say = say
        self._sleep = sleep
        self._clock = clock

    def _describe(self, exc: BaseException) -> str:
        return describe(exc, self._client.api_key)

    def _params(self, probe: ProbeRequest) -> dict[str, Any]:
        return probe.params(self._answer_tokens, self._effort)

    def call(self, model: str) -> Check:
        """One real call with the bot's prompt, schema and a ten-line diff."""
        name = "anthropic.call"
        probe = ProbeRequest.build(model, self._max_chunk_tokens)
        estimate = estimate_cost(
            self._prices.price(model),
            input_tokens=probe.estimated_input_tokens,
            output_tokens=ESTIMATED_OUTPUT_TOKENS,
        )
        cost = format_usd(estimate)
        self._say(f"asking {model} to review a ten-line diff (one real call, about {cost})")
        try:
            message = self._client.messages.create(**self._params(probe))
        except (anthropic.APIError, ReviewerError) as exc:
            return fail(name, f"{model}: {self._describe(exc)}", fix_for(exc, model))
        return self._judge(name, probe, message, batch=False)

    def count_tokens(self, model: str) -> Check:
        """`messages.count_tokens` answers for the probe request."""
        probe = ProbeRequest.build(model, self._max_chunk_tokens)
        params = self._params(probe)
        del params["max_tokens"]
        try:
            counted = self._client.messages.count_tokens(**params)
        except (anthropic.APIError, ReviewerError) as exc:
            return fail(
                "anthropic.count_tokens", f"{model}: {self._describe(exc)}", fix_for(exc, model)
            )
        return ok(
            "anthropic.count_tokens",
            f"{counted.input_tokens:,} input tokens for the probe request "
            f"(the bot's estimate: {probe.estimated_input_tokens:,})",
        )

    def batch(self, model: str, timeout_s: float) -> Check:
        """A one-request Message Batch: submitted, polled until it ends, collected, priced."""
        name = "anthropic.batch"
        probe = ProbeRequest.build(model, self._max_chunk_tokens)
        request = {"custom_id": BATCH_CUSTOM_ID, "params": self._params(probe)}
        batches = self._client.messages.batches
        try:
            batch = batches.create(requests=[cast("Any", request)])
        except (anthropic.APIError, ReviewerError) as exc:
            return fail(name, f"submitting failed: {self._describe(exc)}", fix_for(exc, model))
        self._say(
            f"batch {batch.id} submitted; a batch can take minutes (most end within an hour), "
            f"waiting up to {timeout_s / 60:.0f} min"
        )
        started = self._clock()
        try:
            while batch.processing_status != "ended":
                elapsed = self._clock() - started
                if elapsed >= timeout_s:
                    batches.cancel(batch.id)
                    return warn(
                        name,
                        f"batch {batch.id} still {batch.processing_status} after "
                        f"{elapsed / 60:.0f} min; canceled",
                        "batches are slow at busy times: try again later, or raise --batch-timeout",
                    )
                self._sleep(BATCH_POLL_S)
                batch = batches.retrieve(batch.id)
                c = batch.request_counts
                self._say(
                    f"batch {batch.id}: {batch.processing_status} after "
                    f"{self._clock() - started:.0f}s ({c.processing} processing, "
                    f"{c.succeeded} succeeded, {c.errored} errored)"
                )
            results = list(batches.results(batch.id))
        except (anthropic.AnthropicError, ReviewerError) as exc:
            return fail(name, f"batch {batch.id}: {self._describe(exc)}", fix_for(exc, model))
        mine = [r for r in results if r.custom_id == BATCH_CUSTOM_ID]
        if not mine:
            return fail(name, f"batch {batch.id} ended without our result", "try again")
        result = mine[0].result
        if result.type == "succeeded":
            return self._judge(name, probe, result.message, batch=True)
        if result.type == "errored":
            error = result.error.error
            return fail(
                name,
                f"batch {batch.id}: the request errored: {error.type}: {error.message}",
                "see the error; the same request in real time is checked above",
            )
        return fail(name, f"batch {batch.id}: the request was {result.type}", "try again")

    def _judge(self, name: str, probe: ProbeRequest, message: Message, *, batch: bool) -> Check:
        """stop_reason, the answer against the schema, and the usage priced."""
        usage = message.usage
        split = usage.cache_creation
        record = CallRecord(
            model=probe.model,
            chunk_index=0,
            attempt=1,
            outcome="ok",
            stop_reason=message.stop_reason,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_input_tokens=usage.cache_read_input_tokens or 0,
            cache_write_5m_tokens=split.ephemeral_5m_input_tokens if split else None,
            cache_write_1h_tokens=split.ephemeral_1h_input_tokens if split else None,
            # A batch result is billed at the batch rate whatever its usage says.
            service_tier="batch" if batch else usage.service_tier,
        )
        cost = cost_of(record, self._prices.price(probe.model))
        rate = " at the batch rate" if batch else ""
        spent = (
            f"{record.input_tokens:,} in + {record.cache_creation_input_tokens:,} cache write + "
            f"{record.cache_read_input_tokens:,} cache read / {record.output_tokens:,} out, "
            f"{format_usd(cost)}{rate}"
        )
        stop = message.stop_reason
        if stop == "max_tokens":
            return fail(
                name,
                f"{probe.model} stopped at max_tokens ({spent})",
                "raise REVIEWER_MAX_OUTPUT_TOKENS: a thinking model spends output tokens first",
            )
        if stop == "refusal":
            return fail(name, f"{probe.model} refused the probe ({spent})", "try another model")
        if stop != "end_turn":
            return fail(name, f"{probe.model} stopped with {stop!r} ({spent})", "report this")
        text = "".join(b.text for b in message.content if b.type == "text")
        try:
            findings, dropped = parse_findings(text)
        except InvalidOutputError as exc:
            return fail(
                name,
                f"{probe.model}'s answer does not validate: {exc} ({spent})",
                "structured outputs may not be honoured by this model or endpoint",
            )
        found = f"{probe.model}: end_turn, {len(findings)} findings"
        if dropped:
            found += f" ({dropped} dropped as invalid)"
        found += f"; {spent}"
        prompt = record.input_tokens + record.cache_read_input_tokens
        prompt += record.cache_creation_input_tokens
        if prompt > probe.estimated_input_tokens * ESTIMATE_SLACK:
            return warn(
                name,
                f"{found}; the prompt was {prompt:,} tokens, the estimate "
                f"{probe.estimated_input_tokens:,}",
                "budget reservations use the estimate: set REVIEWER_COUNT_TOKENS=true",
            )
        return ok(name, found)
