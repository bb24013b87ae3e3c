"""Tests for packing files into chunks and splitting chunks."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.core.chunking import OVERLAP_LINES, Chunk, plan_chunks, split_chunk
from reviewer.core.diff import FileDiff, FileStatus, Hunk
from reviewer.core.lines import DiffLine, HunkLines, LineKind
from reviewer.core.render import ChunkPart, part_tokens, render_part
from reviewer.core.tokens import estimate_tokens
from tests.strategies import build_hunk, file_lists

OLD = "claude-sonnet-4-6"
NEW = "claude-opus-4-7"
FAST = settings(max_examples=100, deadline=None)

LineKey = tuple[str, str, int | None, int | None, str]


def diff_lines(files: Iterable[FileDiff]) -> Counter[LineKey]:
    return Counter(
        (f.path, ln.kind, ln.old_line, ln.new_line, ln.text)
        for f in files
        for h in f.hunks
        for ln in h.lines
    )


def owned_lines(chunks: Iterable[Chunk]) -> Counter[LineKey]:
    return Counter(
        (p.path, ln.kind, ln.old_line, ln.new_line, ln.text)
        for c in chunks
        for p in c.parts
        for h in p.hunks
        for ln in h.lines
    )


def added_file(path: str, lines: int, *, text: str = "value = compute(a, b)") -> FileDiff:
    kinds: list[LineKind] = ["added"] * lines
    hunk = build_hunk(kinds, [f"{text}  # {i}" for i in range(lines)], old_start=1, new_start=1)
    return FileDiff(path, FileStatus.ADDED, (hunk,))


def whole_cost(diff: FileDiff, model: str = OLD) -> int:
    return part_tokens(ChunkPart(diff.path, diff.status, diff.hunks, diff.old_path), model)


def check_hunk_header(hunk: Hunk) -> None:
    """A hunk's header agrees with its lines."""
    olds = [ln.old_line for ln in hunk.lines if ln.kind != "added"]
    news = [ln.new_line for ln in hunk.lines if ln.kind != "removed"]
    assert hunk.old_count == len(olds) and hunk.new_count == len(news)
    if olds:
        assert hunk.old_start == olds[0]
    if news:
        assert hunk.new_start == news[0]


def check_plan(files: Sequence[FileDiff], chunks: Sequence[Chunk], budget: int, model: str) -> None:
    """The invariants every plan keeps."""
    # Every line of every hunk, changed or context, is owned by exactly one part.
    assert owned_lines(chunks) == diff_lines(files)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    source = {f.path: f for f in files}
    for chunk in chunks:
        assert chunk.parts
        assert chunk.estimated_input_tokens <= budget
        assert chunk.estimated_input_tokens == sum(
            estimate_tokens(render_part(p), model) for p in chunk.parts
        )
        text = "".join(render_part(p) for p in chunk.parts)
        assert estimate_tokens(text, model) <= chunk.estimated_input_tokens
        keys = [(p.path, p.part) for p in chunk.parts]
        assert keys == sorted(keys)
        for part in chunk.parts:
            for hunk in part.hunks:
                check_hunk_header(hunk)
            check_overlap(source[part.path], part)


def check_overlap(diff: FileDiff, part: ChunkPart) -> None:
    """A part's overlap is the few lines just before its first owned line, in its hunk."""
    first = part.hunks[0].lines[0]
    for hunk in diff.hunks:
        if first in hunk.lines:
            start = hunk.lines.index(first)
            assert part.overlap == hunk.lines[max(0, start - len(part.overlap)) : start]
            assert len(part.overlap) <= min(OVERLAP_LINES, start)
            return
    raise AssertionError("a part's first line is not in its file")


budgets = st.integers(150, 3_000)
models = st.sampled_from([OLD, NEW])


@FAST
@given(files=file_lists(max_files=6, max_hunks=5, max_lines=25), budget=budgets, model=models)
def test_every_line_in_exactly_one_chunk_and_no_chunk_over_budget(
    files: list[FileDiff], budget: int, model: str
) -> None:
    chunks = plan_chunks(files, budget_tokens=budget, model=model)
    check_plan(files, chunks, budget, model)


@FAST
@given(files=file_lists(max_files=6, max_hunks=5, max_lines=25), budget=budgets, model=models)
def test_files_that_fit_stay_whole(files: list[FileDiff], budget: int, model: str) -> None:
    chunks = plan_chunks(files, budget_tokens=budget, model=model)
    for diff in files:
        parts = [p for c in chunks for p in c.parts if p.path == diff.path]
        if whole_cost(diff, model) <= budget:
            assert parts == [ChunkPart(diff.path, diff.status, diff.hunks, diff.old_path)]
        else:
            numbers = sorted((p.part, p.parts) for p in parts)
            assert numbers == [(i + 1, len(parts)) for i in range(len(parts))]
            assert len(parts) >= 2


