"""Find where functions, classes and types start and end: Python, JavaScript/TypeScript, Go."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import Literal

Language = Literal["python", "javascript", "go"]

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
