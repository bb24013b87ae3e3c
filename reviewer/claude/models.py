"""Check configured model ids at start-up: priced, described, and not about to retire."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from anthropic.resources.messages import DEPRECATED_MODELS

from reviewer.core.models import model_table, model_warnings
from reviewer.spend.pricing import PriceTable


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
