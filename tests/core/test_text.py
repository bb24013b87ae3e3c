"""Tests for reviewer/core/text.py: one-line messages and US dollars."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reviewer.core.text import format_usd, one_line, usd_digits


def test_one_line_folds_whitespace_and_cuts_with_an_ellipsis() -> None:
    assert one_line("a\n  b\tc ", 10) == "a b c"
    assert one_line("x" * 10, 10) == "x" * 10
    assert one_line("x" * 11, 10) == "x" * 9 + "…"
    assert len(one_line("word " * 100)) == 120


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0", "$0.0000"),
        ("0.000049", "$0.0000"),
        ("0.0123", "$0.0123"),
        ("0.99994", "$0.9999"),
        ("1", "$1.00"),
        ("1.23456", "$1.23"),
        ("25", "$25.00"),
        ("1E+3", "$1000.00"),
    ],
)
def test_format_usd_shows_cents_from_a_dollar_and_four_places_below(amount: str, text: str) -> None:
    assert format_usd(Decimal(amount)) == text


@pytest.mark.parametrize(
    ("amount", "places", "text"),
    [
        ("0.0123000", None, "0.0123"),
        ("25.00", None, "25"),
        ("1E+2", None, "100"),
        ("0", None, "0"),
        ("0.01234567", 6, "0.012346"),
        ("0.0000004", 6, "0"),
        ("3.5", 6, "3.5"),
    ],
)
def test_usd_digits_are_plain_and_exact(amount: str, places: int | None, text: str) -> None:
    assert usd_digits(Decimal(amount), places=places) == text
