"""Parse unified diffs (git or GitHub patches) into the project's own frozen data model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    RENAMED = "renamed"
    COPIED = "copied"
    BINARY = "binary"
    MODE_ONLY = "mode-only"
    SUBMODULE = "submodule"


class Side(StrEnum):
    """GitHub's side of a diff line: LEFT is the old file, RIGHT the new one."""

    LEFT = "LEFT"
    RIGHT = "RIGHT"


LineKind = Literal["added", "removed", "context"]


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a hunk, with its text (no marker, no line ending) and its real numbers."""

    kind: LineKind
    text: str
    old_line: int | None
    new_line: int | None

    @property
    def side(self) -> Side:
        return Side.LEFT if self.kind == "removed" else Side.RIGHT

    @property
    def line(self) -> int:
        """The number GitHub anchors a comment to: new-file number, old for removed lines."""
        number = self.old_line if self.kind == "removed" else self.new_line
        assert number is not None
        return number

    @property
    def changed(self) -> bool:
        return self.kind != "context"


@dataclass(frozen=True, slots=True)
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str
    lines: tuple[DiffLine, ...]


@dataclass(frozen=True)
class FileDiff:
    """One file of a diff. `path` is the new path (the old one for a removed file).

    `note` says why a file has nothing reviewable (binary, mode change, submodule bump,
    no patch from GitHub, ...); a filter turns it into the skip reason.
    """

    path: str
    status: FileStatus
    hunks: tuple[Hunk, ...] = ()
    old_path: str | None = None
    is_symlink: bool = False
    note: str | None = None

    @cached_property
    def added(self) -> int:
        return sum(1 for h in self.hunks for ln in h.lines if ln.kind == "added")

    @cached_property
    def removed(self) -> int:
        return sum(1 for h in self.hunks for ln in h.lines if ln.kind == "removed")


@dataclass(frozen=True)
class PullRequestDiff:
    files: tuple[FileDiff, ...]
    _by_path: dict[str, FileDiff] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_path", {f.path: f for f in self.files})

    def file(self, path: str) -> FileDiff | None:
        return self._by_path.get(path)

    @cached_property
    def commentable(self) -> frozenset[tuple[str, Side, int]]:
        """Every (path, side, line) GitHub accepts an inline comment on."""
        return frozenset(
            (f.path, ln.side, ln.line) for f in self.files for h in f.hunks for ln in h.lines
        )


def parse_diff(text: str) -> PullRequestDiff:
    """Parse the text of a unified diff (as `git diff` prints it).

    Raises DiffParseError with a one-line reason when the text is not a diff.
    """
    raise NotImplementedError


def from_github_files(files: Iterable[Mapping[str, Any]]) -> PullRequestDiff:
    """Build the diff from GitHub's `GET /pulls/{n}/files` items (`filename`, `status`, `patch`...)."""
    raise NotImplementedError


def changed_line_count(files: Sequence[FileDiff]) -> int:
    return sum(f.added + f.removed for f in files)
