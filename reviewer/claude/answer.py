"""Ask Claude a question in plain text (answers in threads, `/ask`), gated and ledgered."""

from __future__ import annotations

from typing import cast

import anthropic
from anthropic.types import MessageParam, TextBlockParam

from reviewer.claude.client import describe_error, recording
from reviewer.core.models import model_spec
from reviewer.core.tokens import estimate_tokens
from reviewer.errors import ClaudeError
from reviewer.model import Answer
from reviewer.spend.usage import BudgetGate, CallRecord, UsageSink

# The framing the API adds around system and message text; generous on purpose.
FRAMING_TOKENS = 64


class TextAnswerer:
    """One model, plain text out; each attempt's usage goes to the sink before anything else."""

    def __init__(
        self, client: anthropic.Anthropic, *, model: str, max_output_tokens: int = 1_024
    ) -> None:
        self._client = client
        self.model = model
        # Thinking tokens are output tokens: the reservation holds the model's reserve too.
        self.max_tokens = model_spec(model).output_tokens(max_output_tokens)

    def answer(
        self,
        *,
        system: str,
        prompt: str,
        sink: UsageSink,
        gate: BudgetGate | None = None,
        chunk_index: int = 0,
    ) -> Answer:
        """Ask once; raise errors.BudgetExceeded before sending when the gate refuses."""
        estimate = estimate_tokens(system, self.model) + estimate_tokens(prompt, self.model)
        if gate is not None:
            gate.before_call(
                model=self.model,
                input_tokens=estimate + FRAMING_TOKENS,
                max_output_tokens=self.max_tokens,
            )
        records: list[CallRecord] = []
        client = recording(self._client, model=self.model, records=records, chunk_index=chunk_index)
        spec = model_spec(self.model)
        try:
            # No temperature and no tool_choice, for any model (see ModelSpec.request_options).
            message = client.messages.create(
                model=self.model,
                max_tokens=min(self.max_tokens, spec.max_output_tokens),
                system=cast("list[TextBlockParam]", [{"type": "text", "text": system}]),
                messages=cast("list[MessageParam]", [{"role": "user", "content": prompt}]),
                **spec.request_options(),
            )
        except (anthropic.APIError, ClaudeError) as exc:
            for record in records:
                sink(record)
            return Answer(text="", error=describe_error(exc))
        for record in records:
            sink(record)
        text = "".join(b.text for b in message.content if b.type == "text").strip()
        if message.stop_reason == "refusal":
            return Answer(text="", stop_reason="refusal", error="the model declined to answer")
        return Answer(text=text, stop_reason=message.stop_reason)
