"""Tests for the token estimates and the input budget."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.core.tokens import (
    DEFAULT_CONTEXT_WINDOW,
    context_window,
    estimate_from_size,
    estimate_tokens,
    input_budget,
    uses_newer_tokenizer,
    weight_capacity,
)

OLD = "claude-sonnet-4-6"
NEW = "claude-opus-4-7"


@pytest.mark.parametrize(
    ("model", "newer"),
    [
        ("claude-sonnet-4-6", False),
        ("claude-sonnet-4-5-20250929", False),
        ("claude-haiku-4-5", False),
        ("claude-haiku-4-5-20251001", False),
        ("claude-opus-4-5", False),
        ("claude-opus-4-6", False),
        ("claude-opus-4-1", False),
        ("claude-opus-4-20250514", False),
        ("claude-3-5-sonnet-20241022", False),
        ("claude-3-opus-20240229", False),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", False),
        ("claude-sonnet-4-5@20250929", False),
        ("claude-opus-4-7", True),
        ("claude-opus-4-8", True),
        ("claude-opus-5", True),
        ("claude-sonnet-5-0", True),
        ("claude-haiku-5-1", True),
        ("claude-fable-1", True),
        ("claude-mythos-preview", True),
        ("some-unknown-model", True),
    ],
)
def test_tokenizer_family(model: str, newer: bool) -> None:
    assert uses_newer_tokenizer(model) is newer


def test_estimate_is_bytes_over_three_plus_one_per_line() -> None:
    assert estimate_tokens("", OLD) == 0
    assert estimate_tokens("abcdef", OLD) == 3  # 6/3 + 1 line
    assert estimate_tokens("abcdefg", OLD) == 4  # ceil(7/3 + 1)
    assert estimate_tokens("abc\ndef\n", OLD) == 6  # 8/3 + 3 lines, rounded up
    # Non-ASCII text counts its UTF-8 bytes: three per CJK character.
    assert estimate_tokens("日本語", OLD) == 4


def test_newer_tokenizers_count_thirty_percent_more() -> None:
    text = "def f(x):\n    return x + 1\n" * 100
    weight = len(text) + 3 * (text.count("\n") + 1)
    assert estimate_tokens(text, OLD) == math.ceil(weight / 3)
    assert estimate_tokens(text, NEW) == math.ceil(weight * 13 / 30)
    assert estimate_tokens(text, NEW) > 1.29 * estimate_tokens(text, OLD)


def test_estimate_is_not_below_a_realistic_count_for_code() -> None:
    # Claude's older tokenizer averages over 3 characters per token on code; the estimate
    # must stay above that even for symbol-dense lines.
    code = "if (a[i] != b[j]) { x += y * (z - 1); }\n" * 50
    assert estimate_tokens(code, OLD) >= len(code) / 3


@settings(max_examples=100, deadline=None)
@given(a=st.text(), b=st.text(), newer=st.booleans())
def test_estimate_is_subadditive(a: str, b: str, newer: bool) -> None:
    model = NEW if newer else OLD
    assert estimate_tokens(a + b, model) <= estimate_tokens(a, model) + estimate_tokens(b, model)


@settings(max_examples=100, deadline=None)
@given(
    n_bytes=st.integers(0, 10**6),
    n_lines=st.integers(0, 10**4),
    budget=st.integers(1, 10**6),
    newer=st.booleans(),
)
def test_weight_capacity_is_exactly_the_budget(
    n_bytes: int, n_lines: int, budget: int, newer: bool
) -> None:
    model = NEW if newer else OLD
    within = estimate_from_size(n_bytes, n_lines, model) <= budget
    assert within == (n_bytes + 3 * n_lines <= weight_capacity(budget, model))


def test_estimate_of_a_large_text_is_fast_enough_to_be_linear() -> None:
    # Not a timing assertion: the same answer as the arithmetic, on a 20 MB text.
    text = "x = 1\n" * 3_000_000
    assert estimate_tokens(text, OLD) == math.ceil(len(text) / 3 + 3_000_001)


def test_context_window_and_budget() -> None:
    assert context_window(OLD) == DEFAULT_CONTEXT_WINDOW == 200_000
    assert (
        input_budget(OLD, system_tokens=3_000, output_reserve=4_096, max_chunk_tokens=24_000)
        == 24_000
    )
    assert (
        input_budget(NEW, system_tokens=150_000, output_reserve=20_000, max_chunk_tokens=100_000)
        == 30_000
    )
    with pytest.raises(ValueError, match="no room"):
        input_budget(OLD, system_tokens=190_000, output_reserve=10_000, max_chunk_tokens=1)
