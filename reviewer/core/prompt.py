"""Render chunks with real line numbers and build cache-friendly Messages API requests."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from reviewer.core.chunking import Chunk
from reviewer.core.findings import findings_json_schema
from reviewer.core.patterns import path_spec
from reviewer.core.render import header_value, neutralise, render_part
from reviewer.core.tokens import estimate_tokens

PROMPT_VERSION = "v2"

_CACHE = {"type": "ephemeral"}
# Turn and role markers the API wraps around system and message text; a guess kept generous.
_FRAMING_TOKENS = 32


@dataclass(frozen=True)
class PromptContext:
    """What every chunk of one pull request shares.

    `instructions` is the repository's review guidance; `path_instructions` holds
    (gitignore-style pattern, text) pairs, sent only with chunks that hold a matching file.
    `guidance` holds (path, text) of the guidance files read from the base branch;
    `language` the language the findings are written in (empty: the model's default).
    `files` lists the reviewed files of a pull request reviewed in several requests (see
    `MAX_LISTED_FILES`); empty when one request holds them all.
    """

    repo: str
    title: str = ""
    description: str = ""
    instructions: str = ""
    path_instructions: tuple[tuple[str, str], ...] = ()
    guidance: tuple[tuple[str, str], ...] = ()
    language: str = ""
    files: tuple[str, ...] = ()


# A pull request reviewed in several requests lists its files in the shared, cached prefix:
# each request learns what else the change touches, and the prefix reaches the length the
# API caches at all (a shorter one is billed in full with every request). At most this many.
MAX_LISTED_FILES = 1000


@functools.cache
def system_prompt() -> str:
    """Return the versioned system prompt.

    The answer's JSON schema is not in it: it goes once, in the request's `output_config`.
    """
    return resources.files("reviewer").joinpath(f"prompts/system_{PROMPT_VERSION}.md").read_text()


def _data(tag: str, text: str) -> str:
    return f"<{tag}>\n{neutralise(text.strip())}\n</{tag}>"


def _text(text: str, *, cache: bool = False, ttl: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if cache:
        block["cache_control"] = dict(_CACHE) if ttl is None else {**_CACHE, "ttl": ttl}
    return block


def _pull_request_text(context: PromptContext) -> str:
    lines = [f"Pull request in the repository {header_value(context.repo)}."]
    if context.title.strip():
        lines.append(_data("pr_title", context.title))
    if context.description.strip():
        lines.append(_data("pr_description", context.description))
    if context.files:
        lines.append(_data("pr_files", file_list(context.files)))
    return "\n".join(lines)


def file_list(paths: Sequence[str]) -> str:
    """`paths` one directory a line, `dir/: name name ...` (`./:` for the top level), sorted;
    a name with a space or a double quote is written as a JSON string. At most
    `MAX_LISTED_FILES` paths, then how many more."""
    by_dir: dict[str, list[str]] = {}
    for path in paths[:MAX_LISTED_FILES]:
        folder, _, name = header_value(path).rpartition("/")
        by_dir.setdefault(folder, []).append(name)
    lines = [
        f"{folder or '.'}/: " + " ".join(_listed_name(name) for name in sorted(by_dir[folder]))
        for folder in sorted(by_dir)
    ]
    if len(paths) > MAX_LISTED_FILES:
        lines.append(f"... and {len(paths) - MAX_LISTED_FILES} more")
    return "\n".join(lines)


def _listed_name(name: str) -> str:
    plain = not any(c.isspace() or c == '"' for c in name)
    return name if plain else json.dumps(name, ensure_ascii=False)


def matching_path_instructions(
    context: PromptContext, paths: Iterable[str]
) -> tuple[tuple[str, str], ...]:
    """Return the (pattern, text) pairs of `context` matching any of `paths`, in order."""
    wanted = tuple(paths)
    return tuple(
        (pattern, text)
        for pattern, text in context.path_instructions
        if text.strip() and any(path_spec((pattern,)).match_file(path) for path in wanted)
    )


def _guidance_text(guidance: Sequence[tuple[str, str]]) -> str:
    files = "\n\n".join(f"From `{header_value(path)}`:\n{text.strip()}" for path, text in guidance)
    return _data("guidance", files)


def _language_text(language: str) -> str:
    if not language.strip():
        return ""
    return (
        f" Write every title and body in {header_value(language.strip())}; keep code, "
        "identifiers and suggestions as they are."
    )


def _chunk_text(diff: str, path_instructions: Sequence[tuple[str, str]], language: str = "") -> str:
    pieces = []
    if path_instructions:
        notes = "\n\n".join(
            f"For files matching `{header_value(pattern)}`:\n{text.strip()}"
            for pattern, text in path_instructions
        )
        pieces.append(_data("path_instructions", notes) + "\n\n")
    pieces.append(f"<diff>\n{diff}</diff>\n\n")
    pieces.append("Review the diff above. Answer with the JSON object only.")
    pieces.append(_language_text(language))
    return "".join(pieces)


def build_request(
    context: PromptContext, chunk: Chunk, *, ttl: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (system blocks, messages) for `client.messages.create` for one chunk.

    Everything before the chunk's own text is byte-identical for every chunk of the PR, and
    ends with cache breakpoints (at most 4): the system prompt and schema, the repository's
    instructions (if any), its guidance files (if any), then the PR's title and description.
    The chunk comes last, without one.
    `ttl` sets the breakpoints' cache lifetime ("1h" inside a Message Batch, which can take
    longer than the default five minutes); None keeps the API's default.
    """
    system = [_text(system_prompt(), cache=True, ttl=ttl)]
    if context.instructions.strip():
        system.append(_text(_data("repo_instructions", context.instructions), cache=True, ttl=ttl))
    if context.guidance:
        system.append(_text(_guidance_text(context.guidance), cache=True, ttl=ttl))
    paths = [part.path for part in chunk.parts]
    diff = "".join([render_part(part) for part in chunk.parts])
    instructions = matching_path_instructions(context, paths)
    content = [
        _text(_pull_request_text(context), cache=True, ttl=ttl),
        _text(_chunk_text(diff, instructions, context.language)),
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
    if context.guidance:
        texts.append(_guidance_text(context.guidance))
    every = tuple((p, t) for p, t in context.path_instructions if t.strip())
    texts.append(_chunk_text("", every, context.language))
    texts.append(json.dumps(findings_json_schema()))
    return sum(estimate_tokens(text, model) for text in texts) + _FRAMING_TOKENS
