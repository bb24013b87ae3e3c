"""Price Claude calls from a price table shipped as data, with exact decimal arithmetic."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from importlib import resources
from pathlib import Path
from typing import Any

from reviewer.errors import ConfigError, UnknownModelError
from reviewer.spend.usage import CallRecord

PER_MTOK = Decimal(1_000_000)
# Rates are kept to 5 decimal places per million tokens so that every cost, halved for
# batch, is a whole number of pico-dollars (1e-12 USD): the ledger stores it as an integer.
MAX_RATE_PLACES = 5
RATE_NAMES = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


@dataclass(frozen=True, kw_only=True)
class Rates:
    """USD per million tokens for each kind of token."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal


@dataclass(frozen=True, kw_only=True)
class LongPromptRates(Rates):
    """Rates for a whole request whose prompt is over `threshold_tokens` (Haiku 5.5)."""

    threshold_tokens: int


@dataclass(frozen=True, kw_only=True)
class ModelPrice(Rates):
    """The price of one model id, and of its long prompts when they cost more."""

    model: str
    long_prompt: LongPromptRates | None = None

    def rates_for(self, prompt_tokens: int) -> Rates:
        """Return the rates a request with `prompt_tokens` of prompt is billed at."""
        if self.long_prompt is not None and prompt_tokens > self.long_prompt.threshold_tokens:
            return self.long_prompt
        return self


def cost_of(record: CallRecord, price: ModelPrice) -> Decimal:
    """Return the exact USD cost of one call attempt from its usage."""
    cache_writes = record.cache_creation_input_tokens
    if record.cache_write_5m_tokens is None and record.cache_write_1h_tokens is None:
        # No TTL breakdown: the API default TTL is 5 minutes.
        writes_5m, writes_1h = cache_writes, 0
    else:
        writes_5m = record.cache_write_5m_tokens or 0
        writes_1h = record.cache_write_1h_tokens or 0
        # A breakdown that accounts for fewer tokens than the total would under-bill; the
        # rest is priced as 5-minute writes.
        writes_5m += max(0, cache_writes - writes_5m - writes_1h)
    prompt = record.input_tokens + writes_5m + writes_1h + record.cache_read_input_tokens
    rates = price.rates_for(prompt)
    with localcontext() as ctx:
        ctx.prec = 60
        total = (
            record.input_tokens * rates.input
            + writes_5m * rates.cache_write_5m
            + writes_1h * rates.cache_write_1h
            + record.cache_read_input_tokens * rates.cache_read
            + record.output_tokens * rates.output
        ) / PER_MTOK
        if record.service_tier == "batch":
            total /= 2
        return total


def estimate_cost(price: ModelPrice, *, input_tokens: int, output_tokens: int) -> Decimal:
    """Return the cost of a call with this many uncached input and output tokens."""
    rates = price.rates_for(input_tokens)
    with localcontext() as ctx:
        ctx.prec = 60
        return (input_tokens * rates.input + output_tokens * rates.output) / PER_MTOK


class PriceTable:
    """Model id (or dated alias) → ModelPrice; build with `PriceTable.load()`."""

    def __init__(self, prices: Mapping[str, ModelPrice], aliases: Mapping[str, str]) -> None:
        self._prices = dict(prices)
        self._aliases = dict(aliases)

    @classmethod
    def load(cls, override_path: Path | None = None) -> PriceTable:
        """Load the shipped table, then let `override_path` (settings.prices_path) change
        or add entries. A malformed file is a ConfigError naming the file and the key."""
        shipped = resources.files("reviewer").joinpath("data", "prices.json")
        prices: dict[str, ModelPrice] = {}
        aliases: dict[str, str] = {}
        _merge(prices, aliases, _read(shipped.read_text(encoding="utf-8"), "prices.json"), "")
        if override_path is not None:
            try:
                text = Path(override_path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"{override_path}: cannot read the price file: {exc.strerror}",
                    key="prices_path",
                    path=str(override_path),
                ) from exc
            _merge(prices, aliases, _read(text, str(override_path)), str(override_path))
        return cls(prices, aliases)

    @property
    def models(self) -> tuple[str, ...]:
        """Every model id and alias the table prices, sorted."""
        return tuple(sorted([*self._prices, *self._aliases]))

    def price(self, model: str) -> ModelPrice:
        """Return the price of `model`; an id the table lacks is an UnknownModelError."""
        found = self._prices.get(self._aliases.get(model, model))
        if found is None:
            raise UnknownModelError(
                f"no price for model {model!r}; known models: {', '.join(self.models)}. "
                "Add it to the file named by REVIEWER_PRICES_PATH.",
                key="model",
            )
        return found


