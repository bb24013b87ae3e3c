"""A diff's lines: `DiffLine`, and `HunkLines`, the compact sequence a hunk keeps them in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from typing import Literal, NamedTuple, overload


class Side(StrEnum):
    """GitHub's side of a diff line: LEFT is the old file, RIGHT the new one."""

    LEFT = "LEFT"
    RIGHT = "RIGHT"


LineKind = Literal["added", "removed", "context"]


class DiffLine(NamedTuple):
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


MARKERS: dict[LineKind, str] = {"added": "+", "removed": "-", "context": " "}
KINDS: dict[str, LineKind] = {marker: kind for kind, marker in MARKERS.items()}


class HunkLines(Sequence[DiffLine]):
    """The lines of one hunk, kept as one marker per line (`+`, `-`, space) and their texts.

    Parsing a diff of a million lines would otherwise build a million `DiffLine` tuples (most
    of what the parse added to unidiff's own time, and of its memory), while planning needs
    only counts, texts and the range of line numbers, which these give without building a
    line. The numbers follow from the
    hunk's first ones: context and removed lines count up the old file, context and added
    lines the new one. `DiffLine`s are built when a line is first read, and kept.
    Lines whose numbers do not follow that rule (hand-made ones) are kept as they were given.
    """

    __slots__ = ("_built", "_follows", "markers", "new_start", "old_start", "texts")

    def __init__(
        self, markers: str, texts: tuple[str, ...], old_start: int, new_start: int
    ) -> None:
        if len(markers) != len(texts) or markers.strip("+- "):
            raise ValueError("one marker ('+', '-' or ' ') per text")
        self.markers = markers
        self.texts = texts
        self.old_start = old_start  # the old number of the first line that has one
        self.new_start = new_start
        self._follows = True  # numbers follow from the starts (else `_built` holds them)
        self._built: tuple[DiffLine, ...] | None = None

    @classmethod
    def of(cls, lines: Iterable[DiffLine]) -> HunkLines:
        """Keep `lines` (compactly when their numbers follow each other, as in a hunk)."""
        given = tuple(lines)
        old = next((ln.old_line for ln in given if ln.kind != "added"), None)
        new = next((ln.new_line for ln in given if ln.kind != "removed"), None)
        kept = cls(
            "".join([MARKERS[ln.kind] for ln in given]),
            tuple([ln.text for ln in given]),
            old if old is not None else 1,
            new if new is not None else 1,
        )
        kept._follows = kept._build() == given
        kept._built = given
        return kept

    def _build(self) -> tuple[DiffLine, ...]:
        old, new = self.old_start, self.new_start
        built: list[DiffLine] = []
        append = built.append
        for marker, text in zip(self.markers, self.texts, strict=True):
            if marker == "+":
                append(DiffLine("added", text, None, new))
                new += 1
            elif marker == "-":
                append(DiffLine("removed", text, old, None))
                old += 1
            else:
                append(DiffLine("context", text, old, new))
                old += 1
                new += 1
        return tuple(built)

    def as_tuple(self) -> tuple[DiffLine, ...]:
        """Every line as a `DiffLine` (built once)."""
        if self._built is None:
            self._built = self._build()
        return self._built

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[DiffLine]:
        return iter(self.as_tuple())

    @overload
    def __getitem__(self, index: int) -> DiffLine: ...
    @overload
    def __getitem__(self, index: slice) -> HunkLines: ...
    def __getitem__(self, index: int | slice) -> DiffLine | HunkLines:
        if isinstance(index, int):
            return self.as_tuple()[index]
        start, stop, step = index.indices(len(self.texts))
        if step != 1 or not self._follows:
            return HunkLines.of(self.as_tuple()[index])
        stop = max(start, stop)
        markers = self.markers
        piece = HunkLines(
            markers[start:stop],
            self.texts[start:stop],
            self.old_start + start - markers.count("+", 0, start),
            self.new_start + start - markers.count("-", 0, start),
        )
        if self._built is not None:
            piece._built = self._built[start:stop]
        return piece

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HunkLines):
            return self.as_tuple() == other.as_tuple()
        if isinstance(other, tuple):
            return self.as_tuple() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.as_tuple())

    def __repr__(self) -> str:
        return f"HunkLines({self.as_tuple()!r})"

    def count_kind(self, kind: LineKind) -> int:
        return self.markers.count(MARKERS[kind])

    @property
    def changed(self) -> int:
        """How many lines are added or removed."""
        return len(self.markers) - self.markers.count(" ")

    def cited_bounds(self) -> tuple[int, int] | None:
        """Bounds of the numbers the lines cite (old for removed lines, else new): no cited
        number lies outside them, though the bounds may be looser than the least and the
        greatest number (when the lines' numbers were given, they are exact)."""
        markers = self.markers
        if not markers:
            return None
        if not self._follows:
            numbers = [(ln.old_line if ln.kind == "removed" else ln.new_line) or 0 for ln in self]
            return min(numbers), max(numbers)
        size = len(markers)
        bounds: list[int] = []
        if "-" in markers:  # removed lines cite old numbers, counted by context and removed
            bounds += [self.old_start, self.old_start + size - markers.count("+") - 1]
        if markers.count("-") < size:  # the others cite new numbers
            bounds += [self.new_start, self.new_start + size - markers.count("-") - 1]
        return min(bounds), max(bounds)

    def new_texts(self, last: int) -> list[str]:
        """The texts of the new file's lines (context and added) numbered up to `last`."""
        if not self._follows:
            return [
                ln.text
                for ln in self
                if ln.kind != "removed" and ln.new_line is not None and ln.new_line <= last
            ]
        texts = [
            text for marker, text in zip(self.markers, self.texts, strict=True) if marker != "-"
        ]
        return texts[: max(0, last - self.new_start + 1)]
