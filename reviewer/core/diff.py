"""Parse unified diffs (git or GitHub patches) into the project's own frozen data model."""

from __future__ import annotations

import io
import itertools
import operator
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from unidiff.errors import UnidiffParseError
from unidiff.patch import Hunk as UnidiffHunk
from unidiff.patch import PatchedFile, PatchSet

from reviewer.core.git_paths import unquote_path
from reviewer.core.lines import KINDS, HunkLines, Side
from reviewer.core.text import one_line
from reviewer.errors import DiffParseError


class FileStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    RENAMED = "renamed"
    COPIED = "copied"
    BINARY = "binary"
    MODE_ONLY = "mode-only"
    SUBMODULE = "submodule"


@dataclass(frozen=True, slots=True)
class Hunk:
    """One hunk: its header's numbers and section, and its lines (see core/lines.py)."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str
    lines: HunkLines


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
        return sum([h.lines.count_kind("added") for h in self.hunks])

    @cached_property
    def removed(self) -> int:
        return sum([h.lines.count_kind("removed") for h in self.hunks])


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
    if not text.strip():
        return PullRequestDiff(files=())
    first_line_end = text.find("\n")
    if first_line_end > 0 and text[first_line_end - 1] == "\r":
        # git never ends a header line with \r: the whole diff went through a CRLF
        # conversion (a Windows editor, a mail client), so content \r cannot be told apart.
        text = text.replace("\r\n", "\n")
    _refuse_what_is_not_one_diff(text)
    files: list[FileDiff] = []
    for before, start, end in _file_segments(text):
        # One file's unidiff objects at a time: they take several times the memory of the
        # project's own, so a large diff never holds them all at once.
        try:
            patch = read_patchset(text[start:end], header_lines=-before)
        except DiffParseError:
            if end == len(text):
                raise
            # Say what the whole text would: a hunk cut short is noticed at the next header.
            patch = read_patchset(text[start:], header_lines=-before)
            files.extend(_file_from_patch(pf) for pf in patch)
            break
        files.extend(_file_from_patch(pf) for pf in patch)
    if not files:
        raise DiffParseError(
            "not a unified diff: no file header ('diff --git' or '---'/'+++') found"
        )
    return PullRequestDiff(files=tuple(files))


def _file_segments(text: str) -> Iterator[tuple[int, int, int]]:
    """Cut `text` before each line that starts with `diff ` (a file's first header line in
    git's and in `diff -r`'s output; a hunk line always starts with a marker, so never
    with it). Yields (lines before the piece, its start, its end); a diff without such
    lines is one piece."""
    starts = [0]
    found = text.find("\ndiff ")
    while found >= 0:
        starts.append(found + 1)
        found = text.find("\ndiff ", found + 1)
    starts.append(len(text))
    before = 0
    for start, end in itertools.pairwise(starts):
        if end > start:
            yield before, start, end
            before += text.count("\n", start, end)


# Only a header can start a line with these: every line inside a hunk starts with
# ' ', '+', '-' or '\\'.
_COMBINED = re.compile(r"^(diff --cc |diff --combined |@@@ )", re.MULTILINE)
_COMMIT = re.compile(r"^commit [0-9a-f]{7,64}\b", re.MULTILINE)


def _refuse_what_is_not_one_diff(text: str) -> None:
    """Refuse a merge commit's combined diff and `git log -p`: say what to pass instead."""
    # Plain substring scans first (a regex with ^ over megabytes costs a tenth of a parse);
    # the regexes confirm only where a candidate was seen.
    combined = ("diff --cc ", "diff --combined ", "@@@ ")
    if any(text.startswith(c) or f"\n{c}" in text for c in combined) and _COMBINED.search(text):
        raise DiffParseError(
            "a combined diff (`git show` of a merge commit) cannot be reviewed: "
            "pass `git diff MERGE^1 MERGE` (the merge against its first parent) instead"
        )
    if text.count("\ncommit ") + text.startswith("commit ") < 2:
        return
    commits = _COMMIT.findall(text)
    if len(commits) > 1:
        raise DiffParseError(
            f"this is the log of {len(commits)} commits (`git log -p`), which shows a file "
            "once per commit: pass `git diff FIRST^ LAST` (their combined change) instead"
        )


