"""What each Claude model takes, as data (data/models.json): window, output, thinking, effort."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from importlib import resources
from typing import Any, Literal

Thinking = Literal["adaptive-default", "off"]
EFFORTS = ("low", "medium", "high", "xhigh", "max")
# Retirement dates within this many days are warned about at start-up.
RETIREMENT_WARNING_DAYS = 90

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


def retirement_date(text: str) -> date | None:
    """Parse the SDK's `"November 30th, 2026"` into a date; None if it cannot."""
    cleaned = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text.strip())
    for fmt in ("%B %d, %Y", "%B %d %Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


def model_warnings(
    models: Iterable[str], *, deprecated: Mapping[str, str], today: date, table: ModelTable
) -> list[str]:
    """Warnings for configured models: retiring (per the SDK's list), retired, or not in
    models.json. A retired model is still only warned about: the API has the last word."""
    out: list[str] = []
    for model in dict.fromkeys(models):
        when = deprecated.get(model)
        if when is not None:
            day = retirement_date(when)
            if day is None:
                out.append(f"{model} is deprecated (retirement: {when}); move to a newer model")
            elif day < today:
                out.append(
                    f"{model} was retired on {day.isoformat()}: calls to it will fail; "
                    "move to a newer model"
                )
            elif (day - today).days <= RETIREMENT_WARNING_DAYS:
                left = (day - today).days
                out.append(
                    f"{model} is deprecated and retires on {day.isoformat()} "
                    f"({'today' if left == 0 else f'in {left} days'}); move to a newer model"
                )
            else:
                out.append(f"{model} is deprecated and retires on {day.isoformat()}")
        if not table.spec(model).known:
            out.append(
                f"{model} is not in models.json: assuming "
                f"{table.defaults.max_output_tokens:,} output tokens, "
                f"{table.defaults.context_window:,}-token window, no effort"
            )
    return out
