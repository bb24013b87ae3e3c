"""Pack reviewable files into chunks that fit the model's input budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reviewer.diff import DiffLine, FileDiff, FileStatus, Hunk


@dataclass(frozen=True)
class ChunkPart:
    """A whole file, or one slice of a file too large for one chunk (`part` of `parts`).

    `hunks` hold the lines this part owns (each changed line is owned by exactly one part);
    `overlap` holds a few lines before them, already owned elsewhere, shown for context.
    """

    path: str
    status: FileStatus
    hunks: tuple[Hunk, ...]
    old_path: str | None = None
    overlap: tuple[DiffLine, ...] = ()
    part: int = 1
    parts: int = 1


@dataclass(frozen=True)
class Chunk:
    index: int
    parts: tuple[ChunkPart, ...]
    estimated_input_tokens: int

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.path for p in self.parts))


def plan_chunks(files: Sequence[FileDiff], *, budget_tokens: int, model: str) -> tuple[Chunk, ...]:
    """Pack `files` (already filtered) into chunks of at most `budget_tokens` each."""
    raise NotImplementedError


def split_chunk(chunk: Chunk, *, model: str) -> tuple[Chunk, Chunk]:
    """Split a chunk in two halves (by parts, else by lines); ValueError if it cannot split."""
    raise NotImplementedError
