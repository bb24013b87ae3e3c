"""Build the diff from GitHub's pull request file items (pure: no network)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reviewer.core.diff import (
    SUBPROJECT,
    FileDiff,
    FileStatus,
    PullRequestDiff,
    read_patchset,
    submodule_note,
    to_hunk,
)
from reviewer.core.text import one_line
from reviewer.errors import DiffParseError


def from_github_files(files: Iterable[Mapping[str, Any]]) -> PullRequestDiff:
    """Build the diff from the items of GitHub's `GET /pulls/{n}/files` (`filename`, `patch`...)."""
    return PullRequestDiff(files=tuple(_file_from_github(item) for item in files))


_GITHUB_STATUS = {
    "added": FileStatus.ADDED,
    "removed": FileStatus.REMOVED,
    "modified": FileStatus.MODIFIED,
    "renamed": FileStatus.RENAMED,
    "copied": FileStatus.COPIED,
    "changed": FileStatus.MODIFIED,
    "unchanged": FileStatus.MODIFIED,
}
# GitHub's `patch` is hunks only; unidiff needs a file header in front of them.
_SYNTHETIC_HEADER = "--- a/file\n+++ b/file\n"


def _file_from_github(item: Mapping[str, Any]) -> FileDiff:
    path = item.get("filename")
    if not isinstance(path, str) or not path:
        raise DiffParseError("GitHub sent a pull request file without a filename")
    raw_status = str(item.get("status", "modified"))
    # An unknown (newer) status is read as a modification rather than refused.
    status = _GITHUB_STATUS.get(raw_status, FileStatus.MODIFIED)
    previous = item.get("previous_filename")
    old_path = previous if status in (FileStatus.RENAMED, FileStatus.COPIED) else None
    patch = item.get("patch")
    changes = item.get("changes") or 0

    if not patch:
        if status is FileStatus.RENAMED and not changes:
            note = "renamed without changes"
        elif status is FileStatus.COPIED and not changes:
            note = "copied without changes"
        elif raw_status == "changed" and not changes:
            status, note = FileStatus.MODE_ONLY, "mode or type change only"
        elif raw_status == "unchanged":
            note = "unchanged"
        else:
            note = f"GitHub sent no patch: binary or too large ({changes} changes)"
        return FileDiff(path=path, status=status, old_path=old_path, note=note)

    if not patch.startswith("@@"):
        return FileDiff(
            path=path,
            status=status,
            old_path=old_path,
            note="GitHub sent a patch that is not hunks: " + one_line(patch, 60),
        )
    try:
        parsed = read_patchset(_SYNTHETIC_HEADER + patch, header_lines=2)
    except DiffParseError as exc:
        # One unreadable file is listed as not reviewed; it must not sink the whole PR.
        return FileDiff(
            path=path,
            status=status,
            old_path=old_path,
            note=f"GitHub sent a patch that cannot be parsed: {exc.message}",
        )
    hunks = tuple(to_hunk(h) for pf in parsed for h in pf)
    changed = [ln.text for h in hunks for ln in h.lines if ln.changed]
    if changed and all(text.startswith(SUBPROJECT) for text in changed):
        shas = {ln.kind: ln.text[len(SUBPROJECT) :] for h in hunks for ln in h.lines}
        note = submodule_note(shas.get("removed"), shas.get("added"))
        return FileDiff(path=path, status=FileStatus.SUBMODULE, old_path=old_path, note=note)
    return FileDiff(path=path, status=status, hunks=hunks, old_path=old_path)
