"""The `reviewer` console script: the click CLI, then a quick exit for the short commands.

A review imports the Anthropic SDK, SQLAlchemy and pydantic: thousands of modules and
classes, which the interpreter finalises one by one at exit, about half a second for nothing.
The short commands have flushed and closed everything (the services' context manager closed
the ledger and the SDK client) when the CLI returns, so they end with `os._exit` instead.
The long-running ones (`serve`, `worker`, `action`) exit the ordinary way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from reviewer.cli.main import main

QUICK_EXIT = frozenset({"review", "spend", "config"})


def run() -> None:
    """Run the CLI; a short command's process ends right after it, with its exit code."""
    if len(sys.argv) < 2 or sys.argv[1] not in QUICK_EXIT:
        main()
        return
    try:
        main()
        code = 0
    except SystemExit as done:
        code = exit_code(done.code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def exit_code(code: object) -> int:
    """The process exit code `sys.exit(code)` would give."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
