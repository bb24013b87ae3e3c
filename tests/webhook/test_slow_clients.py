"""A real `reviewer serve` keeps answering signed deliveries while many clients stall."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.paths import WEBHOOKS

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec-slow-clients-4b1e"
# More than the 64 threads of the one web worker: the deadline must free them, not luck.
STALLERS = 80
GITHUB_PATIENCE_S = 10.0  # GitHub's own wait for an answer; it does not redeliver after it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[int]:
    """`reviewer serve` with one web worker, on a free loopback port; yields the port."""
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "REVIEWER_DATA_DIR": str(tmp_path / "data"),
        "REVIEWER_WEBHOOK_SECRET": SECRET,
        "REVIEWER_WEBHOOK_READ_TIMEOUT_S": "2",
        "REVIEWER_GITHUB_APP_ID": "1",
        "REVIEWER_GITHUB_PRIVATE_KEY": _pem(),
        # Nothing listens on port 1: the queue worker's jobs fail at once, offline.
        "REVIEWER_GITHUB_API_URL": "http://127.0.0.1:1",
        "REVIEWER_JOB_RETRIES": "0",
        "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key",
    }
    command = [sys.executable, "-m", "webhook.cli", "serve", "--port", str(port)]
    command += ["--web-workers", "1", "--workers", "1"]
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
    try:
        for _ in range(300):
            if _healthy(port) or process.poll() is not None:
                break
            time.sleep(0.1)
        assert _healthy(port), (tmp_path / "serve.log").read_text()[-2000:]
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _stall(port: int) -> socket.socket:
    """A client that sends its headers and the start of a body, then trickles."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: stall\r\n"
        b"Content-Length: 100000\r\n\r\n{"
    )
    return sock


def _deliver(port: int, index: int) -> int:
    body = (WEBHOOKS / "pull_request.opened.json").read_bytes()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": f"slow-clients-{index}",
        "X-Hub-Signature-256": f"sha256={digest}",
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=GITHUB_PATIENCE_S)
    try:
        conn.request("POST", "/webhook", body=body, headers=headers)
        return conn.getresponse().status
    except TimeoutError:
        return 0  # GitHub would have given up on this delivery
    finally:
        conn.close()


def test_signed_deliveries_are_answered_while_many_clients_stall(serve: int) -> None:
    stallers = [_stall(serve) for _ in range(STALLERS)]
    statuses: list[int] = []

    def deliveries() -> None:
        for index in range(5):
            statuses.append(_deliver(serve, index))

    sender = threading.Thread(target=deliveries)
    sender.start()
    cut = 0
    # Trickle a byte from each staller every 0.2 s until the deliveries are done (bounded).
    for _ in range(600):
        if not sender.is_alive():
            break
        readable, _, _ = select.select(stallers, [], [], 0.2)
        for sock in readable:  # the server answered or closed it: the deadline cut it
            stallers.remove(sock)
            sock.close()
            cut += 1
        for sock in stallers:
            with contextlib.suppress(OSError):
                sock.send(b" ")
    sender.join(GITHUB_PATIENCE_S * 6)
    cut += len(select.select(stallers, [], [], 0.5)[0])  # cut while the last delivery ran
    for sock in stallers:
        sock.close()
    assert statuses == [202] * 5
    assert cut >= STALLERS - 64  # those beyond the threads were cut, not left waiting
