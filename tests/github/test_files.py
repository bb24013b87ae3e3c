"""Tests for reviewer.github.files: GitHub's pull request file items."""

from __future__ import annotations

import pytest

from reviewer.core.diff import FileDiff, FileStatus, PullRequestDiff
from reviewer.core.lines import DiffLine
from reviewer.errors import DiffParseError
from reviewer.github.files import from_github_files


def only_file(diff: PullRequestDiff) -> FileDiff:
    assert len(diff.files) == 1, diff.files
    return diff.files[0]


def lines_of(file: FileDiff) -> list[DiffLine]:
    return [line for hunk in file.hunks for line in hunk.lines]


def gh_item(
    filename: str, status: str, patch: str | None = None, **extra: object
) -> dict[str, object]:
    item: dict[str, object] = {
        "sha": "5f1c2a0e9b1d4f6a8c3e7b2d1f0a9c8e7d6b5a43",
        "filename": filename,
        "status": status,
        "additions": 0,
        "deletions": 0,
        "changes": 0,
        "blob_url": f"https://github.com/o/r/blob/abc/{filename}",
        "raw_url": f"https://github.com/o/r/raw/abc/{filename}",
        "contents_url": f"https://api.github.com/repos/o/r/contents/{filename}?ref=abc",
    }
    if patch is not None:
        item["patch"] = patch
    item.update(extra)
    return item


def test_github_modified_file_has_real_numbers() -> None:
    patch = (
        "@@ -10,5 +10,6 @@ class Users:\n"
        "     def find(self, uid):\n"
        "-        return self.db.get(uid)\n"
        "+        user = self.db.get(uid)\n"
        "+        return user\n"
        " \n"
        "     def all(self):\n"
        "         return list(self.db)\n"
        "@@ -40,3 +41,2 @@ def helper():\n"
        " a = 1\n"
        "-b = 2\n"
        " c = 3"
    )
    item = gh_item("src/users.py", "modified", patch, additions=2, deletions=2, changes=4)

    file = only_file(from_github_files([item]))

    assert (file.path, file.status, file.note) == ("src/users.py", FileStatus.MODIFIED, None)
    assert [h.section for h in file.hunks] == ["class Users:", "def helper():"]
    assert [(ln.kind, ln.old_line, ln.new_line) for ln in lines_of(file) if ln.changed] == [
        ("removed", 11, None),
        ("added", None, 11),
        ("added", None, 12),
        ("removed", 41, None),
    ]
    assert lines_of(file)[-1].text == "c = 3"  # the patch has no final newline


def test_github_statuses_and_missing_patches() -> None:
    items = [
        gh_item("new.py", "added", "@@ -0,0 +1,2 @@\n+a\n+b", additions=2, changes=2),
        gh_item("gone.py", "removed", "@@ -1 +0,0 @@\n-x", deletions=1, changes=1),
        gh_item(
            "pkg/after.py",
            "renamed",
            "@@ -1 +1 @@\n-old\n+new",
            previous_filename="pkg/before.py",
            changes=2,
        ),
        gh_item("moved.py", "renamed", previous_filename="was.py"),
        gh_item("dup.py", "copied", "@@ -0,0 +1 @@\n+c", previous_filename="orig.py", changes=1),
        gh_item("logo.png", "added"),
        gh_item("data/huge.sql", "modified", additions=9000, deletions=3000, changes=12000),
        gh_item("run.sh", "changed"),
        gh_item("résumé notes.md", "modified", "@@ -1 +1 @@\n-é\n+è", changes=2),
    ]

    diff = from_github_files(items)

    got = {f.path: (f.status, f.old_path, f.note) for f in diff.files}
    assert got == {
        "new.py": (FileStatus.ADDED, None, None),
        "gone.py": (FileStatus.REMOVED, None, None),
        "pkg/after.py": (FileStatus.RENAMED, "pkg/before.py", None),
        "moved.py": (FileStatus.RENAMED, "was.py", "renamed without changes"),
        "dup.py": (FileStatus.COPIED, "orig.py", None),
        "logo.png": (
            FileStatus.ADDED,
            None,
            "GitHub sent no patch: binary or too large (0 changes)",
        ),
        "data/huge.sql": (
            FileStatus.MODIFIED,
            None,
            "GitHub sent no patch: binary or too large (12000 changes)",
        ),
        "run.sh": (FileStatus.MODE_ONLY, None, "mode or type change only"),
        "résumé notes.md": (FileStatus.MODIFIED, None, None),
    }
    assert [f.path for f in diff.files] == [i["filename"] for i in items]
    for path in ("logo.png", "data/huge.sql", "moved.py"):
        file = diff.file(path)
        assert file is not None and file.hunks == ()


def test_github_no_newline_marker_and_crlf() -> None:
    patch = "@@ -1,2 +1,2 @@\n one\r\n-two\r\n\\ No newline at end of file\n+TWO\r\n"
    file = only_file(from_github_files([gh_item("w.txt", "modified", patch, changes=2)]))

    assert [(ln.kind, ln.text) for ln in lines_of(file)] == [
        ("context", "one\r"),
        ("removed", "two\r"),
        ("added", "TWO\r"),
    ]


def test_github_submodule_patch_is_noted() -> None:
    patch = "@@ -1 +1 @@\n-Subproject commit " + "a" * 40 + "\n+Subproject commit " + "b" * 40
    file = only_file(from_github_files([gh_item("libs/dep", "modified", patch, changes=2)]))

    assert (file.status, file.hunks) == (FileStatus.SUBMODULE, ())
    assert file.note == "submodule bump aaaaaaa → bbbbbbb"


@pytest.mark.parametrize(
    ("patch", "words"),
    [
        ("@@ -1,5 +1,5 @@\n-a\n+b", "cannot be parsed: malformed diff at line 3"),
        ("Binary files differ", "not hunks"),
    ],
)
def test_github_unreadable_patch_is_noted_not_fatal(patch: str, words: str) -> None:
    items = [
        gh_item("bad.py", "modified", patch, changes=2),
        gh_item("ok.py", "added", "@@ -0,0 +1 @@\n+k"),
    ]

    diff = from_github_files(items)

    bad, ok = diff.files
    assert bad.hunks == () and bad.note is not None and words in bad.note
    assert ok.added == 1


def test_github_item_without_filename_is_refused() -> None:
    with pytest.raises(DiffParseError, match="without a filename"):
        from_github_files([{"status": "modified", "patch": "@@ -1 +1 @@\n-a\n+b"}])
