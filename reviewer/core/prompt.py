"""Render chunks with real line numbers and build cache-friendly Messages API requests."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import pathspec

from reviewer.core.diff import DiffLine, Hunk
from reviewer.core.findings import findings_json_schema
from reviewer.core.tokens import estimate_from_size, estimate_tokens, utf8_length

if TYPE_CHECKING:  # chunking imports this module to cost what it renders
    from reviewer.core.chunking import Chunk, ChunkPart

PROMPT_VERSION = "v2"

# Tags of the data blocks. Inside any block, an opening or closing tag of any of them is
# escaped (`<` becomes `&lt;`), so a diff line or a PR description cannot end its block early
# and pose as instructions, nor open a block of another kind.
DATA_TAGS = ("repo_instructions", "pr_title", "pr_description", "path_instructions", "diff")
_TAG = re.compile(r"<(?=\s*/?\s*(?:" + "|".join(DATA_TAGS) + r")\b)", re.IGNORECASE)

OVERLAP_OPEN = "(already reviewed, for context)\n"
OVERLAP_CLOSE = "(end of context)\n"
_MARKERS = {"added": "+", "removed": "-", "context": " "}
_REMOVED = "removed"
_CACHE = {"type": "ephemeral"}
# Turn and role markers the API wraps around system and message text; a guess kept generous.
_FRAMING_TOKENS = 32


@dataclass(frozen=True)
class PromptContext:
    """What every chunk of one pull request shares.

    `instructions` is the repository's review guidance; `path_instructions` holds
    (gitignore-style pattern, text) pairs, sent only with chunks that hold a matching file.
    """

    repo: str
    title: str = ""
    description: str = ""
    instructions: str = ""
    path_instructions: tuple[tuple[str, str], ...] = ()


def neutralise(text: str) -> str:
    """Escape every data-block tag in `text` so it cannot open or close a block."""
    if "<" not in text:
        return text
    return _TAG.sub("&lt;", text)


def _one_line(text: str) -> str:
    # A path from the API is plain UTF-8 and may hold any character; a newline in it would
    # let it forge a header line.
    return neutralise(text).replace("\r", "\\r").replace("\n", "\\n")


def line_width(lines: Sequence[DiffLine]) -> int:
    """Return the gutter width: the digits of the largest line number among `lines`."""
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
    section = f" {_one_line(hunk.section)}" if hunk.section else ""
    return f"@@ -{hunk.old_start},{hunk.old_count} +{hunk.new_start},{hunk.new_count} @@{section}\n"


def render_hunk(hunk: Hunk) -> str:
    """Render a hunk: its `@@` header, then every line with its numbers."""
    lines = "".join([render_line(line) + "\n" for line in hunk.lines])
    return render_hunk_header(hunk) + lines


def _lines_size(lines: Sequence[DiffLine]) -> int:
    """Bytes of `lines` rendered one per line (with their newlines)."""
    texts = [line.text for line in lines]
    joined = "".join(texts)
    if "<" in joined or "\n" in joined:
        text_bytes = sum([_text_size(text) for text in texts])
    else:
        text_bytes = utf8_length(joined)
    removed = _REMOVED
    digits = sum(
        [len(str((ln.old_line if ln.kind == removed else ln.new_line) or 0)) for ln in lines]
    )
    return text_bytes + digits + 2 * len(lines)


def hunk_size(hunk: Hunk) -> tuple[int, int]:
    """Return (UTF-8 bytes, newlines) of `render_hunk(hunk)` without rendering it."""
    return utf8_length(render_hunk_header(hunk)) + _lines_size(hunk.lines), len(hunk.lines) + 1


def render_overlap(lines: Sequence[DiffLine]) -> str:
    """Render lines already owned by another part, between context-only markers."""
    if not lines:
        return ""
    body = "".join([render_line(line) + "\n" for line in lines])
    return OVERLAP_OPEN + body + OVERLAP_CLOSE


def render_file_header(path: str, status: str, old_path: str | None, part: int, parts: int) -> str:
    """Render the `FILE:`, `STATUS:` and (for a file in several parts) `PART:` lines."""
    status_text = status
    if old_path is not None and old_path != path:
        status_text += f" from {_one_line(old_path)}"
    header = f"FILE: {_one_line(path)}\nSTATUS: {status_text}\n"
    if parts > 1:
        header += f"PART: {part} of {parts}\n"
    return header


def render_part(part: ChunkPart) -> str:
    """Render a part: header, context-only overlap, hunks, then a blank separating line."""
    header = render_file_header(part.path, part.status, part.old_path, part.part, part.parts)
    hunks = "".join([render_hunk(hunk) for hunk in part.hunks])
    return header + render_overlap(part.overlap) + hunks + "\n"


def part_size(part: ChunkPart) -> tuple[int, int]:
    """Return (UTF-8 bytes, newlines) of `render_part(part)` without rendering it."""
    header = render_file_header(part.path, part.status, part.old_path, part.part, part.parts)
    size, newlines = utf8_length(header) + 1, header.count("\n") + 1
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


@functools.cache
def system_prompt() -> str:
    """Return the versioned system prompt.

    The answer's JSON schema is not in it: it goes once, in the request's `output_config`.
    """
    return resources.files("reviewer").joinpath(f"prompts/system_{PROMPT_VERSION}.md").read_text()


def _data(tag: str, text: str) -> str:
    return f"<{tag}>\n{neutralise(text.strip())}\n</{tag}>"


def _text(text: str, *, cache: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if cache:
        block["cache_control"] = dict(_CACHE)
    return block


def _pull_request_text(context: PromptContext) -> str:
    lines = [f"Pull request in the repository {_one_line(context.repo)}."]
    if context.title.strip():
        lines.append(_data("pr_title", context.title))
    if context.description.strip():
        lines.append(_data("pr_description", context.description))
    return "\n".join(lines)


@functools.lru_cache(maxsize=256)
def _spec(pattern: str) -> Any:
    return pathspec.GitIgnoreSpec.from_lines([pattern])


def matching_path_instructions(
    context: PromptContext, paths: Iterable[str]
) -> tuple[tuple[str, str], ...]:
    """Return the (pattern, text) pairs of `context` matching any of `paths`, in order."""
    wanted = tuple(paths)
    return tuple(
        (pattern, text)
        for pattern, text in context.path_instructions
        if text.strip() and any(_spec(pattern).match_file(path) for path in wanted)
    )


def _chunk_text(diff: str, path_instructions: Sequence[tuple[str, str]]) -> str:
    pieces = []
    if path_instructions:
        notes = "\n\n".join(
            f"For files matching `{_one_line(pattern)}`:\n{text.strip()}"
            for pattern, text in path_instructions
        )
        pieces.append(_data("path_instructions", notes) + "\n\n")
    pieces.append(f"<diff>\n{diff}</diff>\n\n")
    pieces.append("Review the diff above. Answer with the JSON object only.")
    return "".join(pieces)


def build_request(
    context: PromptContext, chunk: Chunk
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (system blocks, messages) for `client.messages.create` for one chunk.

    Everything before the chunk's own text is byte-identical for every chunk of the PR, and
    ends with cache breakpoints: the system prompt and schema, the repository's instructions
    (if any), then the PR's title and description. The chunk comes last, without one.
    """
    system = [_text(system_prompt(), cache=True)]
    if context.instructions.strip():
        system.append(_text(_data("repo_instructions", context.instructions), cache=True))
    paths = [part.path for part in chunk.parts]
    diff = "".join([render_part(part) for part in chunk.parts])
    content = [
        _text(_pull_request_text(context), cache=True),
        _text(_chunk_text(diff, matching_path_instructions(context, paths))),
    ]
    return system, [{"role": "user", "content": content}]


def prefix_tokens(context: PromptContext, model: str) -> int:
    """Estimate the tokens of a request without its diff, for `tokens.input_budget`.

    Counted as if every per-path instruction matched, and with an allowance for the answer's
    schema (structured outputs may add it to the prompt), so the sum stays an upper bound.
    """
    texts = [system_prompt(), _pull_request_text(context)]
    if context.instructions.strip():
        texts.append(_data("repo_instructions", context.instructions))
    every = tuple((p, t) for p, t in context.path_instructions if t.strip())
    texts.append(_chunk_text("", every))
    texts.append(json.dumps(findings_json_schema()))
    return sum(estimate_tokens(text, model) for text in texts) + _FRAMING_TOKENS