# --- unified diff text (git or plain `diff -u`) ---------------------------------------------

_PREFIX = re.compile(r"[abciow12]/")  # a/ b/, mnemonic prefixes, `--no-index` 1/ 2/
_INDEX = re.compile(r"index ([0-9a-f]+)\.\.([0-9a-f]+)")
SUBPROJECT = "Subproject commit "
_DEV_NULL = "/dev/null"
_GITLINK = "160000"


class _CountedLines:
    """Yield the text's lines split on \\n only, remembering how many were read.

    `str.splitlines()` also splits on a bare \\r (and \\v, \\x1c, ...), which would cut a line
    of content in two and shift every later line number; `io.StringIO` splits on \\n only.
    """

    __slots__ = ("_lines", "_requoted", "number")

    def __init__(self, text: str) -> None:
        self._lines = iter(io.StringIO(text))
        self._requoted: dict[str, str] | None = None
        self.number = 0

    def __iter__(self) -> _CountedLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.number += 1
        if line.startswith("diff --git "):
            self._requoted = _requote_header(line)
        if self._requoted is not None:
            if line.startswith("@@"):
                self._requoted = None
            else:
                return self._requoted.get(line.rstrip("\n").rstrip("\t"), line)
        return line


def _requote_header(line: str) -> dict[str, str] | None:
    """Rewrite a header whose names contain " b/", which unidiff would split in the wrong place.

    unidiff splits `diff --git a/x b/y` at the last " b/" and then insists that `+++` names
    the same file; git leaves such names unquoted. Quoting them, with the space as \\040,
    gives unidiff one place to split; the paths read back the same after unquoting.
    """
    rest = line[len("diff --git ") :].rstrip("\n")
    if rest.count(" b/") < 2 or '"' in rest:
        return None
    names = _split_git_header(rest)
    if names is None:
        return None  # a rename: its "rename from/to" lines still give the right paths
    old, new = ('"' + name.replace(" ", "\\040") + '"' for name in names)
    return {
        line.rstrip("\n"): f"diff --git {old} {new}\n",
        f"--- {names[0]}": f"--- {old}\n",
        f"+++ {names[1]}": f"+++ {new}\n",
    }


def read_patchset(text: str, *, header_lines: int = 0) -> PatchSet:
    """Run unidiff over `text`, turning its errors into DiffParseError with a line number.

    `header_lines` is how many synthetic lines were put in front (subtracted from numbers).
    """
    patch: PatchSet | None = None
    if not _has_ambiguous_header(text):
        # The usual case, at C speed: lines split on \n only (as `_CountedLines` does), and
        # no header to requote. An error is read again below, counting lines.
        try:
            patch = PatchSet(io.StringIO(text))
        except UnidiffParseError:
            patch = None
    if patch is None:
        lines = _CountedLines(text)
        try:
            patch = PatchSet(lines)
        except UnidiffParseError as exc:
            number = max(lines.number - header_lines, 1)
            raise DiffParseError(
                f"malformed diff at line {number}: {one_line(str(exc))}", line_number=number
            ) from exc
    _check_hunk_ends(patch, text, header_lines)
    return patch


def _has_ambiguous_header(text: str) -> bool:
    """Whether a `diff --git` line of `text` names " b/" twice (see `_requote_header`)."""
    start = 0
    while True:
        found = text.find("diff --git ", start)
        if found < 0:
            return False
        end = text.find("\n", found)
        line = text[found : end if end >= 0 else len(text)]
        if line.count(" b/") >= 2:
            return True
        if end < 0:
            return False
        start = end


