"""What each Claude model takes, as data (data/models.json): window, output, thinking, effort."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any, Literal

Thinking = Literal["adaptive-default", "off"]
EFFORTS = ("low", "medium", "high", "xhigh", "max")

_DATED = re.compile(r"-\d{8}$")  # claude-sonnet-4-5-20250929 → claude-sonnet-4-5


@dataclass(frozen=True)
class ModelSpec:
    """One model's request settings and limits; `known` is False for the defaults' copy."""

    model: str
    context_window: int
    max_output_tokens: int
    min_cacheable_tokens: int
    thinking: Thinking
    thinking_reserve_tokens: int
    effort: str | None
    supports_effort: bool
    accepts_temperature: bool
    server_fallbacks: bool
    known: bool = True

    def output_tokens(self, answer_tokens: int) -> int:
        """`max_tokens` for an answer of `answer_tokens`: thinking tokens are output tokens,
        so a model that thinks by default gets its reserve on top, within its maximum."""
        reserve = self.thinking_reserve_tokens if self.thinking == "adaptive-default" else 0
        return max(1, min(self.max_output_tokens, answer_tokens + reserve))

    def request_options(self, *, effort: str | None = None) -> dict[str, Any]:
        """Keyword arguments for `messages.create` beyond model, max_tokens and the prompt.

        `effort` (REVIEWER_EFFORT) replaces the data's effort for a model that takes one.
        Never `temperature` (some models refuse a non-default one, and reviews need none),
        never `tool_choice` (forced tool use is refused by the newest models), and no
        `thinking`: a model that thinks by default does so adaptively without being asked.
        """
        chosen = (effort or self.effort) if self.supports_effort else None
        return {"output_config": {"effort": chosen}} if chosen else {}


@dataclass(frozen=True)
class ModelTable:
    """Model id → ModelSpec; a model it does not list gets the defaults (`known` False)."""

    specs: Mapping[str, ModelSpec]
    defaults: ModelSpec

    def spec(self, model: str) -> ModelSpec:
        found = self.specs.get(model) or self.specs.get(_DATED.sub("", model))
        if found is not None:
            return found
        return ModelSpec(**{**_as_dict(self.defaults), "model": model, "known": False})


_FIELDS = {f.name for f in fields(ModelSpec)} - {"model", "known"}


def _as_dict(spec: ModelSpec) -> dict[str, Any]:
    return {f.name: getattr(spec, f.name) for f in fields(ModelSpec)}


def _build(model: str, values: Mapping[str, Any], *, known: bool) -> ModelSpec:
    unknown = set(values) - _FIELDS
    if unknown:
        raise ValueError(f"models.json: {model}: unknown field(s) {sorted(unknown)}")
    spec = ModelSpec(model=model, known=known, **values)
    if spec.thinking not in ("adaptive-default", "off"):
        raise ValueError(f"models.json: {model}: thinking must be adaptive-default or off")
    if spec.effort is not None and spec.effort not in EFFORTS:
        raise ValueError(f"models.json: {model}: effort must be one of {EFFORTS} or null")
    return spec


def parse_models(text: str) -> ModelTable:
    """Build the table from the JSON text of data/models.json (ValueError if malformed)."""
    data = json.loads(text)
    defaults = _build("(defaults)", data["defaults"], known=False)
    base = {k: v for k, v in _as_dict(defaults).items() if k in _FIELDS}
    specs = {
        model: _build(model, {**base, **values}, known=True)
        for model, values in data["models"].items()
    }
    return ModelTable(specs, defaults)


@functools.cache
def model_table() -> ModelTable:
    """The shipped table (read once)."""
    text = resources.files("reviewer").joinpath("data/models.json").read_text(encoding="utf-8")
    return parse_models(text)


def model_spec(model: str) -> ModelSpec:
    """The shipped table's spec of `model` (the defaults for an unlisted one)."""
    return model_table().spec(model)
