"""Check configured model ids at start-up: priced, described, and not about to retire."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from anthropic.resources.messages import DEPRECATED_MODELS

from reviewer.core.models import ModelTable, model_table
from reviewer.spend.pricing import PriceTable

# Retirement dates within this many days are warned about at start-up.
RETIREMENT_WARNING_DAYS = 90


def check_models(
    models: Iterable[str | None], prices: PriceTable, *, today: date | None = None
) -> list[str]:
    """Warnings about `models` (None entries are skipped), from the SDK's deprecation list
    and data/models.json; raise UnknownModelError for a model the price table lacks."""
    wanted = [model for model in models if model]
    for model in wanted:
        prices.price(model)  # names the model and the known ones
    day = today or datetime.now(UTC).date()
    return model_warnings(wanted, deprecated=DEPRECATED_MODELS, today=day, table=model_table())


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
