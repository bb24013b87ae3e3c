"""`reviewer doctor`'s Anthropic checks: the key works, each model exists and is not retiring."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

import anthropic
from anthropic.resources.messages import DEPRECATED_MODELS

from reviewer.claude.models import RETIREMENT_WARNING_DAYS, retirement_date
from reviewer.claude.probe import KEY_FIX, describe, fix_for
from reviewer.core.checks import Check, fail, ok, skip, warn
from reviewer.core.models import model_spec
from reviewer.errors import ReviewerError
from reviewer.spend.pricing import PriceTable


def cheapest(models: Mapping[str, str], prices: PriceTable) -> str | None:
    """The configured model with the lowest input + output rates (one with a price)."""
    priced = []
    for model in models:
        try:
            price = prices.price(model)
        except ReviewerError:
            continue
        priced.append((price.input + price.output, model))
    return min(priced)[1] if priced else None


def offline_model_check(model: str, roles: str, prices: PriceTable, today: date) -> Check:
    """The price table and the SDK's deprecation list, no network."""
    name = f"anthropic.model.{model}"
    try:
        prices.price(model)
    except ReviewerError:
        return fail(
            name,
            f"{model} ({roles}) has no price in the table",
            "add it to the file named by REVIEWER_PRICES_PATH, or choose a listed model",
        )
    retires = DEPRECATED_MODELS.get(model)
    when = retirement_date(retires) if retires else None
    if when is not None:
        return _retirement(name, f"{model} ({roles})", when, today, "the SDK's deprecation list")
    spec = model_spec(model)
    if not spec.known:
        return warn(
            name,
            f"{model} ({roles}) is not in models.json: a review assumes "
            f"{spec.max_output_tokens:,} output tokens and a {spec.context_window:,}-token window",
            "add the model to reviewer/data/models.json if it differs",
        )
    return ok(name, f"{model} ({roles}) has a price and is not on the SDK's deprecation list")


def _retirement(name: str, what: str, when: date, today: date, source: str) -> Check:
    fix = "move to a newer model (https://docs.anthropic.com/en/docs/resources/model-deprecations)"
    if when < today:
        return fail(name, f"{what} retired on {when.isoformat()} ({source})", fix)
    if when == today:
        return fail(name, f"{what} retires today ({source})", fix)
    days = (when - today).days
    if days <= RETIREMENT_WARNING_DAYS:
        return warn(name, f"{what} retires on {when.isoformat()}, in {days} days ({source})", fix)
    return warn(name, f"{what} is deprecated, retiring on {when.isoformat()} ({source})", fix)


class AnthropicDoctor:
    """The key and the models, asked of the API with one client."""

    def __init__(
        self, client: anthropic.Anthropic, prices: PriceTable, *, today: date | None = None
    ) -> None:
        self._client = client
        self._prices = prices
        self._today = today or datetime.now(UTC).date()
        self.available: list[str] | None = None  # the model ids the key may use

    def _describe(self, exc: BaseException) -> str:
        return describe(exc, self._client.api_key)

    def key(self) -> Check:
        """The key works: the models list answers."""
        try:
            self.available = [m.id for m in self._client.models.list(limit=100)]
        except (anthropic.APIError, ReviewerError) as exc:
            fix = KEY_FIX if isinstance(exc, ReviewerError) else fix_for(exc, "the models list")
            return fail("anthropic.key", f"the models list failed: {self._describe(exc)}", fix)
        return ok("anthropic.key", f"the key works: {len(self.available)} models available")

    def model(self, model: str, roles: str) -> Check:
        """The model exists for this account, has a price and is not retiring soon."""
        offline = offline_model_check(model, roles, self._prices, self._today)
        if offline.status == "fail":
            return offline
        name = f"anthropic.model.{model}"
        try:
            info = self._client.models.retrieve(model)
        except anthropic.NotFoundError:
            listed = ", ".join(self.available or []) or "see `GET /v1/models`"
            return fail(
                name,
                f"{model} ({roles}) does not exist for this account",
                f"choose one of: {listed}",
            )
        except (anthropic.APIError, ReviewerError) as exc:
            return fail(name, f"{model}: {self._describe(exc)}", fix_for(exc, model))
        what = f"{model} ({roles})"
        if info.lifecycle == "retired":
            return fail(name, f"{what} is retired", "move to a newer model")
        if info.retires_at is not None:
            return _retirement(name, what, info.retires_at.date(), self._today, "the Models API")
        if info.lifecycle == "deprecated":
            return warn(name, f"{what} is deprecated", "move to a newer model")
        if offline.status != "ok":
            return offline
        return ok(name, f"{what} is available and priced")


def offline_skips(batch: bool) -> list[Check]:
    """The API checks `--offline` leaves out, named so the report says what was not checked."""
    names = ["anthropic.key", "anthropic.call", "anthropic.count_tokens"]
    if batch:
        names.append("anthropic.batch")
    return [skip(n, "--offline: not checked") for n in names]
