"""Gitignore-style path patterns, compiled once per distinct list."""

from __future__ import annotations

from functools import lru_cache

from pathspec import GitIgnoreSpec


@lru_cache(maxsize=512)
def path_spec(patterns: tuple[str, ...]) -> GitIgnoreSpec:
    """The compiled spec of `patterns` (ValueError on an invalid one), cached."""
    return GitIgnoreSpec.from_lines(patterns)
