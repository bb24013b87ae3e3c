"""Tests for reviewer.core.git_paths: git's C-style quoted file names."""

from __future__ import annotations

import pytest

from reviewer.core.git_paths import unquote_path
from reviewer.errors import DiffParseError


@pytest.mark.parametrize(
    ("quoted", "plain"),
    [
        ("plain/path.py", "plain/path.py"),
        ('"t\\303\\251st.py"', "tést.py"),
        ('"a\\tb\\nc\\"d\\\\e"', 'a\tb\nc"d\\e'),
        ('"sp\\040ace"', "sp ace"),
    ],
)
def test_unquote_path(quoted: str, plain: str) -> None:
    assert unquote_path(quoted) == plain


def test_unquote_path_refuses_a_bad_escape() -> None:
    with pytest.raises(DiffParseError, match="bad escape"):
        unquote_path('"bad\\q"')
