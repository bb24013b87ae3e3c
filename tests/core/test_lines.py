"""HunkLines: a hunk's lines kept as markers and texts read back exactly as the lines given."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reviewer.core.diff import Hunk, parse_diff
from reviewer.core.lines import DiffLine, HunkLines
from tests.strategies import KINDS, build_hunk, line_texts


@st.composite
def hunks(draw: st.DrawFn) -> Hunk:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=40))
    texts = draw(st.lists(line_texts, min_size=len(kinds), max_size=len(kinds)))
    old_start = draw(st.integers(min_value=1, max_value=2_000))
    new_start = draw(st.integers(min_value=1, max_value=2_000))
    return build_hunk(kinds, texts, old_start=old_start, new_start=new_start)


def _cited(line: DiffLine) -> int:
    number = line.old_line if line.kind == "removed" else line.new_line
    assert number is not None
    return number


@given(hunks(), st.data())
def test_a_slice_reads_back_the_same_lines_as_a_slice_of_the_tuple(
    hunk: Hunk, data: st.DataObject
) -> None:
    lines = tuple(hunk.lines)
    size = len(lines)
    start = data.draw(st.integers(min_value=-size - 2, max_value=size + 2), label="start")
    stop = data.draw(st.integers(min_value=-size - 2, max_value=size + 2), label="stop")
    # As the parser keeps them: markers, texts and first numbers, no line built yet.
    kept = hunk.lines
    unread = HunkLines(kept.markers, kept.texts, kept.old_start, kept.new_start)
    piece = unread[start:stop]
    assert isinstance(piece, HunkLines)
    assert piece.texts == tuple(line.text for line in lines[start:stop])
    assert tuple(unread[start:stop][1:]) == lines[start:stop][1:]  # a slice of a slice
    assert tuple(piece) == lines[start:stop]
    assert tuple(unread) == lines
    assert tuple(unread[start:stop]) == lines[start:stop]  # sliced after its lines were built


@given(hunks())
def test_counts_and_bounds_agree_with_the_lines(hunk: Hunk) -> None:
    lines = tuple(hunk.lines)
    assert hunk.lines.count_kind("added") == sum(ln.kind == "added" for ln in lines)
    assert hunk.lines.count_kind("removed") == sum(ln.kind == "removed" for ln in lines)
    assert hunk.lines.changed == sum(ln.changed for ln in lines)
    bounds = hunk.lines.cited_bounds()
    assert bounds is not None
    assert all(bounds[0] <= _cited(line) <= bounds[1] for line in lines)


@given(hunks(), st.integers(min_value=0, max_value=2_050))
def test_new_texts_are_the_new_files_lines_up_to_a_number(hunk: Hunk, last: int) -> None:
    expected = [
        ln.text
        for ln in hunk.lines
        if ln.kind != "removed" and ln.new_line is not None and ln.new_line <= last
    ]
    assert hunk.lines.new_texts(last) == expected


def test_lines_whose_numbers_do_not_follow_are_kept_as_given() -> None:
    given_lines = (
        DiffLine("added", "a", None, 5),
        DiffLine("added", "b", None, 9),  # not 6: a hand-made line, kept as it is
        DiffLine("removed", "c", 40, None),
    )
    kept = HunkLines.of(given_lines)
    assert tuple(kept) == given_lines
    assert tuple(kept[1:]) == given_lines[1:]
    assert kept.cited_bounds() == (5, 40)
    assert kept.new_texts(8) == ["a"]
    assert kept == given_lines
    assert hash(kept) == hash(given_lines)


def test_one_marker_per_text() -> None:
    with pytest.raises(ValueError, match="one marker"):
        HunkLines("+-", ("only one",), 1, 1)
    with pytest.raises(ValueError, match="one marker"):
        HunkLines("?", ("x",), 1, 1)


def test_a_parsed_hunk_numbers_its_lines_from_its_header_and_drops_the_no_newline_note() -> None:
    text = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n"
        "@@ -7,3 +7,3 @@ def f():\n a = 1\n-b = 2\n+b = 3\r\n c = 4\n\\ No newline at end of file\n"
    )
    (hunk,) = parse_diff(text).files[0].hunks
    assert tuple(hunk.lines) == (
        DiffLine("context", "a = 1", 7, 7),
        DiffLine("removed", "b = 2", 8, None),
        DiffLine("added", "b = 3\r", None, 8),
        DiffLine("context", "c = 4", 9, 9),
    )
    assert hunk.lines.markers == " -+ "
