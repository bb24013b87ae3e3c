"""A diff part as the model reads it: its text, line by line, and its size without rendering.

Every line carries the line number the model must cite. Text from the pull request is made
inert here (`neutralise`): it cannot close a data block or forge a header line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from reviewer.core.diff import FileStatus, Hunk
from reviewer.core.lines import DiffLine, HunkLines
from reviewer.core.tokens import estimate_from_size, utf8_length

# Tags of the data blocks. Inside any block, an opening or closing tag of any of them is
# escaped (`<` becomes `&lt;`), so a diff line or a PR description cannot end its block early
# and pose as instructions, nor open a block of another kind.
DATA_TAGS = (
    "repo_instructions", "guidance", "pr_title", "pr_description", "pr_files",
    "path_instructions", "diff", "finding", "code", "history", "question",
)  # fmt: skip
_TAG = re.compile(r"<(?=\s*/?\s*(?:" + "|".join(DATA_TAGS) + r")\b)", re.IGNORECASE)

OVERLAP_OPEN = "(already reviewed, for context)\n"
OVERLAP_CLOSE = "(end of context)\n"
# Code of the head commit around the change (see core/context.py): read, never cited.
CONTEXT_OPEN = "(read-only context from the head commit, not in the diff)\n"
CONTEXT_CLOSE = OVERLAP_CLOSE
CONTEXT_GAP = "...\n"
_MARKERS = {"added": "+", "removed": "-", "context": " "}
_REMOVED = "removed"


@dataclass(frozen=True)
class ChunkPart:
    """A whole file, or one slice of a file too large for one chunk (`part` of `parts`).

    `hunks` hold the lines this part owns (each changed line is owned by exactly one part);
    `overlap` holds a few lines before them, already owned elsewhere, shown for context;
    `context` holds read-only lines of the head file around the hunks (core/context.py).
    """

    path: str
    status: FileStatus
    hunks: tuple[Hunk, ...]
    old_path: str | None = None
    overlap: tuple[DiffLine, ...] = ()
    part: int = 1
    parts: int = 1
    context: tuple[DiffLine, ...] = ()


def neutralise(text: str) -> str:
    """Escape every data-block tag in `text` so it cannot open or close a block."""
    if "<" not in text:
        return text
    return _TAG.sub("&lt;", text)


def header_value(text: str) -> str:
    """`text` made safe on one line of the prompt: no data-block tag, \\r and \\n escaped.

    A path from the API is plain UTF-8 and may hold any character; a newline in it would let
    it forge a header line. (Unlike core/text.one_line, nothing is folded or cut.)
    """
    return neutralise(text).replace("\r", "\\r").replace("\n", "\\n")


def line_width(lines: Sequence[DiffLine]) -> int:
    """Return the digits of the largest line number among `lines` (bounds a slice header)."""
    # List comprehensions and filter() rather than one generator: this runs on every line.
    olds = max(filter(None, [line.old_line for line in lines]), default=0)
    news = max(filter(None, [line.new_line for line in lines]), default=0)
    return len(str(max(olds, news)))


def _clean(text: str) -> str:
    text = neutralise(text)
    if "\n" in text:  # not in a parsed line; kept from forging a line of its own
        text = text.replace("\n", "\\n")
    return text


def _text_size(text: str) -> int:
    if "<" in text or "\n" in text:
        text = _clean(text)
    return utf8_length(text)


def cited_number(line: DiffLine) -> int:
    """The one number a line shows and the model cites: old-file for removed, else new-file."""
    number = line.old_line if line.kind == _REMOVED else line.new_line
    return number if number is not None else 0


def render_line(line: DiffLine) -> str:
    """Render one diff line (without its newline) as `NUMBER` `marker` `text`, unpadded.

    NUMBER is `cited_number(line)`; the marker (`+`, `-` or a space) follows it directly and
    the code follows the marker directly, as in the diff itself: `12+x = 1`, `9-x = 0`,
    `13 return x`. A line's text cannot pass for a header: every rendered line starts with
    a digit.
    """
    return f"{cited_number(line)}{_MARKERS[line.kind]}{_clean(line.text)}"


def line_size(line: DiffLine) -> int:
    """Return the UTF-8 bytes of `render_line(line)` without rendering it."""
    return len(str(cited_number(line))) + 1 + _text_size(line.text)


def render_hunk_header(hunk: Hunk) -> str:
    section = f" {header_value(hunk.section)}" if hunk.section else ""
    return f"@@ -{hunk.old_start},{hunk.old_count} +{hunk.new_start},{hunk.new_count} @@{section}\n"


def render_hunk(hunk: Hunk) -> str:
    """Render a hunk: its `@@` header, then every line with its numbers."""
    lines = "".join([render_line(line) + "\n" for line in hunk.lines])
    return render_hunk_header(hunk) + lines


def _lines_size(lines: Sequence[DiffLine]) -> int:
    """Bytes of `lines` rendered one per line (with their newlines)."""
    texts = lines.texts if isinstance(lines, HunkLines) else [line.text for line in lines]
    joined = "".join(texts)
    if "<" in joined or "\n" in joined:
        text_bytes = sum([_text_size(text) for text in texts])
    else:
        text_bytes = utf8_length(joined)
    return text_bytes + _digits(lines) + 2 * len(lines)


def _digits(lines: Sequence[DiffLine]) -> int:
    """The digits of every line's cited number, summed."""
    if not lines:
        return 0
    if isinstance(lines, HunkLines):  # a hunk's lines: the range, without building a line
        least, greatest = lines.cited_bounds() or (0, 0)
        width = len(str(greatest))
        if len(str(least)) == width:
            return width * len(lines)
    removed = _REMOVED
    numbers = [(ln.old_line if ln.kind == removed else ln.new_line) or 0 for ln in lines]
    width = len(str(max(numbers)))
    if len(str(min(numbers))) == width:  # the usual case: one width for the whole run
        return width * len(numbers)
    return sum([len(str(number)) for number in numbers])


