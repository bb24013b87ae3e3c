"""Small text helpers shared by every layer: one-line messages and US dollars."""

from __future__ import annotations

from decimal import Decimal

_CENTS = Decimal("0.01")
_FOUR_PLACES = Decimal("0.0001")


def one_line(text: str, limit: int = 120) -> str:
    """`text` with its whitespace folded to single spaces, cut to `limit` characters with `…`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_usd(amount: Decimal) -> str:
    """US dollars for people: `$12.50` from a dollar up, four places below (`$0.0081`)."""
    places = _CENTS if abs(amount) >= 1 else _FOUR_PLACES
    return f"${amount.quantize(places):f}"


def usd_digits(amount: Decimal, *, places: int | None = None) -> str:
    """US dollars for machines: plain decimal digits, no exponent, no trailing zeros.

    `places` rounds first (6: to the micro-dollar); None keeps the exact amount.
    """
    if places is not None:
        amount = amount.quantize(Decimal(1).scaleb(-places))
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