def _check_hunk_ends(patch: PatchSet, text: str, header_lines: int) -> None:
    """Refuse hunk lines left over after a hunk is complete.

    unidiff stops a hunk once the header's counts are met and keeps any further `+`/`-`
    lines as free text: a header that counts too few lines would silently drop code.
    """
    lines: list[str] | None = None
    hunks = [hunk for patched in patch for hunk in patched]
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    for position, hunk in enumerate(hunks):
        last = next((ln.diff_line_no for ln in reversed(hunk) if ln.diff_line_no), None)
        if last is None:
            continue
        # The usual cases, without reading the text: the next hunk's header, or the end,
        # comes right after the last line.
        if last == total:
            continue
        if position + 1 < len(hunks):
            first = next((ln.diff_line_no for ln in hunks[position + 1] if ln.diff_line_no), 0)
            if first - 1 == last + 1:
                continue
        if lines is None:
            lines = text.split("\n")
        index = last  # the 0-based index of the line after `last` (1-based)
        while index < len(lines) and lines[index].startswith("\\"):
            index += 1
        following = lines[index] if index < len(lines) else ""
        if following[:1] in ("+", "-", " ") and not following.startswith(("--- ", "+++ ", "-- ")):
            number = index + 1 - header_lines
            raise DiffParseError(
                f"malformed diff at line {number}: {one_line(following)!r} comes after "
                "the end of a hunk (does the hunk header count too few lines?)",
                line_number=number,
            )


def _header(patched: PatchedFile) -> dict[str, str]:
    """The git extended header lines of one file, by keyword ("rename from", "index", ...)."""
    found: dict[str, str] = {}
    for raw in patched.patch_info or ():
        line = raw.rstrip("\n")
        for key in _HEADER_KEYS:
            if line.startswith(key):
                found.setdefault(key.strip(), line[len(key) :])
                break
    return found


_HEADER_KEYS = (
    "diff --git ",
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
    "old mode ",
    "new mode ",
    "new file mode ",
    "deleted file mode ",
    "index ",
)


def _split_git_header(rest: str) -> tuple[str, str] | None:
    """Split `a/x b/x` (either side maybe C-quoted) into its two names, or None if unsure."""
    if rest.startswith('"'):
        close = _closing_quote(rest)
        if close is not None and rest[close + 1 : close + 2] == " ":
            return rest[: close + 1], rest[close + 2 :]
        return None
    if rest.endswith('"'):
        # An unquoted name never contains a double quote: git would have quoted it.
        cut = rest.find(' "')
        return (rest[:cut], rest[cut + 1 :]) if cut > 0 else None
    # Both unquoted: names may hold spaces, but without a rename both sides are the same name.
    half = len(rest) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3 :]:
        return rest[:half], rest[half + 1 :]
    return None


def _closing_quote(text: str) -> int | None:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i
        else:
            i += 1
    return None


def _clean_path(name: str | None) -> str | None:
    """Turn a diff's file name (`a/x`, `"b/t\\303\\251"`, `/dev/null`) into a plain path."""
    if name is None or name == _DEV_NULL:
        return None
    plain = unquote_path(name)
    return plain[2:] if _PREFIX.match(plain) else plain


