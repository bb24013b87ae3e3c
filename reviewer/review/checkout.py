"""Files a review reads besides the diff: head files for context, base guidance files."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reviewer.core.context import ContextMode, context_lines
from reviewer.core.diff import FileDiff, FileStatus
from reviewer.core.lines import DiffLine
from reviewer.errors import ReviewerError

ReadFn = Callable[[str], str | None]
GIT_TIMEOUT_S = 60
# A file larger than this is never read for context (core/context.py caps far below it).
MAX_READ_BYTES = 1024 * 1024
# Files read for context per review, and how many reads are in flight at once.
MAX_CONTEXT_FILES = 300
READ_THREADS = 4
_REF_RE = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$|^HEAD$")


def git_reader(checkout: str, ref: str) -> ReadFn:
    """Read `path` as committed at `ref` (a full SHA) in the git checkout `checkout`.

    `git cat-file blob` applies no textconv, filter or diff driver: the bytes are the
    commit's. A missing file, a directory or a submodule gives None.
    """
    if not _REF_RE.match(ref):
        raise ValueError(f"not a commit SHA: {ref!r}")

    def read(path: str) -> str | None:
        if not _safe_relative(path):
            return None
        try:
            proc = subprocess.run(
                ["git", "-C", checkout, "cat-file", "blob", f"{ref}:{path}"],
                capture_output=True,
                timeout=GIT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if proc.returncode != 0 or len(proc.stdout) > MAX_READ_BYTES:
            return None
        return proc.stdout.decode("utf-8", errors="replace")

    return read


def worktree_root(start: str) -> str:
    """The top of the git working tree holding `start`, else `start` itself."""
    try:
        proc = subprocess.run(
            ["git", "-C", start, "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return start
    top = proc.stdout.strip()
    return top if proc.returncode == 0 and top else start


def worktree_reader(root: str) -> ReadFn:
    """Read `path` from the files under `root` as they are now (a local diff's new side).

    Paths come from the diff, which anyone may write: one that leaves `root` (`..`, an
    absolute path, a symlink pointing out) is not read.
    """
    base = Path(root).resolve()

    def read(path: str) -> str | None:
        if not _safe_relative(path):
            return None
        try:
            target = (base / path).resolve()
            if not target.is_relative_to(base) or not target.is_file():
                return None
            if target.stat().st_size > MAX_READ_BYTES:
                return None
            return target.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return None

    return read


def _safe_relative(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and ".." not in parts and "\0" not in path


def read_guidance(
    read: ReadFn, files: Sequence[str], max_bytes: int, *, source: str = "the base branch"
) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """Read the guidance `files` in order, at most `max_bytes` UTF-8 bytes in all.

    Returns ((path, text), ...) and a note for the summary naming what was applied (None
    when nothing was found). The file that reaches the cap is cut; later ones are left out.
    A file that cannot be read (an error, not an absence) is left out and named.
    """
    if max_bytes <= 0:
        return (), None  # guidance.max_bytes: 0 turns guidance files off
    found: list[tuple[str, str]] = []
    named: list[str] = []
    room = max_bytes
    for path in files:
        try:
            text = read(path)
        except ReviewerError as exc:
            named.append(f"`{path}` (not read: {exc.message})")
            continue
        if text is None or not text.strip():
            continue
        data = text.encode("utf-8")
        if room <= 0:
            named.append(f"`{path}` (left out: guidance.max_bytes reached)")
            continue
        if len(data) > room:
            cut = data[:room].decode("utf-8", errors="ignore")
            found.append((path, cut + "\n[... cut at guidance.max_bytes]"))
            named.append(f"`{path}` (first {room:,} of {len(data):,} bytes)")
            room = 0
            continue
        found.append((path, text))
        named.append(f"`{path}`")
        room -= len(data)
    if not named:
        return (), None
    return tuple(found), f"Guidance applied from {source}: " + ", ".join(named) + "."


def read_context(
    files: Sequence[FileDiff], mode: ContextMode, read: ReadFn | None
) -> dict[str, tuple[DiffLine, ...]]:
    """Read-only context per path: each file read once (an added file is all in the diff).

    At most MAX_CONTEXT_FILES files are read (each read is a request to GitHub for a pull
    request), READ_THREADS at a time; a file that cannot be read just gets no context.
    """
    if mode == "none" or read is None:
        return {}
    wanted = [f for f in files if f.status is not FileStatus.ADDED and f.hunks]
    wanted = wanted[:MAX_CONTEXT_FILES]

    def one(diff: FileDiff) -> tuple[str, tuple[DiffLine, ...]]:
        try:
            text = read(diff.path)
        except ReviewerError:
            return diff.path, ()  # context is a help, never a reason to fail the review
        if text is None:
            return diff.path, ()
        return diff.path, context_lines(diff.path, text, diff.hunks, mode)

    with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="context") as pool:
        return {path: lines for path, lines in pool.map(one, wanted) if lines}
