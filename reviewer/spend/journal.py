"""The spend journal: call rows the ledger database could not take, kept until it can.

An append-only JSON-lines file in the data directory. Each line is one row with its
`row_id`, written and fsync'd under an exclusive file lock before the writer goes on, so
spend already incurred survives the database being away and the process dying. `drain`
hands every line to the ledger (which writes each `row_id` once, whatever was there) and
empties the file only after the ledger committed them.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from reviewer.errors import LedgerError


class Journal:
    """Append rows (plain JSON objects) durably; replay and empty the file on `drain`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write `rows`, one JSON object a line, and fsync them; LedgerError if it cannot."""
        text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
        try:
            with self._locked() as handle:
                handle.seek(0, os.SEEK_END)
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise LedgerError(f"cannot write the spend journal: {exc.strerror}") from exc

    def has_rows(self) -> bool:
        """Whether anything waits to be replayed (a stat, cheap enough before every call)."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def pending(self) -> int:
        """How many rows wait to be replayed."""
        try:
            with self.path.open("rb") as handle:
                return sum(1 for line in handle if line.strip())
        except FileNotFoundError:
            return 0

    def drain(self, apply: Callable[[list[dict[str, Any]]], None]) -> int:
        """Give every journalled row to `apply` in one go, then empty the file; return how many.

        When `apply` raises, the file is left as it was (the rows wait for the next drain).
        """
        if not self.path.exists():
            return 0
        try:
            with self._locked() as handle:
                handle.seek(0)
                parsed = [_parse(line) for line in handle.read().splitlines() if line.strip()]
                rows = [row for row in parsed if row is not None]
                if rows:
                    apply(rows)
                handle.seek(0)
                handle.truncate()
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise LedgerError(f"cannot read the spend journal: {exc.strerror}") from exc
        return len(rows)

    @contextmanager
    def _locked(self) -> Iterator[IO[str]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+", encoding="utf-8") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _parse(line: str) -> dict[str, Any] | None:
    # A line cut short by a crash mid-write was never acknowledged: skip it.
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    return row if isinstance(row, dict) else None