def hunk_size(hunk: Hunk) -> tuple[int, int]:
    """Return (UTF-8 bytes, newlines) of `render_hunk(hunk)` without rendering it."""
    return utf8_length(render_hunk_header(hunk)) + _lines_size(hunk.lines), len(hunk.lines) + 1


def render_overlap(lines: Sequence[DiffLine]) -> str:
    """Render lines already owned by another part, between context-only markers."""
    if not lines:
        return ""
    body = "".join([render_line(line) + "\n" for line in lines])
    return OVERLAP_OPEN + body + OVERLAP_CLOSE


def _runs(lines: Sequence[DiffLine]) -> int:
    """How many runs of consecutive new-file numbers `lines` (sorted) make."""
    return sum(
        1
        for index, line in enumerate(lines)
        if index == 0 or line.new_line != (lines[index - 1].new_line or 0) + 1
    )


def render_context(lines: Sequence[DiffLine]) -> str:
    """Render read-only context lines (sorted by new number), `...` between gaps."""
    if not lines:
        return ""
    pieces = [CONTEXT_OPEN]
    for index, line in enumerate(lines):
        if index and line.new_line != (lines[index - 1].new_line or 0) + 1:
            pieces.append(CONTEXT_GAP)
        pieces.append(render_line(line) + "\n")
    pieces.append(CONTEXT_CLOSE)
    return "".join(pieces)


def context_size(lines: Sequence[DiffLine]) -> tuple[int, int]:
    """Return (UTF-8 bytes, newlines) of `render_context(lines)` without rendering it."""
    if not lines:
        return 0, 0
    gaps = _runs(lines) - 1
    size = len(CONTEXT_OPEN) + len(CONTEXT_CLOSE) + gaps * len(CONTEXT_GAP) + _lines_size(lines)
    return size, len(lines) + gaps + 2


def render_file_header(path: str, status: str, old_path: str | None, part: int, parts: int) -> str:
    """Render the `FILE:`, `STATUS:` and (for a file in several parts) `PART:` lines."""
    status_text = status
    if old_path is not None and old_path != path:
        status_text += f" from {header_value(old_path)}"
    header = f"FILE: {header_value(path)}\nSTATUS: {status_text}\n"
    if parts > 1:
        header += f"PART: {part} of {parts}\n"
    return header


def render_part(part: ChunkPart) -> str:
    """Render a part: header, read-only context, overlap, hunks, then a blank line."""
    header = render_file_header(part.path, part.status, part.old_path, part.part, part.parts)
    hunks = "".join([render_hunk(hunk) for hunk in part.hunks])
    return header + render_context(part.context) + render_overlap(part.overlap) + hunks + "\n"


def part_size(part: ChunkPart) -> tuple[int, int]:
    """Return (UTF-8 bytes, newlines) of `render_part(part)` without rendering it."""
    header = render_file_header(part.path, part.status, part.old_path, part.part, part.parts)
    size, newlines = utf8_length(header) + 1, header.count("\n") + 1
    if part.context:
        context_bytes, context_newlines = context_size(part.context)
        size += context_bytes
        newlines += context_newlines
    if part.overlap:
        size += len(OVERLAP_OPEN) + len(OVERLAP_CLOSE) + _lines_size(part.overlap)
        newlines += len(part.overlap) + 2
    for hunk in part.hunks:
        hunk_bytes, hunk_newlines = hunk_size(hunk)
        size += hunk_bytes
        newlines += hunk_newlines
    return size, newlines


def part_tokens(part: ChunkPart, model: str) -> int:
    """Return `estimate_tokens(render_part(part), model)`, computed without rendering."""
    size, newlines = part_size(part)
    return estimate_from_size(size, newlines + 1, model)
