"""gunicorn's thread worker with a deadline on reading each request, so a stalled client
frees its thread instead of holding it for as long as it trickles bytes."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker  # type: ignore[import-untyped]

from reviewer.settings import Settings


class Reaper:
    """One thread that shuts the read side of sockets whose request is not in by its deadline.

    A socket timeout cannot do this: gunicorn reads a body in a loop of `recv` calls, and a
    client sending a byte a second restarts the timeout on every one. Shutting the read side
    wakes the blocked `recv` with end-of-file, whatever the thread is doing.
    """

    def __init__(self, *, tick_s: float = 0.2) -> None:
        self.tick_s = tick_s
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[float, socket.socket]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self.reaped = 0

    def watch(self, sock: socket.socket, seconds: float) -> int:
        """Start the clock on `sock`; return the key to `unwatch` it with."""
        key = next(self._ids)
        with self._lock:
            self._watched[key] = (time.monotonic() + seconds, sock)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="reaper", daemon=True)
                self._thread.start()
        return key

    def unwatch(self, key: int) -> None:
        with self._lock:
            self._watched.pop(key, None)

    def _run(self) -> None:
        while True:
            time.sleep(self.tick_s)
            now = time.monotonic()
            with self._lock:
                late = [k for k, (due, _) in self._watched.items() if due <= now]
                socks = [self._watched.pop(k)[1] for k in late]
            for sock in socks:
                try:
                    sock.shutdown(socket.SHUT_RD)
                    self.reaped += 1
                except OSError:
                    pass  # already closed by its thread


class DeadlineThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with each request's headers and body read within REVIEWER_WEBHOOK_READ_TIMEOUT_S.

    The deadline starts when a thread takes the connection. A connection that sends nothing
    goes back to gunicorn's poller (no thread held); one that sends a little and stalls is
    cut at the deadline, and its thread serves the next delivery.
    """

    read_timeout_s = 5.0

    def init_process(self) -> None:
        self.read_timeout_s = Settings.from_env().webhook_read_timeout_s
        self.reaper = Reaper()
        super().init_process()

    def handle(self, conn: Any) -> Any:
        key = self.reaper.watch(conn.sock, self.read_timeout_s)
        try:
            return super().handle(conn)
        finally:
            self.reaper.unwatch(key)
