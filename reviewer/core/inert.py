"""Make untrusted text inert in what the bot posts: no mentions, HTML, links or suggestions.

File names (PR authors choose them), text and paths the model returns, PR titles and error
messages all reach review bodies and comments. Everything posted goes through here:

- `code(text)` shows text as one inline code span (file names, paths, logins);
- `inert(text)` renders model markdown: its code spans and fenced code stay code,
  re-emitted with fences of our own, so GitHub parses exactly the structure we built;
- `inert_line(text)` is `inert` for one line (titles, notes, list items).

Outside code, `&`, `<`, `[`, `]`, backticks, `~` and backslashes become HTML entities (no HTML,
no HTML comment, no autolink, no link, image or reference definition, no fence); `@` before a
name gets a zero-width space (no live mention of a user or `@org/team`); a bare URL is shown as
inline code. Inside code nothing is live on GitHub, but `<!--` still gets a zero-width space so
that no hidden marker can be planted anywhere. A fence's info string never says `suggestion`:
a one-click suggestion comes only from a finding's `suggestion` field (core/anchoring.py).
"""

from __future__ import annotations

import bisect
import re

ZWSP = "\u200b"
_ENTITIES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "[": "&#91;",
    "]": "&#93;",
    "`": "&#96;",
    "~": "&#126;",
    "\\": "&#92;",
}
_SPECIAL = re.compile(r"[&<>\[\]`~\\]")
_MENTION = re.compile(r"@(?=[A-Za-z0-9_])")
# What GitHub autolinks in text: a scheme URL, `www.` and `mailto:`/`xmpp:` (emails lose their
# `@` link through the mention rule).
_URL = re.compile(r"(?i)(?:[a-z][a-z0-9+.\-]{0,31}://|www\.|(?:mailto|xmpp):)[^\s]*")
_COMMENT = "<!--"
_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_BACKTICKS = re.compile(r"`+")
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.\-]{1,32}")


def _defang_comment(text: str) -> str:
    return text.replace(_COMMENT, "<!" + ZWSP + "--") if _COMMENT in text else text


def _longest_run(text: str) -> int:
    return max((len(r) for r in _BACKTICKS.findall(text)), default=0)


def code(text: str) -> str:
    """`text` as one inline code span: a fence longer than its backtick runs, no newline."""
    text = _defang_comment(text.replace("\r", "\\r").replace("\n", "\\n"))
    fence = "`" * (_longest_run(text) + 1)
    if not text.strip(" ") or text[0] in "` " or text[-1] in "` ":
        text = f" {text} "  # CommonMark strips one space on each side
    return f"{fence}{text}{fence}"


def _plain(text: str) -> str:
    """Text outside code: URLs become code, the rest is escaped and its mentions broken."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        out.append(_escape(text[last : match.start()]))
        out.append(code(match.group(0)))
        last = match.end()
    out.append(_escape(text[last:]))
    return _join(out)


def _join(parts: list[str]) -> str:
    """Concatenate, keeping two code spans from touching (their fences would merge)."""
    out = ""
    for part in parts:
        if out.endswith("`") and part.startswith("`"):
            out += ZWSP
        out += part
    return out


def _escape(text: str) -> str:
    text = _SPECIAL.sub(lambda m: _ENTITIES[m.group(0)], text)
    return _MENTION.sub("@" + ZWSP, text)


def _inline(text: str) -> str:
    """Render a paragraph: code spans (CommonMark's pairing) as our own spans, the rest plain."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    by_size: dict[int, list[int]] = {}  # run size -> indexes into runs, ascending
    for index, (start, end) in enumerate(runs):
        by_size.setdefault(end - start, []).append(index)
    out: list[str] = []
    plain_from = 0
    index = 0
    while index < len(runs):
        start, end = runs[index]
        same = by_size[end - start]
        after = bisect.bisect_right(same, index)
        if after == len(same):  # no closing run of the same size: the backticks are literal
            index += 1
            continue
        close = runs[same[after]]
        out.append(_plain(text[plain_from:start]))
        inner = text[end : close[0]].replace("\r", " ").replace("\n", " ")
        if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
            inner = inner[1:-1]
        out.append(code(inner))
        plain_from = close[1]
        index = same[after] + 1
    out.append(_plain(text[plain_from:]))
    return _join(out)


def _fenced(info: str, lines: list[str]) -> str:
    """A fenced block of our own: a fence longer than any backtick run, a safe language."""
    body = [_defang_comment(line) for line in lines]
    fence = "`" * max(3, _longest_run("\n".join(body)) + 1)
    words = info.split()
    language = words[0] if words and _LANGUAGE.fullmatch(words[0]) else ""
    if "suggestion" in language.lower():
        language = ""
    return "\n".join([fence + language, *body, fence])


def inert(text: str) -> str:
    """Untrusted markdown (a finding's body, a message) made inert; code stays code."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    index = 0
    while index < len(lines):
        opened = _FENCE_OPEN.match(lines[index])
        fence = opened.group("fence") if opened else ""
        if opened is None or (fence[0] == "`" and "`" in opened.group("info")):
            paragraph.append(lines[index])
            index += 1
            continue
        if paragraph:
            out.append(_inline("\n".join(paragraph)))
            paragraph = []
        closing = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        out.append(_fenced(opened.group("info"), lines[index + 1 : end]))
        index = end + 1
    if paragraph:
        out.append(_inline("\n".join(paragraph)))
    return "\n".join(out)


def inert_line(text: str, limit: int | None = None) -> str:
    """`inert` for one line: whitespace folded, cut to `limit` characters before rendering."""
    flat = " ".join(text.split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _inline(flat)
