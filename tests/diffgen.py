"""Build real `git diff` output in a scratch repository, so parser tests read what git prints."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Fixed identity, dates and quoting so the output does not depend on the machine's git config.
_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "LC_ALL": "C",
}
_GIT_OPTIONS = (
    "-c",
    "core.quotepath=true",
    "-c",
    "user.name=Test",
    "-c",
    "user.email=test@example.com",
    "-c",
    "core.autocrlf=false",
    "-c",
    "init.defaultBranch=main",
)


class GitRepo:
    """A throwaway repository: write files, commit a base, stage changes, read the diff."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q")

    def git(self, *args: str) -> bytes:
        env = {**os.environ, **_GIT_ENV}
        done = subprocess.run(
            ["git", *_GIT_OPTIONS, *args], cwd=self.root, env=env, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}"
            )
        return done.stdout

    def write(self, path: str, content: str | bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)

    def symlink(self, path: str, points_to: str) -> None:
        (self.root / path).symlink_to(points_to)

    def gitlink(self, path: str, sha: str) -> None:
        """Point a submodule entry at `sha` (an empty folder keeps `add -A` from dropping it)."""
        (self.root / path).mkdir(parents=True, exist_ok=True)
        self.git("update-index", "--add", "--cacheinfo", f"160000,{sha},{path}")

    def commit(self, message: str = "base") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").decode().strip()

    def diff(self, *extra: str) -> str:
        """Stage everything and return the staged diff as text (renames and copies detected)."""
        self.git("add", "-A")
        out = self.git("diff", "--cached", "-M", "-C", "--find-copies-harder", *extra)
        # Decode as git's output bytes are: UTF-8, with no newline translation.
        return out.decode("utf-8")
