"""Stop a command with a one-line reason on stderr: the one way every command fails."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from reviewer.errors import ReviewerError

ERROR_PREFIX = "reviewer: error: "


def fail(problem: ReviewerError | str, *, prefix: str = ERROR_PREFIX, code: int = 2) -> NoReturn:
    """Print `prefix` and the problem on stderr, then exit: an error's own code, else `code`."""
    if isinstance(problem, ReviewerError):
        message, code = problem.message, problem.exit_code
    else:
        message = problem
    click.echo(f"{prefix}{message}", err=True)
    sys.exit(code)