def _read(text: str, path: str) -> dict[str, Any]:
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}", path=path) from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ConfigError(
            f'{path}: expected an object with a "models" object', key="models", path=path
        )
    return data


def _merge(
    prices: dict[str, ModelPrice], aliases: dict[str, str], data: dict[str, Any], path: str
) -> None:
    where = path or "prices.json"
    for model, entry in data["models"].items():
        key = f"models.{model}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: {key} must be an object", key=key, path=where)
        unknown = set(entry) - {*RATE_NAMES, "aliases", "long_prompt"}
        if unknown:
            raise ConfigError(
                f"{where}: {key}.{sorted(unknown)[0]} is not a price field", key=key, path=where
            )
        target = aliases.get(model, model)
        rates = {
            name: _rate(entry[name], f"{key}.{name}", where) for name in entry if name in RATE_NAMES
        }
        existing = prices.get(target)
        if existing is not None:
            rates = {name: getattr(existing, name) for name in RATE_NAMES} | rates
        missing = [name for name in RATE_NAMES if name not in rates]
        if missing:
            raise ConfigError(
                f"{where}: {key}.{missing[0]} is missing (a new model needs all of "
                f"{', '.join(RATE_NAMES)})",
                key=f"{key}.{missing[0]}",
                path=where,
            )
        long_prompt = existing.long_prompt if existing is not None else None
        if "long_prompt" in entry:
            long_prompt = _long_prompt(entry["long_prompt"], key, where)
        price = ModelPrice(
            model=target,
            input=rates["input"],
            output=rates["output"],
            cache_write_5m=rates["cache_write_5m"],
            cache_write_1h=rates["cache_write_1h"],
            cache_read=rates["cache_read"],
            long_prompt=long_prompt,
        )
        prices[target] = price
        for alias in _aliases(entry.get("aliases", []), key, where):
            if alias in prices and alias != target:
                raise ConfigError(
                    f"{where}: {key}.aliases: {alias!r} is already a model id",
                    key=f"{key}.aliases",
                    path=where,
                )
            aliases[alias] = target


def _long_prompt(raw: object, key: str, where: str) -> LongPromptRates | None:
    key = f"{key}.long_prompt"
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {key} must be an object or null", key=key, path=where)
    threshold = raw.get("threshold_tokens")
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise ConfigError(
            f"{where}: {key}.threshold_tokens must be a positive integer",
            key=f"{key}.threshold_tokens",
            path=where,
        )
    values = {}
    for name in RATE_NAMES:
        if name not in raw:
            raise ConfigError(f"{where}: {key}.{name} is missing", key=f"{key}.{name}", path=where)
        values[name] = _rate(raw[name], f"{key}.{name}", where)
    return LongPromptRates(
        threshold_tokens=threshold,
        input=values["input"],
        output=values["output"],
        cache_write_5m=values["cache_write_5m"],
        cache_write_1h=values["cache_write_1h"],
        cache_read=values["cache_read"],
    )


def _aliases(raw: object, key: str, where: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(a, str) and a for a in raw):
        raise ConfigError(
            f"{where}: {key}.aliases must be a list of model ids",
            key=f"{key}.aliases",
            path=where,
        )
    return list(raw)


def _rate(raw: object, key: str, where: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise ConfigError(
            f'{where}: {key} must be a decimal string such as "3.75"', key=key, path=where
        )
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ConfigError(f"{where}: {key}: {raw!r} is not a number", key=key, path=where) from exc
    exponent = value.normalize().as_tuple().exponent if value.is_finite() else 0
    if (
        not value.is_finite()
        or value < 0
        or (isinstance(exponent, int) and exponent < -MAX_RATE_PLACES)
    ):
        raise ConfigError(
            f"{where}: {key} must be a non-negative USD amount per million tokens with at "
            f"most {MAX_RATE_PLACES} decimal places, not {raw!r}",
            key=key,
            path=where,
        )
    return value


__all__ = [
    "LongPromptRates",
    "ModelPrice",
    "PriceTable",
    "Rates",
    "cost_of",
    "estimate_cost",
]
