"""Untrusted text made inert: checked against an independent CommonMark parser (markdown-it)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from reviewer.core.inert import ZWSP, code, inert, inert_line

_MD = MarkdownIt("commonmark")
_LIVE_MENTION = re.compile(r"(?<![A-Za-z0-9_`])@[A-Za-z0-9]")
_URL = re.compile(r"(?i)([a-z][a-z0-9+.\-]*://|www\.)")
# Characters that build markdown structure, weighted so that hypothesis hits them often.
_ALPHABET = st.sampled_from(
    [
        *"`~<>[]()!@/\\&#*-_:. \n\tax1",
        "```",
        "~~~",
        "<!--",
        "-->",
        "@org/team",
        "](https://evil)",
        "![i](u)",
        "https://x.y/z",
        "www.x.y",
        "```suggestion",
        "suggestion",
        "    ",
        "&#64;",
        "&lt;",
        "[r]: http://e",
    ]
)
_TEXT = st.lists(_ALPHABET, max_size=40).map("".join) | st.text(max_size=80)


def _leaves(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for token in tokens:
        out.append(token)
        out.extend(_leaves(token.children or []))
    return out


def _assert_inert(rendered: str) -> None:
    assert "<!--" not in rendered
    for token in _leaves(_MD.parse(rendered)):
        assert token.type not in ("html_inline", "html_block", "link_open", "image"), token
        if token.type == "fence":
            assert "suggestion" not in token.info.lower()
        if token.type == "text":
            assert not _LIVE_MENTION.search(token.content), token.content
            assert not _URL.search(token.content), token.content


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_inert_leaves_nothing_live(text: str) -> None:
    _assert_inert(inert(text))


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_inert_line_is_one_inert_line(text: str) -> None:
    rendered = inert_line(text)
    assert "\n" not in rendered
    _assert_inert("**x** " + rendered)
    _assert_inert("> " + rendered)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_code_is_one_code_span_of_the_text(text: str) -> None:
    rendered = code(text)
    assert "\n" not in rendered
    inline = _leaves(_MD.parse("x " + rendered))
    spans = [t for t in inline if t.type == "code_inline"]
    assert len(spans) == 1
    shown = (
        text.replace("\x00", "\ufffd")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
        .replace("<!--", "<!" + ZWSP + "--")
    )
    if shown.strip(" "):
        assert spans[0].content in (shown, shown.strip(" "))


def test_code_and_fences_in_model_text_stay_code() -> None:
    rendered = inert("Use `@admin <b>` here:\n```python\nx = '<!-- y -->'  # @me\n```\nDone.")
    tokens = _leaves(_MD.parse(rendered))
    assert [t.content for t in tokens if t.type == "code_inline"] == ["@admin <b>"]
    fences = [t for t in tokens if t.type == "fence"]
    assert fences[0].info == "python"
    assert fences[0].content == f"x = '<!{ZWSP}-- y -->'  # @me\n"


def test_suggestion_fences_of_every_kind_lose_their_info_string() -> None:
    for opener in ("```suggestion", "````Suggestion", "~~~suggestion", "   ```suggestion x"):
        rendered = inert(f"See:\n{opener}\nrm -rf /\n{opener.strip()[:3]}")
        fences = [t for t in _leaves(_MD.parse(rendered)) if t.type == "fence"]
        assert fences and all(t.info == "" for t in fences), rendered
    assert "suggestion" not in inert("    ```suggestion\n    x\n    ```").split("\n")[0][:4]


def test_exact_renderings() -> None:
    assert code("a`b") == "``a`b``"
    assert code("`x") == "`` `x ``"
    assert code("a\nb") == "`a\\nb`"
    assert inert_line("ping @org/team") == f"ping @{ZWSP}org/team"
    assert inert_line("[x](https://evil)") == "&#91;x&#93;(`https://evil)`"
    assert inert_line("![i](u) <!-- c -->") == "!&#91;i&#93;(u) &lt;!-- c --&gt;"
