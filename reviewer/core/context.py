"""Read-only context around each hunk: its enclosing definition, a window, or a small file."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Literal, get_args

from reviewer.core.definitions import definitions
from reviewer.core.diff import Hunk
from reviewer.core.lines import DiffLine

ContextMode = Literal["none", "hunk", "definition", "file"]
CONTEXT_MODES: tuple[ContextMode, ...] = get_args(ContextMode)

# Lines before and after a hunk's changes when no definition is known (mode `hunk`, an
# unknown language, code outside any definition, or a definition too large to send).
WINDOW_LINES = 20
# A definition longer than this is not sent whole: the window around the change is.
MAX_DEFINITION_LINES = 200
# Mode `definition` sends a changed file this small whole; mode `file` one up to the larger cap.
SMALL_FILE_LINES = 150
MAX_FILE_LINES = 1_000
MAX_FILE_BYTES = 64 * 1024
# Context lines per file, whatever the mode: beyond it the windows shrink.
MAX_CONTEXT_LINES = 400


def head_lines(text: str) -> list[str]:
    """Split a file's text into lines as git counts them (LF ends a line; CR stays)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def matches_head(lines: Sequence[str], hunks: Sequence[Hunk]) -> bool:
    """Whether every added and context line of `hunks` is at its number in `lines`.

    A file read from somewhere else than the diff's new side (a working tree that moved on,
    a wrong ref) would give context at the wrong numbers: such a file gets none.
    """
    for hunk in hunks:
        for line in hunk.lines:
            if line.kind == "removed" or line.new_line is None:
                continue
            index = line.new_line - 1
            if index >= len(lines) or lines[index].rstrip("\r") != line.text.rstrip("\r"):
                return False
    return True


def context_lines(
    path: str, text: str, hunks: Sequence[Hunk], mode: ContextMode
) -> tuple[DiffLine, ...]:
    """The read-only lines of the head file `text` to show with `hunks`, in order.

    Lines the hunks already show are left out. Empty for mode `none`, for a file without
    hunks, and when `text` does not match the hunks (see matches_head).
    """
    if mode == "none" or not hunks:
        return ()
    lines = head_lines(text)
    if not matches_head(lines, hunks):
        return ()
    shown = {ln.new_line for h in hunks for ln in h.lines if ln.kind != "removed"}
    ranges = context_ranges(path, lines, hunks, mode)
    return tuple(
        DiffLine("context", lines[number - 1], None, number)
        for start, end in ranges
        for number in range(start, end + 1)
        if number not in shown
    )


def context_ranges(
    path: str, lines: Sequence[str], hunks: Sequence[Hunk], mode: ContextMode
) -> tuple[tuple[int, int], ...]:
    """Merged (first, last) new-file line ranges, 1-based and inclusive, for `mode`."""
    total = len(lines)
    anchors = _anchors(hunks, total)
    if mode == "none" or not anchors or total == 0:
        return ()
    size = sum(len(line) + 1 for line in lines)
    if mode == "file" and total <= MAX_FILE_LINES and size <= MAX_FILE_BYTES:
        return ((1, total),)
    if mode in ("definition", "file") and total <= SMALL_FILE_LINES and size <= MAX_FILE_BYTES:
        return ((1, total),)
    ranges: list[tuple[int, int]] = []
    if mode in ("definition", "file"):
        ranges = _definition_ranges(path, lines, anchors)
    else:
        ranges = _windows(anchors, total, WINDOW_LINES)
    merged = _merge(ranges)
    window = WINDOW_LINES
    while _count(merged) > MAX_CONTEXT_LINES and window > 0:
        window //= 2
        merged = _merge(_windows(anchors, total, window))
    return tuple(merged)


def _anchors(hunks: Sequence[Hunk], total: int) -> list[int]:
    """New-file numbers where each hunk changes something (a removal: where it was)."""
    out: list[int] = []
    for hunk in hunks:
        last_new = hunk.new_start - 1 if hunk.new_count else hunk.new_start
        for line in hunk.lines:
            if line.kind == "added" and line.new_line is not None:
                out.append(line.new_line)
            elif line.kind == "removed":
                out.append(min(max(1, last_new + 1), max(1, total)))
            if line.kind != "removed" and line.new_line is not None:
                last_new = line.new_line
    return sorted(set(n for n in out if 1 <= n <= total))


def _windows(anchors: Sequence[int], total: int, window: int) -> list[tuple[int, int]]:
    return [(max(1, n - window), min(total, n + window)) for n in anchors]


def _merge(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _count(ranges: Sequence[tuple[int, int]]) -> int:
    return sum(end - start + 1 for start, end in ranges)


def _definition_ranges(
    path: str, lines: Sequence[str], anchors: Sequence[int]
) -> list[tuple[int, int]]:
    """The innermost definition around each anchor that fits, else the window around it."""
    found = definitions(path, lines)
    total = len(lines)
    if found is None:
        return _windows(anchors, total, WINDOW_LINES)
    found.sort()
    starts = [start for start, _ in found]
    out: list[tuple[int, int]] = []
    for anchor in anchors:
        best: tuple[int, int] | None = None
        # Definitions starting at or before the anchor; the innermost is the latest start
        # whose end still covers it.
        for index in range(bisect.bisect_right(starts, anchor) - 1, -1, -1):
            start, end = found[index]
            if end >= anchor:
                best = (start, end)
                break
        if best is not None and best[1] - best[0] + 1 <= MAX_DEFINITION_LINES:
            out.append(best)
        else:
            out.extend(_windows([anchor], total, WINDOW_LINES))
    return out
