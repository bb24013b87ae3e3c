"""Webhook benchmark: signed deliveries per second through `reviewer serve`'s gunicorn.

Run: .venv/bin/python -m bench.bench_webhook [--seconds 30] [--clients 8] [--redis URL]

Starts gunicorn with webhook/gunicorn.conf.py on a free 127.0.0.1 port (no queue worker,
so every job stays in the queue to be counted), drives signed `pull_request.opened`
deliveries from a separate process for `--seconds`, one in ten a replay of an earlier
delivery, then checks that every accepted delivery became exactly one job.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "webhooks" / "pull_request.opened.json"
SECRET = "bench-webhook-secret"  # noqa: S105 (a throwaway secret for loopback)
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def client_thread(port: int, deadline: float, seed: int, out: list[tuple[float, int, str]]) -> None:
    """Send deliveries until `deadline`; record (latency, status, delivery id)."""
    # Bodies are signed up front so the generator spends its CPU on sending, not hashing.
    template = json.loads(FIXTURE.read_text())
    bodies = []
    for i in range(50):
        body = json.dumps(dict(template, number=seed * 1000 + i)).encode()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        bodies.append((body, "sha256=" + digest))
    sent: list[str] = []
    n = 0
    while time.monotonic() < deadline and n < 1_000_000:
        n += 1
        if sent and n % 10 == 0:
            delivery = sent[n % len(sent)]  # a replay GitHub might send
        else:
            delivery = str(uuid.uuid4())
            sent.append(delivery)
        body, signature = bodies[n % len(bodies)]
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature,
        }
        began = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, port, timeout=15)
        try:
            conn.request("POST", "/webhook", body=body, headers=headers)
            status = conn.getresponse().status
        except OSError:
            status = 0
        finally:
            conn.close()
        out.append((time.perf_counter() - began, status, delivery))


def load(port: int, seconds: float, clients: int, result_path: str) -> None:
    """The load generator's process: `clients` threads, results written as JSON."""
    deadline = time.monotonic() + seconds
    results: list[tuple[float, int, str]] = []
    threads = [
        threading.Thread(target=client_thread, args=(port, deadline, i, results))
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    Path(result_path).write_text(json.dumps(results))


def wait_ready(port: int, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--web-workers", type=int, default=None)
    parser.add_argument(
        "--redis", default=None, help="a scratch Redis URL (its 'reviewer' queue is flushed)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "REVIEWER_WEBHOOK_SECRET": SECRET,
            "REVIEWER_GITHUB_APP_ID": "1",
            "REVIEWER_GITHUB_PRIVATE_KEY": private_key_pem(),
            "ANTHROPIC_API_KEY": "sk-ant-bench-not-used",
            "REVIEWER_DATA_DIR": str(Path(tmp) / "data"),
            "REVIEWER_LOG_LEVEL": "WARNING",
        }
        if args.redis:
            env["REVIEWER_REDIS_URL"] = args.redis
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(ROOT / "webhook" / "gunicorn.conf.py"),
            "--bind",
            f"{HOST}:{port}",
            "--access-logfile",
            "/dev/null",
            "webhook.app:create_app()",
        ]
        if args.web_workers:
            cmd[3:3] = ["--workers", str(args.web_workers)]
        server = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port)
            result_path = str(Path(tmp) / "results.json")
            gen = multiprocessing.get_context("spawn").Process(
                target=load, args=(port, args.seconds, args.clients, result_path)
            )
            began = time.monotonic()
            gen.start()
            gen.join(args.seconds + 120)
            elapsed = time.monotonic() - began
            results: list[list[Any]] = json.loads(Path(result_path).read_text())
        finally:
            server.terminate()
            server.wait(30)

        report(results, elapsed, env, args)


def report(
    results: list[list[Any]], elapsed: float, env: dict[str, str], args: argparse.Namespace
) -> None:
    os.environ.update({k: v for k, v in env.items() if k.startswith("REVIEWER_")})
    from reviewer.settings import Settings
    from webhook.jobs import JobQueue
    from webhook.store.redis import RedisDeliveryStore

    latencies = sorted(r[0] * 1000 for r in results)
    by_status: dict[int, int] = {}
    for _, status, _ in results:
        by_status[status] = by_status.get(status, 0) + 1
    accepted = {r[2] for r in results if r[1] == 202}
    accepted_count = sum(1 for r in results if r[1] == 202)

    queue = JobQueue(Settings.from_env())
    in_queue = [t.args[0]["delivery_id"] for t in queue.huey.pending()]
    states = queue.store.state_counts()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"backend: {'redis' if args.redis else 'sqlite'}; clients: {args.clients}")
    print(f"requests: {len(results)} in {elapsed:.1f}s = {len(results) / elapsed:.0f}/s")
    print(f"accepted (202): {accepted_count} = {accepted_count / elapsed:.0f}/s")
    print(f"by status: {dict(sorted(by_status.items()))}")
    print(f"latency ms: p50 {p50:.1f}  p99 {p99:.1f}  max {latencies[-1]:.1f}")
    print(f"queue entries: {len(in_queue)}, distinct {len(set(in_queue))}")
    print(f"delivery store jobs: {states}")
    exact = (
        accepted_count == len(accepted) == len(in_queue) == len(set(in_queue))
        and set(in_queue) == accepted
        and states.get("queued", 0) == len(accepted)
    )
    print(f"every accepted delivery is exactly one job: {'YES' if exact else 'NO'}")
    if isinstance(queue.store, RedisDeliveryStore):
        queue.huey.flush()
        keys = list(queue.store.redis.scan_iter(match=f"{queue.store.prefix}:*"))
        if keys:
            queue.store.redis.delete(*keys)
    if not exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
