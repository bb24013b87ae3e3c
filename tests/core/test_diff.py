"""Tests for reviewer.core.diff: real `git diff` output and malformed input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unidiff.errors import UnidiffParseError

from reviewer.core.diff import (
    FileDiff,
    FileStatus,
    PullRequestDiff,
    changed_line_count,
    parse_diff,
)
from reviewer.core.lines import DiffLine, Side
from reviewer.errors import DiffParseError
from tests.diffgen import GitRepo
from tests.paths import SAMPLE_DIFF

SAMPLE = SAMPLE_DIFF


def numbered(prefix: str, count: int) -> str:
    return "".join(f"{prefix} {i}\n" for i in range(1, count + 1))


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def only_file(diff: PullRequestDiff) -> FileDiff:
    assert len(diff.files) == 1, diff.files
    return diff.files[0]


def lines_of(file: FileDiff) -> list[DiffLine]:
    return [line for hunk in file.hunks for line in hunk.lines]


# --- real git diffs ---------------------------------------------------------------------------


def test_modified_file_has_real_old_and_new_numbers(repo: GitRepo) -> None:
    repo.write("app.py", numbered("line", 40))
    repo.commit()
    text = numbered("line", 40).replace("line 3\n", "").replace("line 30\n", "line thirty\n")
    repo.write("app.py", text)

    file = only_file(parse_diff(repo.diff()))

    assert file.status is FileStatus.MODIFIED
    assert file.note is None
    assert (file.added, file.removed) == (1, 2)
    assert len(file.hunks) == 2
    changed = [(ln.kind, ln.text, ln.old_line, ln.new_line) for ln in lines_of(file) if ln.changed]
    assert changed == [
        ("removed", "line 3", 3, None),
        ("removed", "line 30", 30, None),
        ("added", "line thirty", None, 29),
    ]
    context = [ln for ln in lines_of(file) if ln.kind == "context"]
    assert all(ln.old_line is not None and ln.new_line is not None for ln in context)
    second = file.hunks[1]
    assert (second.old_start, second.new_start) == (27, 26)
    assert second.lines[0].old_line == 27 and second.lines[0].new_line == 26


def test_rename_with_edits_keeps_old_path_and_line_numbers(repo: GitRepo) -> None:
    repo.write("pkg/old_name.py", numbered("line", 20))
    repo.commit()
    (repo.root / "pkg/old_name.py").unlink()
    repo.write("pkg/new_name.py", numbered("line", 20).replace("line 5\n", "line five\n"))

    file = only_file(parse_diff(repo.diff()))

    assert file.status is FileStatus.RENAMED
    assert (file.path, file.old_path) == ("pkg/new_name.py", "pkg/old_name.py")
    assert [(ln.kind, ln.text, ln.line) for ln in lines_of(file) if ln.changed] == [
        ("removed", "line 5", 5),
        ("added", "line five", 5),
    ]


def test_pure_rename_has_no_hunks_and_says_why(repo: GitRepo) -> None:
    repo.write("a.py", numbered("line", 5))
    repo.commit()
    (repo.root / "a.py").rename(repo.root / "b.py")

    file = only_file(parse_diff(repo.diff()))

    assert (file.status, file.path, file.old_path) == (FileStatus.RENAMED, "b.py", "a.py")
    assert file.hunks == ()
    assert file.note == "renamed without changes"


def test_copy_is_not_a_delete(repo: GitRepo) -> None:
    repo.write("src/base.py", numbered("base", 30))
    repo.commit()
    repo.write("src/copy.py", numbered("base", 30) + "extra\n")

    diff = parse_diff(repo.diff())
    file = only_file(diff)

    assert file.status is FileStatus.COPIED
    assert (file.path, file.old_path) == ("src/copy.py", "src/base.py")
    assert diff.file("src/base.py") is None  # the source is untouched, not removed
    assert [(ln.kind, ln.text, ln.new_line) for ln in lines_of(file) if ln.changed] == [
        ("added", "extra", 31)
    ]


def test_copy_without_changes_is_noted(repo: GitRepo) -> None:
    repo.write("one.py", numbered("x", 10))
    repo.commit()
    repo.write("two.py", numbered("x", 10))

    file = only_file(parse_diff(repo.diff()))

    assert (file.status, file.old_path, file.note) == (
        FileStatus.COPIED,
        "one.py",
        "copied without changes",
    )


@pytest.mark.parametrize("binary_flag", [(), ("--binary",)], ids=["differ", "git-binary-patch"])
def test_binary_file_is_noted_and_the_next_file_still_parses(
    repo: GitRepo, binary_flag: tuple[str, ...]
) -> None:
    repo.write("img.bin", bytes(range(256)) * 4)
    repo.write("z_after.py", "a\n")
    repo.commit()
    repo.write("img.bin", bytes(reversed(range(256))) * 4)
    repo.write("z_after.py", "b\n")
    text = repo.diff(*binary_flag)
    assert ("GIT binary patch" in text) == bool(binary_flag)

    diff = parse_diff(text)

    assert [f.path for f in diff.files] == ["img.bin", "z_after.py"]
    binary, after = diff.files
    assert (binary.status, binary.note, binary.hunks) == (FileStatus.BINARY, "binary file", ())
    assert [(ln.kind, ln.text) for ln in lines_of(after)] == [("removed", "a"), ("added", "b")]


def test_new_binary_file(repo: GitRepo) -> None:
    repo.commit()
    repo.write("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00")

    file = only_file(parse_diff(repo.diff("--binary")))

    assert (file.path, file.status, file.note) == ("logo.png", FileStatus.BINARY, "binary file")


def test_mode_only_change(repo: GitRepo) -> None:
    repo.write("run.sh", "echo hi\n")
    repo.commit()
    os.chmod(repo.root / "run.sh", 0o755)  # noqa: S103

    file = only_file(parse_diff(repo.diff()))

    assert file.status is FileStatus.MODE_ONLY
    assert file.hunks == ()
    assert file.note == "mode change only (100644 → 100755)"


def test_mode_change_with_edits_is_a_modification(repo: GitRepo) -> None:
    repo.write("run.sh", "echo hi\n")
    repo.commit()
    repo.write("run.sh", "echo bye\n")
    os.chmod(repo.root / "run.sh", 0o755)  # noqa: S103

    file = only_file(parse_diff(repo.diff()))

    assert (file.status, file.note, file.added, file.removed) == (FileStatus.MODIFIED, None, 1, 1)


def test_submodule_bump(repo: GitRepo) -> None:
    repo.gitlink("vendor/lib", "a" * 40)
    repo.commit()
    repo.gitlink("vendor/lib", "b" * 40)

    file = only_file(parse_diff(repo.diff()))

    assert (file.path, file.status) == ("vendor/lib", FileStatus.SUBMODULE)
    assert file.note == "submodule bump aaaaaaa → bbbbbbb"
    assert file.hunks == ()  # "Subproject commit ..." is not code to review


def test_submodule_added(repo: GitRepo) -> None:
    repo.commit()
    repo.gitlink("sub", "c" * 40)

    file = only_file(parse_diff(repo.diff()))

    assert (file.status, file.note) == (FileStatus.SUBMODULE, "submodule added at ccccccc")


def test_symlink_added_and_changed(repo: GitRepo) -> None:
    repo.write("target_a.py", "a\n")
    repo.write("target_b.py", "b\n")
    repo.symlink("current", "target_a.py")
    repo.commit()
    (repo.root / "current").unlink()
    repo.symlink("current", "target_b.py")
    repo.symlink("fresh", "elsewhere.py")  # a new target, or git reports a copy

    diff = parse_diff(repo.diff())

    current, fresh = diff.files
    assert (current.path, current.status, current.is_symlink) == (
        "current",
        FileStatus.MODIFIED,
        True,
    )
    assert current.note == "symlink"
    # The link target has no newline: the marker is not a line of content.
    assert [(ln.kind, ln.text) for ln in lines_of(current)] == [
        ("removed", "target_a.py"),
        ("added", "target_b.py"),
    ]
    assert (fresh.status, fresh.is_symlink, fresh.note) == (FileStatus.ADDED, True, "symlink")


def test_file_replaced_by_symlink_gives_two_entries(repo: GitRepo) -> None:
    repo.write("thing", "plain text\n")
    repo.write("other", "x\n")
    repo.commit()
    (repo.root / "thing").unlink()
    repo.symlink("thing", "other")

    diff = parse_diff(repo.diff())

    # git prints a type change as a deletion then an addition of the same path.
    assert [(f.path, f.status, f.is_symlink) for f in diff.files] == [
        ("thing", FileStatus.REMOVED, False),
        ("thing", FileStatus.ADDED, True),
    ]


def test_crlf_content_keeps_its_carriage_return(repo: GitRepo) -> None:
    repo.write("win.txt", "one\r\ntwo\r\n")
    repo.commit()
    repo.write("win.txt", "one\r\nTWO\r\nthree\r\n")

    file = only_file(parse_diff(repo.diff()))

    assert [(ln.kind, ln.text, ln.old_line, ln.new_line) for ln in lines_of(file)] == [
        ("context", "one\r", 1, 1),
        ("removed", "two\r", 2, None),
        ("added", "TWO\r", None, 2),
        ("added", "three\r", None, 3),
    ]


def test_bare_carriage_return_stays_inside_its_line(repo: GitRepo) -> None:
    repo.write("cr.txt", "first\n")
    repo.commit()
    repo.write("cr.txt", "first\nprogress 10%\rprogress 100%\nlast\n")

    file = only_file(parse_diff(repo.diff()))

    assert [(ln.text, ln.new_line) for ln in lines_of(file) if ln.changed] == [
        ("progress 10%\rprogress 100%", 2),
        ("last", 3),
    ]
    assert file.hunks[0].new_count == 3


def test_no_newline_marker_is_not_content(repo: GitRepo) -> None:
    repo.write("end.txt", "x\ny")
    repo.commit()
    repo.write("end.txt", "x\nz")

    file = only_file(parse_diff(repo.diff()))

    assert "No newline" in repo.diff()
    assert [(ln.kind, ln.text) for ln in lines_of(file)] == [
        ("context", "x"),
        ("removed", "y"),
        ("added", "z"),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "with space.py",
        "tab\there.py",
        'quote"d.py',
        "back\\slash.py",
        "tést.py",
        "日本語/ファイル.py",
        "new\nline.py",
        "docs/a b/c.md",  # unquoted, and " b/" inside the name
    ],
)
def test_awkward_names_are_plain_utf8_paths(repo: GitRepo, name: str) -> None:
    repo.write("keep.txt", "k\n")
    repo.commit()
    repo.write(name, "hello\n")
    repo.write("keep.txt", "k2\n")

    diff = parse_diff(repo.diff())

    file = diff.file(name)
    assert file is not None, [f.path for f in diff.files]
    assert (file.status, file.added) == (FileStatus.ADDED, 1)
    assert diff.file("keep.txt") is not None


@pytest.mark.parametrize("name", ["docs/a b/c.md", "tést x.py"])
def test_awkward_names_modified_and_renamed(repo: GitRepo, name: str) -> None:
    repo.write(name, numbered("v", 20))
    repo.commit()
    repo.write(name, numbered("v", 20).replace("v 2\n", "v two\n"))
    modified = only_file(parse_diff(repo.diff()))
    assert (modified.path, modified.status, modified.added) == (name, FileStatus.MODIFIED, 1)
    repo.commit("edit")

    (repo.root / name).rename(repo.root / "ré named.py")
    repo.write("ré named.py", numbered("v", 20).replace("v 2\n", "v 2!\n"))

    renamed = only_file(parse_diff(repo.diff()))

    assert (renamed.path, renamed.old_path) == ("ré named.py", name)
    assert renamed.status is FileStatus.RENAMED


def test_new_empty_file(repo: GitRepo) -> None:
    repo.commit()
    repo.write("__init__.py", "")

    file = only_file(parse_diff(repo.diff()))

    assert (file.path, file.status, file.hunks) == ("__init__.py", FileStatus.ADDED, ())
    assert file.note == "new empty file"


def test_deleted_file(repo: GitRepo) -> None:
    repo.write("old.py", numbered("gone", 3))
    repo.commit()
    (repo.root / "old.py").unlink()

    file = only_file(parse_diff(repo.diff()))

    assert (file.path, file.status, file.old_path, file.note) == (
        "old.py",
        FileStatus.REMOVED,
        None,
        None,
    )
    assert [(ln.kind, ln.old_line, ln.side) for ln in lines_of(file)] == [
        ("removed", 1, Side.LEFT),
        ("removed", 2, Side.LEFT),
        ("removed", 3, Side.LEFT),
    ]


def test_fifty_thousand_line_file(repo: GitRepo) -> None:
    repo.write("small.py", "s\n")
    repo.commit()
    repo.write("big.py", numbered("row", 50_000))
    repo.write("small.py", "t\n")

    diff = parse_diff(repo.diff())

    big = diff.file("big.py")
    assert big is not None
    assert (big.added, big.removed) == (50_000, 0)
    assert big.hunks[0].new_count == 50_000
    last = big.hunks[-1].lines[-1]
    assert (last.text, last.new_line) == ("row 50000", 50_000)
    assert changed_line_count(diff.files) == 50_002


def test_commentable_uses_new_numbers_on_right_and_old_on_left(repo: GitRepo) -> None:
    repo.write("m.py", numbered("m", 6))
    repo.commit()
    repo.write("m.py", numbered("m", 6).replace("m 1\n", "").replace("m 4\n", "m four\n"))

    diff = parse_diff(repo.diff())

    assert ("m.py", Side.LEFT, 1) in diff.commentable  # removed "m 1"
    assert ("m.py", Side.LEFT, 4) in diff.commentable  # removed "m 4"
    assert ("m.py", Side.RIGHT, 3) in diff.commentable  # added "m four" is now line 3
    assert ("m.py", Side.RIGHT, 6) not in diff.commentable  # the file has 5 lines now


def test_sample_diff_parses_with_expected_statuses() -> None:
    diff = parse_diff(SAMPLE.read_text(encoding="utf-8"))

    assert [(f.path, f.status) for f in diff.files] == [
        ("logo.png", FileStatus.BINARY),
        ("package-lock.json", FileStatus.MODIFIED),
        ("src/app/arith.py", FileStatus.ADDED),
        ("src/app/cache.py", FileStatus.ADDED),
        ("src/app/mathx.py", FileStatus.REMOVED),
        ("src/app/users.py", FileStatus.MODIFIED),
    ]
    users = diff.file("src/app/users.py")
    assert users is not None and (users.added, users.removed) == (9, 4)


def test_plain_unified_diff_without_git_headers() -> None:
    text = (
        "--- old/config.ini\t2026-01-01 10:00:00.000000000 +0000\n"
        "+++ new/config.ini\t2026-01-02 10:00:00.000000000 +0000\n"
        "@@ -1,2 +1,2 @@\n"
        " [main]\n"
        "-debug = true\n"
        "+debug = false\n"
    )

    file = only_file(parse_diff(text))

    # Without a git header the two names are the two trees compared, not a rename.
    assert (file.path, file.status, file.old_path) == ("new/config.ini", FileStatus.MODIFIED, None)
    assert (file.added, file.removed) == (1, 1)


def test_whole_diff_converted_to_crlf_is_read_as_lf() -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace("\n", "\r\n")

    diff = parse_diff(text)

    assert [f.path for f in diff.files][:2] == ["logo.png", "package-lock.json"]
    users = diff.file("src/app/users.py")
    assert users is not None and (users.added, users.removed) == (9, 4)
    assert not any(ln.text.endswith("\r") for h in users.hunks for ln in h.lines)


# --- empty and malformed input ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n", "  \n\n"])
def test_empty_diff_is_empty(text: str) -> None:
    assert parse_diff(text).files == ()


MODIFIED_HEADER = (
    "diff --git a/x.py b/x.py\nindex 1111111..2222222 100644\n--- a/x.py\n+++ b/x.py\n"
)


@pytest.mark.parametrize(
    ("text", "line_number", "words"),
    [
        pytest.param("hello, this is not a diff\n", None, "no file header", id="garbage"),
        pytest.param(
            MODIFIED_HEADER + "@@ -1,3 +1,3 @@\n a\n-b\n+c\n",
            8,
            "shorter",
            id="truncated-hunk",
        ),
        pytest.param(
            MODIFIED_HEADER + "@@ -1,4 +1,4 @@\n a\n-b\n+c\n d\n" + MODIFIED_HEADER,
            10,
            "diff --git",
            id="header-counts-too-many",
        ),
        pytest.param(
            MODIFIED_HEADER + "@@ -1,1 +1,1 @@\n-b\n+c\n+d\n",
            8,
            "'+d'",
            id="header-counts-too-few",
        ),
        pytest.param(
            MODIFIED_HEADER + "@@ -1 +1 @@\n-b\n+c\n@@ -9 +9 @@\n?what\n",
            9,
            "?what",
            id="bad-hunk-line",
        ),
        pytest.param("+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n", 1, "Target without source", id="no-src"),
    ],
)
def test_malformed_diff_raises_one_line_error(
    text: str, line_number: int | None, words: str
) -> None:
    with pytest.raises(DiffParseError) as caught:
        parse_diff(text)

    error = caught.value
    assert error.line_number == line_number
    assert "\n" not in error.message
    assert words in error.message
    if line_number is not None:
        assert f"line {line_number}" in error.message


def test_unidiff_error_is_chained() -> None:
    with pytest.raises(DiffParseError) as caught:
        parse_diff(MODIFIED_HEADER + "@@ -1,3 +1,3 @@\n a\n")
    assert isinstance(caught.value.__cause__, UnidiffParseError)


@settings(max_examples=150, deadline=None)
@given(
    cut=st.integers(min_value=0, max_value=2000),
    insert=st.text(alphabet=st.sampled_from(list('+- @\\\n\rdiffgt-ab/"0123,')), max_size=40),
)
def test_mangled_diffs_parse_or_raise_diff_parse_error(cut: int, insert: str) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    cut = min(cut, len(text))
    mangled = text[:cut] + insert + text[cut:]
    try:
        parse_diff(mangled)
    except DiffParseError as exc:
        assert "\n" not in exc.message


def test_files_parsed_one_at_a_time_keep_their_order_and_absolute_error_lines() -> None:
    def header(name: str) -> str:
        return MODIFIED_HEADER.replace("x.py", name)

    good = "".join(header(f"f{i}.py") + "@@ -1,2 +1,2 @@\n a\n-b\n+c\n" for i in range(3))
    preamble = "From 1234 Mon Sep 17 00:00:00 2001\nSubject: a patch\n---\n a.py | 2 +-\n\n"
    diff = parse_diff(preamble + good)
    assert [f.path for f in diff.files] == ["f0.py", "f1.py", "f2.py"]
    assert diff.files[2].hunks[0].lines[2] == DiffLine("added", "c", None, 2)
    # 3 good files of 8 lines, then a header (4) and a hunk whose line 3 is no hunk line.
    broken = good + header("bad.py") + "@@ -1,2 +1,2 @@\n a\n?b\n"
    with pytest.raises(DiffParseError) as caught:
        parse_diff(broken)
    assert caught.value.line_number == 3 * 8 + 4 + 3
