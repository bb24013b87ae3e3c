"""`git diff` of a checkout that the checked-out `.gitattributes` and git config cannot bend."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 300
# git's own test for binary content: a NUL byte in the first 8000 bytes.
_SNIFF_BYTES = 8000
# What user or repository config could change in the text: colour, external diff tools,
# textconv filters, prefixes, relative paths, quoting. Attributes are dealt with below.
PINNED = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-relative",
    "--find-renames",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)
_CONFIG = (
    "-c",
    "core.quotePath=true",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
)


class GitError(Exception):
    """git failed or is missing; the message says what it printed."""


def _git(workspace: Path, *args: str) -> bytes:
    try:
        proc = subprocess.run(
            ["git", "-C", str(workspace), *_CONFIG, *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(str(exc)) from exc
    if proc.returncode != 0:
        raise GitError(proc.stderr.decode("utf-8", errors="replace").strip())
    return proc.stdout


def has_commit(workspace: Path, sha: str) -> bool:
    try:
        _git(workspace, "cat-file", "-e", f"{sha}^{{commit}}")
    except GitError:
        return False
    return True


def diff_range(workspace: Path, base: str, head: str) -> str:
    """`git diff base...head`, each file shown as text exactly when its content is text.

    A pull request can commit `*.py -diff` (or `binary`, or `diff=driver`) in its own
    `.gitattributes`, and git then prints "Binary files differ" for its Python: the model
    would never see that code. So the files git calls binary are checked by content, as git
    does without attributes, and those that are text are diffed again with `--text`.
    """
    spec = f"{base}...{head}"
    binary = _binary_paths(workspace, spec)
    if not binary:
        return _git(workspace, "diff", *PINNED, spec).decode("utf-8", errors="replace")
    merge_base = _git(workspace, "merge-base", base, head).decode().strip()
    really = {p for p in binary if _is_binary(workspace, merge_base, head, p)}
    if len(really) == len(binary):
        return _git(workspace, "diff", *PINNED, spec).decode("utf-8", errors="replace")
    literal = [f":(literal){p}" for p in sorted(really)]
    excluded = [f":(exclude,literal){p}" for p in sorted(really)]
    text = _git(workspace, "diff", *PINNED, "--text", spec, "--", ":/", *excluded)
    if literal:
        text += _git(workspace, "diff", *PINNED, spec, "--", *literal)
    return text.decode("utf-8", errors="replace")


def _binary_paths(workspace: Path, spec: str) -> set[str]:
    """Paths (both sides of a rename) that `git diff --numstat` counts as binary."""
    out = _git(workspace, "diff", *PINNED, "--numstat", "-z", spec).split(b"\0")
    paths: set[str] = set()
    i = 0
    while i < len(out):
        record = out[i]
        i += 1
        if not record:
            continue
        added, _, rest = record.partition(b"\t")
        _deleted, _, path = rest.partition(b"\t")
        names = [path]
        if not path:  # a rename: the two names follow as their own fields
            names = out[i : i + 2]
            i += 2
        if added == b"-":
            paths.update(name.decode("utf-8", errors="surrogateescape") for name in names)
    return paths


def _is_binary(workspace: Path, base: str, head: str, path: str) -> bool:
    """Whether either side of `path` holds a NUL in its first 8000 bytes."""
    for commit in (base, head):
        try:
            blob = _git(workspace, "cat-file", "blob", f"{commit}:{path}")
        except GitError:
            continue  # absent on this side (added, deleted or renamed)
        if b"\0" in blob[:_SNIFF_BYTES]:
            return True
    return False