@settings(max_examples=50, deadline=None)
@given(
    files=file_lists(max_files=8, max_hunks=4, max_lines=20),
    budget=budgets,
    model=models,
    order=st.randoms(use_true_random=False),
)
def test_same_input_same_chunks_whatever_the_order(
    files: list[FileDiff], budget: int, model: str, order: object
) -> None:
    first = plan_chunks(files, budget_tokens=budget, model=model)
    assert plan_chunks(list(files), budget_tokens=budget, model=model) == first
    shuffled = list(files)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    assert plan_chunks(shuffled, budget_tokens=budget, model=model) == first


@settings(max_examples=50, deadline=None)
@given(
    files=file_lists(min_files=10, max_files=50, max_hunks=2, max_lines=4),
    scale=st.integers(20, 60),
    model=models,
)
def test_many_small_files_pack_tightly(files: list[FileDiff], scale: int, model: str) -> None:
    costs = [whole_cost(f, model) for f in files]
    # First-fit decreasing leaves less room than the item that opened the last chunk in every
    # other chunk, so with files this small against the budget the bound is guaranteed.
    budget = max(costs) * scale // 10
    chunks = plan_chunks(files, budget_tokens=budget, model=model)
    total = sum(costs)
    assert sum(c.estimated_input_tokens for c in chunks) == total
    assert len(chunks) <= math.ceil(total / budget) + 1


def test_first_fit_decreasing_beats_next_fit() -> None:
    # In path order, next-fit makes three chunks: [a], [b], [c, d]. Two are enough:
    # [b, d] and [a, c].
    files = [added_file("a.py", 50), added_file("b.py", 60), added_file("c.py", 50)]
    files.append(added_file("d.py", 40))
    a, b, c, d = (whole_cost(f) for f in files)
    budget = max(a + c, b + d)
    assert a + b > budget and b + c > budget
    chunks = plan_chunks(files, budget_tokens=budget, model=OLD)
    assert [chunk.files for chunk in chunks] == [("a.py", "c.py"), ("b.py", "d.py")]


def test_a_huge_hunk_is_cut_at_lines_with_overlap() -> None:
    diff = added_file("big.py", 200)
    chunks = plan_chunks([diff], budget_tokens=400, model=OLD)
    check_plan([diff], chunks, 400, OLD)
    parts = [p for c in chunks for p in c.parts]
    assert len(parts) >= 5
    assert [p.part for p in parts] == list(range(1, len(parts) + 1))
    assert {p.parts for p in parts} == {len(parts)}
    assert parts[0].overlap == ()
    for before, part in itertools.pairwise(parts):
        assert part.overlap == before.hunks[-1].lines[-OVERLAP_LINES:]
        assert "(already reviewed, for context)" in render_part(part)


def test_a_large_file_is_cut_at_hunk_boundaries_first() -> None:
    hunks = []
    for i in range(6):
        hunks.append(
            build_hunk(["added"] * 20, [f"x{i}_{j} = {j}" for j in range(20)],
                       old_start=1 + 100 * i, new_start=1 + 120 * i)
        )  # fmt: skip
    diff = FileDiff("many.py", FileStatus.MODIFIED, tuple(hunks))
    one_hunk = whole_cost(FileDiff("many.py", FileStatus.MODIFIED, (hunks[0],)))
    budget = 2 * one_hunk + 30
    chunks = plan_chunks([diff], budget_tokens=budget, model=OLD)
    check_plan([diff], chunks, budget, OLD)
    parts = [p for c in chunks for p in c.parts]
    # Whole hunks, two per part, none cut.
    assert [p.hunks for p in parts] == [tuple(hunks[i : i + 2]) for i in (0, 2, 4)]
    assert all(p.overlap == () for p in parts)


def test_files_without_hunks_are_left_out() -> None:
    files = [
        FileDiff("image.png", FileStatus.BINARY, note="binary"),
        added_file("a.py", 3),
    ]
    chunks = plan_chunks(files, budget_tokens=1_000, model=OLD)
    assert [c.files for c in chunks] == [("a.py",)]
    assert plan_chunks([], budget_tokens=1_000, model=OLD) == ()


def test_a_budget_too_small_for_one_line_is_refused() -> None:
    with pytest.raises(ValueError, match="budget"):
        plan_chunks([added_file("a.py", 3)], budget_tokens=10, model=OLD)
    with pytest.raises(ValueError, match="positive"):
        plan_chunks([added_file("a.py", 3)], budget_tokens=0, model=OLD)


def test_a_tight_budget_keeps_fewer_overlap_lines_rather_than_failing() -> None:
    diff = added_file("a.py", 6, text="x" * 60)
    budget = whole_cost(added_file("a.py", 1, text="x" * 60)) + 5
    chunks = plan_chunks([diff], budget_tokens=budget, model=OLD)
    check_plan([diff], chunks, budget, OLD)
    assert len(chunks) == 6
    assert all(len(c.parts[0].overlap) < OVERLAP_LINES for c in chunks)