def _file_from_patch(patched: PatchedFile) -> FileDiff:
    header = _header(patched)
    header_names = _split_git_header(header["diff --git"]) if "diff --git" in header else None
    added = patched.source_file == _DEV_NULL
    removed = patched.target_file == _DEV_NULL

    old_path = _plain(header.get("rename from") or header.get("copy from"))
    new_path = _plain(header.get("rename to") or header.get("copy to"))
    if header_names is not None:
        old_path = old_path or _clean_path(header_names[0])
        new_path = new_path or _clean_path(header_names[1])
    old_path = old_path or _clean_path(None if added else patched.source_file)
    new_path = new_path or _clean_path(None if removed else patched.target_file)
    path = new_path or old_path
    if path is None:
        raise DiffParseError(
            f"malformed diff at line {patched.diff_line_no}: a file entry has no name",
            line_number=patched.diff_line_no,
        )

    if "copy from" in header:
        status = FileStatus.COPIED
    elif "rename from" in header or (header_names and old_path != new_path):
        # Only a git header tells a rename; `diff -ru old/ new/` names every file twice.
        status = FileStatus.RENAMED
    elif added:
        status = FileStatus.ADDED
    elif removed:
        status = FileStatus.REMOVED
    else:
        status = FileStatus.MODIFIED
    moved_from = old_path if status in (FileStatus.RENAMED, FileStatus.COPIED) else None
    hunks = tuple(to_hunk(h) for h in patched)
    note: str | None = None

    if patched.is_binary_file:
        status, note = FileStatus.BINARY, "binary file"
    elif patched.is_submodule:
        # The hunk is only "Subproject commit <sha>" lines: nothing to review in this repo.
        status, hunks = FileStatus.SUBMODULE, ()
        old_sha, new_sha = _index_shas(header.get("index", ""))
        note = submodule_note(None if added else old_sha, None if removed else new_sha)
    elif patched.is_symlink:
        note = "symlink"  # the content is the link's target path, not code
    elif not hunks:
        old_mode, new_mode = header.get("old mode"), header.get("new mode")
        if status is FileStatus.RENAMED:
            note = "renamed without changes"
        elif status is FileStatus.COPIED:
            note = "copied without changes"
        elif old_mode and new_mode and old_mode != new_mode:
            status, note = FileStatus.MODE_ONLY, f"mode change only ({old_mode} → {new_mode})"
        elif status is FileStatus.ADDED:
            note = "new empty file"
        elif status is FileStatus.REMOVED:
            note = "deleted empty file"
        else:
            note = "no content changes"
    return FileDiff(
        path=path,
        status=status,
        hunks=hunks,
        old_path=moved_from,
        is_symlink=patched.is_symlink,
        note=note,
    )


def _plain(name: str | None) -> str | None:
    """A name from `rename from`/`copy to` lines: C-quoted maybe, never prefixed."""
    return unquote_path(name) if name else None


def to_hunk(hunk: UnidiffHunk) -> Hunk:
    """Convert one unidiff hunk into the project's `Hunk`."""
    return Hunk(
        old_start=hunk.source_start,
        old_count=hunk.source_length,
        new_start=hunk.target_start,
        new_count=hunk.target_length,
        section=hunk.section_header,
        lines=_hunk_lines(hunk),
    )


_LINE_TYPE = operator.attrgetter("line_type")
_VALUE = operator.attrgetter("value")


def _hunk_lines(hunk: UnidiffHunk) -> HunkLines:
    """The hunk's lines without their line endings (a CRLF file keeps its \\r: content).

    This runs on every line of the diff, so the usual case is read by C loops alone (map,
    join, split): every line a kind, each value ending in exactly one \\n (the last may lack
    it at the end of the text). Otherwise, line by line: a "\\\\ No newline at end of file"
    or a blank separator after the hunk has no kind and is left out.
    """
    markers = "".join(map(_LINE_TYPE, hunk))
    joined = "".join(map(_VALUE, hunk))
    texts = joined.split("\n")
    if joined.endswith("\n"):
        texts.pop()
    if len(texts) != len(markers) or markers.strip("+- "):
        kept = [line for line in hunk if line.line_type in KINDS]
        markers = "".join([line.line_type for line in kept])
        texts = [line.value[:-1] if line.value[-1:] == "\n" else line.value for line in kept]
    return HunkLines(markers, tuple(texts), hunk.source_start, hunk.target_start)


def _index_shas(index: str) -> tuple[str | None, str | None]:
    match = _INDEX.match("index " + index)
    if match is None:
        return None, None
    return match.group(1), match.group(2)


def submodule_note(old_sha: str | None, new_sha: str | None) -> str:
    """Say what a submodule change did (bump, added, removed), with short commit ids."""
    old = old_sha[:7] if old_sha and old_sha.strip("0") else None
    new = new_sha[:7] if new_sha and new_sha.strip("0") else None
    if old and new:
        return f"submodule bump {old} → {new}"
    if new:
        return f"submodule added at {new}"
    if old:
        return f"submodule removed (was {old})"
    return "submodule change"


def changed_line_count(files: Sequence[FileDiff]) -> int:
    return sum(f.added + f.removed for f in files)
