"""Read-only context around each hunk: its enclosing definition, a window, or a small file."""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Sequence
from typing import Literal, get_args

from reviewer.core.diff import DiffLine, Hunk

ContextMode = Literal["none", "hunk", "definition", "file"]
CONTEXT_MODES: tuple[ContextMode, ...] = get_args(ContextMode)
Language = Literal["python", "javascript", "go"]

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

_EXTENSIONS: dict[str, Language] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "javascript", ".tsx": "javascript", ".mts": "javascript", ".cts": "javascript",
    ".go": "go",
}  # fmt: skip


def language_of(path: str) -> Language | None:
    """The language whose definitions this module can find in `path`, by its extension."""
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    return _EXTENSIONS.get(name[dot:]) if dot > 0 else None


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


def definitions(path: str, lines: Sequence[str]) -> list[tuple[int, int]] | None:
    """(first, last) line of every function, class or type in the file; None if unknown.

    Python through `ast` (decorators included); JavaScript/TypeScript and Go through a
    scanner that skips strings, comments and regular expressions and pairs braces. A file
    that does not parse gives None, so the caller falls back to a window.
    """
    language = language_of(path)
    if language == "python":
        return _python_definitions(lines)
    if language in ("javascript", "go"):
        return _brace_definitions(lines, go=language == "go")
    return None


def _python_definitions(lines: Sequence[str]) -> list[tuple[int, int]] | None:
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    out = []
    # Definitions are statements: walk statement bodies only, not every expression node
    # (ast.walk visits all of them and costs four times the parse).
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, kinds) and node.end_lineno is not None:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            out.append((start, node.end_lineno))
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, name, None)
            if isinstance(children, list):
                stack.extend(child for child in children if isinstance(child, ast.AST))
    return out


_JS_KEYWORDS = frozenset(
    {"if", "for", "while", "switch", "catch", "with", "return", "do", "else", "try", "finally"}
)
_JS_HEADER = re.compile(
    r"\bfunction\b\s*\*?\s*[\w$]*\s*(?:<[^>]*>)?\s*\("  # function name( / function (
    r"|\bclass\b(?:\s+[\w$]+)?"
    r"|\b(?:interface|enum|namespace)\s+[\w$]+"
    r"|[\w$#]+\s*[:=]\s*(?:async\s*)?(?:\([^)]*\)|[\w$]+)\s*(?::\s*[^=]+)?=>"  # name = () =>
)
_JS_METHOD = re.compile(
    r"^\s*(?:(?:public|private|protected|static|async|readonly|override|abstract|get|set)\s+)*"
    r"\*?\s*([#\w$]+)\s*(?:<[^>]*>)?\s*\("
)
_GO_HEADER = re.compile(r"^\s*(?:func\b|type\s+\w+)")
_REGEX_AFTER = frozenset("(,=:[!&|?{};+-*%<>~^")
_REGEX_WORDS = ("return", "typeof", "case", "in", "of", "delete", "void", "throw", "yield")


def _is_js_header(line: str) -> bool:
    if _JS_HEADER.search(line):
        return True
    method = _JS_METHOD.match(line)
    return method is not None and method.group(1) not in _JS_KEYWORDS


def _brace_definitions(lines: Sequence[str], *, go: bool) -> list[tuple[int, int]] | None:
    blocks = _brace_blocks("\n".join(lines), go=go)
    if blocks is None:
        return None
    out = []
    for open_line, close_line in blocks:
        # The header is on the brace's line or, for parameters over several lines, up to
        # a few lines above it, not past the end of the previous statement.
        for line_no in range(open_line, max(-1, open_line - 4), -1):
            line = lines[line_no]
            if line_no != open_line and line.rstrip().endswith((";", "}", "{")):
                break
            header = _GO_HEADER.match(line) is not None if go else _is_js_header(line)
            if header:
                out.append((line_no + 1, close_line + 1))
                break
    return out


def _brace_blocks(text: str, *, go: bool) -> list[tuple[int, int]] | None:
    """(line of `{`, line of its `}`), 0-based, for every brace pair; None if unbalanced."""
    blocks: list[tuple[int, int]] = []
    stack: list[tuple[int, bool]] = []  # (line, opened by `${` inside a template literal)
    i, n, line = 0, len(text), 0
    last = ""  # the last significant character, to tell a regular expression from division
    word = ""  # the last identifier, for `return /re/`
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
            continue
        if c in "\"'" or (c == "`" and go):
            start, i = i, _skip_string(text, i, c, multiline=c == "`")
            line += text.count("\n", start, i)  # only Go's raw strings span lines
            last, word = '"', ""
            continue
        if c == "`":
            i, line, opened = _skip_template(text, i + 1, line)
            if opened:
                stack.append((line, True))
            last, word = '"', ""
            continue
        if c == "/" and not go and (last in _REGEX_AFTER or not last or word in _REGEX_WORDS):
            after = _skip_regex(text, i)
            if after is not None:
                i, last, word = after, '"', ""
                continue
        if c == "{":
            stack.append((line, False))
        elif c == "}":
            if not stack:
                return None
            open_line, template = stack.pop()
            if template:
                i, line, opened = _skip_template(text, i + 1, line)
                if opened:
                    stack.append((line, True))
                last, word = '"', ""
                continue
            blocks.append((open_line, line))
        if c.isalnum() or c in "_$":
            start = i
            while i < n and (text[i].isalnum() or text[i] in "_$"):
                i += 1
            word, last = text[start:i], "a"
            continue
        last, word = c, ""
        i += 1
    return blocks if not stack else None


def _skip_string(text: str, i: int, quote: str, *, multiline: bool) -> int:
    """Index after the string opening at `i` (an unclosed one ends at the line's end)."""
    j = i + 1
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\" and not multiline:
            j += 2
            continue
        if c == quote:
            return j + 1
        if c == "\n" and not multiline:
            return j
        j += 1
    return n


def _skip_template(text: str, i: int, line: int) -> tuple[int, int, bool]:
    """Scan a template literal from `i`: (index after it or its `${`, line, stopped at `${`)."""
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "\n":
            line += 1
        elif c == "`":
            return i + 1, line, False
        elif c == "$" and text.startswith("${", i):
            return i + 2, line, True
        i += 1
    return n, line, False


def _skip_regex(text: str, i: int) -> int | None:
    """Index after the regular expression literal at `i`, or None if it is not one."""
    j, n, in_class = i + 1, len(text), False
    while j < n:
        c = text[j]
        if c == "\n":
            return None
        if c == "\\":
            j += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            j += 1
            while j < n and text[j].isalpha():  # flags
                j += 1
            return j
        j += 1
    return None