# Splitting a chunk for a retry


def split_all(chunk: Chunk, model: str) -> list[Chunk]:
    """Split until every piece holds a single line."""
    try:
        first, second = split_chunk(chunk, model=model)
    except ValueError:
        assert sum(len(h.lines) for p in chunk.parts for h in p.hunks) == 1
        return [chunk]
    for half in (first, second):
        assert 0 < _lines(half) < _lines(chunk)
    return split_all(first, model) + split_all(second, model)


@settings(max_examples=30, deadline=None)
@given(files=file_lists(max_files=3, max_hunks=3, max_lines=8), budget=budgets, model=models)
def test_split_chunk_keeps_every_line_once(files: list[FileDiff], budget: int, model: str) -> None:
    for chunk in plan_chunks(files, budget_tokens=budget, model=model):
        if _lines(chunk) == 1:
            continue
        first, second = pieces = split_chunk(chunk, model=model)
        assert owned_lines(pieces) == owned_lines([chunk])
        assert (first.index, second.index) == (chunk.index, chunk.index)
        assert (first.split, second.split) == ((0,), (1,))
        for half in pieces:
            assert half.estimated_input_tokens == sum(part_tokens(p, model) for p in half.parts)
            for part in half.parts:
                for hunk in part.hunks:
                    check_hunk_header(hunk)
        leaves = split_all(chunk, model)
        assert owned_lines(leaves) == owned_lines([chunk])


def _lines(chunk: Chunk) -> int:
    return sum(len(h.lines) for p in chunk.parts for h in p.hunks)


def test_split_a_single_hunk_shows_the_lines_before_the_second_half() -> None:
    diff = added_file("a.py", 10)
    (chunk,) = plan_chunks([diff], budget_tokens=10_000, model=OLD)
    first, second = split_chunk(chunk, model=OLD)
    assert [len(p.hunks[0].lines) for p in (*first.parts, *second.parts)] == [5, 5]
    assert second.parts[0].overlap == diff.hunks[0].lines[2:5]
    assert (first.parts[0].part, second.parts[0].part, second.parts[0].parts) == (1, 2, 2)
    assert second.label == "0.1"
    again = split_chunk(second, model=OLD)
    assert [c.label for c in again] == ["0.1.0", "0.1.1"]


def test_split_by_parts_then_by_hunks() -> None:
    files = [added_file("a.py", 4), added_file("b.py", 4), added_file("c.py", 30)]
    (chunk,) = plan_chunks(files, budget_tokens=10_000, model=OLD)
    first, second = split_chunk(chunk, model=OLD)
    # c.py weighs more than a.py and b.py together: the cut is balanced by tokens.
    assert (first.files, second.files) == (("a.py", "b.py"), ("c.py",))
    two_hunks = FileDiff(
        "m.py",
        FileStatus.MODIFIED,
        (
            build_hunk(["added"], ["one"], old_start=1, new_start=1),
            build_hunk(["removed"], ["two"], old_start=50, new_start=51),
        ),
    )
    (chunk,) = plan_chunks([two_hunks], budget_tokens=10_000, model=OLD)
    halves = split_chunk(chunk, model=OLD)
    assert [h.parts[0].hunks for h in halves] == [two_hunks.hunks[:1], two_hunks.hunks[1:]]


def test_a_single_line_cannot_be_split() -> None:
    line = DiffLine("added", "x", None, 1)
    chunk = Chunk(
        0, (ChunkPart("a.py", FileStatus.ADDED, (Hunk(0, 0, 1, 1, "", HunkLines.of([line])),)),), 9
    )
    with pytest.raises(ValueError, match="single line"):
        split_chunk(chunk, model=OLD)


def test_a_line_larger_than_a_chunk_leaves_its_file_out_with_the_reason() -> None:
    from reviewer.core.diff import parse_diff

    text = (
        "diff --git a/app.min.css b/app.min.css\n--- a/app.min.css\n+++ b/app.min.css\n"
        "@@ -1 +1 @@\n-a{}\n+" + "b{color:red}" * 2_000 + "\n"
        "diff --git a/ok.py b/ok.py\n--- a/ok.py\n+++ b/ok.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    )
    files = parse_diff(text).files
    with pytest.raises(ValueError, match="cannot hold a file header and one line"):
        plan_chunks(files, budget_tokens=500, model="claude-sonnet-4-6")
    too_long: dict[str, str] = {}
    chunks = plan_chunks(files, budget_tokens=500, model="claude-sonnet-4-6", too_long=too_long)
    assert [c.files for c in chunks] == [("ok.py",)]
    assert too_long == {
        "app.min.css": "a line of 24,000 characters is larger than a chunk (500 tokens): "
        "minified or generated?"
    }
