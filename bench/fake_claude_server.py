"""A loopback fake Messages API for benchmarks: fixed delay, concurrent calls, prompt caching.

    python -m bench.fake_claude_server [--port 0] [--delay 0.2]    # prints "listening on URL"

Every `POST /v1/messages` is answered `--delay` seconds after it arrived, with
`{"findings": []}` and a `usage` counted the way the API would, with these stated
approximations:

- Tokens: `count_tokens`, a BPE-style proxy (see its docstring) of each text block, plus the
  JSON of `output_config` once per request (structured outputs put the schema into the
  prompt). Unlike `bytes / 3.5`, it charges every run of digits and every run of padding at
  least one token, as a real tokenizer does. The reviewer's own estimator is deliberately
  more pessimistic (bytes / 3 + one per line); this is the fake's bill, not it.
- Prompt caching: the prompt is the system blocks then the message blocks, in order. Each
  block with `cache_control` ends a cacheable prefix, keyed by the model and the exact text
  before it. The longest prefix already cached is read (`cache_read_input_tokens`); the
  rest up to the last breakpoint is written (`cache_creation_input_tokens`, 5-minute
  writes); what follows the last breakpoint is `input_tokens`. A prefix shorter than the
  model's minimum (`min_cacheable_tokens` in reviewer/data/models.json) is not cached. As on
  the API, an entry is readable only once the response that wrote it has started: calls
  that arrive together all pay the write.

Rate limits: every answer carries `anthropic-ratelimit-requests-remaining` and
`anthropic-ratelimit-input-tokens-remaining`, what is left of per-minute limits of
`--rpm` requests (default 4,000) and `--itpm` uncached input tokens (default 2,000,000,
Anthropic's tier 4 for Sonnet) over the last 60 seconds; cache reads do not count, as on the
API. Nothing is refused: the headers only inform the client's concurrency.

Message Batches (`POST /v1/messages/batches`, then retrieve and results): a batch ends at
once, billed like real time except: the `service_tier` is `batch`, cache writes are 1-hour
ones when the breakpoint asks for `ttl: 1h`, and the requests are processed in waves of
`BATCH_WAVE` that all pay the write (the API runs a batch's requests concurrently, in an order
it does not tell). Batch calls count in `/stats` like others, and `batch_requests` apart.

`GET /stats` answers the totals (calls, usage sums, each call's usage, the most calls in
flight at once); `POST /reset` clears them and the cache. Threads serve calls concurrently.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import math
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reviewer.core.models import model_spec

BYTES_PER_TOKEN = 3.5
WORD_BYTES = 4
ANSWER = json.dumps({"findings": []})
BATCH_WAVE = 8
USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
# Pieces the way BPE tokenizers pre-split text (cl100k's pattern, with Python's classes):
# a word with one leading non-letter, 1 to 3 digits, a run of punctuation with its leading
# space, newlines with the spaces before them, other whitespace.
_PIECES = re.compile(
    r"(?:[^\r\n\w]|_)?[^\W\d_]+|\d{1,3}| ?(?:[^\s\w]|_)+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def count_tokens(text: str) -> int:
    """The fake's tokenizer proxy: split `text` into BPE pre-tokenizer pieces, then charge
    a word (with one leading space or sign) ceil(UTF-8 bytes / 4), 1 to 3 digits one token, a run of
    punctuation or underscores one token per 2 characters, and a run of newlines or spaces
    one token per 16 characters (at least one).

    So a line number costs a token per three digits and padding at least a token, where
    `bytes / 3.5` would charge `  9 ` 1.1 tokens; on ordinary code it averages about 3.5
    bytes per token, as Claude's tokenizers do. It is a proxy, not Claude's tokenizer.
    """
    total = 0
    for piece in _PIECES.findall(text):
        first = piece[0]
        if first.isdigit():
            total += 1
        elif first.isspace():
            total += -(-len(piece) // 16)
        elif piece[-1].isalpha():
            total += -(-len(piece.encode("utf-8")) // WORD_BYTES)
        else:
            total += -(-len(piece) // 2)
    return total


def count_tokens_by_bytes(text: str) -> int:
    """The old proxy, ceil(UTF-8 bytes / 3.5), kept for comparison."""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def _blocks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    system = body.get("system") or []
    if isinstance(system, str):
        system = [{"type": "text", "text": system}]
    yield from system
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            yield {"type": "text", "text": content}
        else:
            yield from content or []


class State:
    """Counters and the prompt cache, shared by the handler threads."""

    def __init__(self, delay: float, rpm: int = 4_000, itpm: int = 2_000_000) -> None:
        self.delay = delay
        self.rpm, self.itpm = rpm, itpm
        self.lock = threading.Lock()
        self.reset()

    def headroom(self, input_tokens: int) -> dict[str, str]:
        """Record a request of `input_tokens` (uncached) now; the rate-limit headers after it."""
        now = time.monotonic()
        with self.lock:
            self.window.append((now, input_tokens))
            while self.window and self.window[0][0] < now - 60:
                self.window.pop(0)
            used = sum(tokens for _, tokens in self.window)
            count = len(self.window)
        return {
            "anthropic-ratelimit-requests-remaining": str(max(0, self.rpm - count)),
            "anthropic-ratelimit-input-tokens-remaining": str(max(0, self.itpm - used)),
        }

    def reset(self) -> None:
        with self.lock:
            self.cache: set[str] = set()
            self.calls: list[dict[str, int]] = []
            self.in_flight = 0
            self.max_in_flight = 0
            self.window: list[tuple[float, int]] = []
            self.batches: dict[str, list[dict[str, Any]]] = {}
            self.batch_requests = 0

    def run_batch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Answer a batch's requests in waves; return its results (JSONL lines)."""
        results = []
        for start in range(0, len(requests), BATCH_WAVE):
            wave = requests[start : start + BATCH_WAVE]
            answered = [(r, *self.usage(r["params"])) for r in wave]
            with self.lock:
                for _, usage, writes in answered:
                    self.cache.update(writes)
                    self.calls.append(usage)
                self.batch_requests += len(wave)
            for request, usage, _ in answered:
                hour = any(
                    (b.get("cache_control") or {}).get("ttl") == "1h"
                    for b in _blocks(request["params"])
                )
                message = _message(request["params"], usage, tier="batch", hour=hour)
                results.append(
                    {"custom_id": request["custom_id"],
                     "result": {"type": "succeeded", "message": message}}
                )  # fmt: skip
        return results

    def usage(self, body: dict[str, Any]) -> tuple[dict[str, int], list[str]]:
        """The usage of one request, and the cache keys it writes when it answers."""
        model = str(body.get("model", ""))
        minimum = model_spec(model).min_cacheable_tokens
        digest = hashlib.sha256(model.encode())
        total = count_tokens(json.dumps(body.get("output_config") or {}))
        breakpoints: list[tuple[int, str]] = []  # (tokens up to it, key)
        for block in _blocks(body):
            text = str(block.get("text", ""))
            digest.update(text.encode("utf-8", "surrogatepass") + b"\x00")
            total += count_tokens(text)
            if block.get("cache_control"):
                breakpoints.append((total, digest.hexdigest()))
        cacheable = [(n, key) for n, key in breakpoints if n >= minimum]
        with self.lock:
            read = max((n for n, key in cacheable if key in self.cache), default=0)
        last = cacheable[-1][0] if cacheable else 0
        written = max(last - read, 0)
        usage = {
            "input_tokens": total - read - written,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "output_tokens": count_tokens(ANSWER),
        }
        return usage, [key for n, key in cacheable if n > read]


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK would add about 40 ms to every answer.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_bench_{time.monotonic_ns()}")
            self.end_headers()
            self.wfile.write(data)

        def _batch(self, batch_id: str, url: str) -> dict[str, Any]:
            count = len(state.batches.get(batch_id, []))
            return {
                "id": batch_id, "type": "message_batch", "processing_status": "ended",
                "request_counts": {"processing": 0, "succeeded": count, "errored": 0,
                                   "canceled": 0, "expired": 0},
                "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
                "ended_at": "2026-01-01T00:00:00Z", "cancel_initiated_at": None,
                "archived_at": None, "results_url": f"{url}/v1/messages/batches/{batch_id}/results",
            }  # fmt: skip

        def _url(self) -> str:
            return f"http://{self.headers.get('host')}"

        def do_GET(self) -> None:
            prefix = "/v1/messages/batches/"
            if self.path.startswith(prefix) and self.path.endswith("/results"):
                batch_id = self.path[len(prefix) : -len("/results")]
                lines = "\n".join(json.dumps(r) for r in state.batches.get(batch_id, []))
                data = (lines + "\n").encode()
                self.send_response(200)
                self.send_header("content-type", "application/binary")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if self.path.startswith(prefix):
                self._send(200, self._batch(self.path[len(prefix) :], self._url()))
                return
            if self.path != "/stats":
                self._send(404, {"type": "error", "error": {"type": "not_found_error"}})
                return
            with state.lock:
                calls = list(state.calls)
                peak = state.max_in_flight
            totals = {k: sum(c[k] for c in calls) for k in USAGE_KEYS}
            self._send(200, {"calls": len(calls), "totals": totals, "usages": calls,
                             "max_in_flight": peak,
                             "batch_requests": state.batch_requests})  # fmt: skip

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            received = time.monotonic()
            if self.path == "/reset":
                state.reset()
                self._send(200, {"ok": True})
                return
            if self.path == "/v1/messages/batches":
                requests = json.loads(raw)["requests"]
                batch_id = f"msgbatch_bench_{time.monotonic_ns()}"
                results = state.run_batch(requests)
                with state.lock:
                    state.batches[batch_id] = results
                self._send(200, self._batch(batch_id, self._url()))
                return
            if self.path != "/v1/messages":
                self._send(404, {"type": "error", "error": {"type": "not_found_error"}})
                return
            body = json.loads(raw)
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                usage, writes = state.usage(body)
                limits = state.headroom(
                    usage["input_tokens"] + usage["cache_creation_input_tokens"]
                )
                # The answer comes `delay` after the request, however long counting took.
                time.sleep(max(0.0, state.delay - (time.monotonic() - received)))
            finally:
                with state.lock:
                    state.in_flight -= 1
                    state.cache.update(writes)
                    state.calls.append(usage)
            message = _message(body, usage, tier="standard", hour=False)
            self._send(200, message, limits)

    return Handler


def _message(
    body: dict[str, Any], usage: dict[str, int], *, tier: str, hour: bool
) -> dict[str, Any]:
    written = usage["cache_creation_input_tokens"]
    return {
        "id": f"msg_bench_{time.monotonic_ns()}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": [{"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage
        | {
            "cache_creation": {
                "ephemeral_5m_input_tokens": 0 if hour else written,
                "ephemeral_1h_input_tokens": written if hour else 0,
            },
            "service_tier": tier,
        },
    }


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


@contextmanager
def serve(delay: float, port: int = 0) -> Iterator[str]:
    """Run the fake in a thread of this process; yields its base URL."""
    server = Server(("127.0.0.1", port), make_handler(State(delay)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Remote:
    """A fake running in another process (so its CPU time is not the bot's)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])

    def _call(self, method: str, path: str) -> dict[str, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=b"{}" if method == "POST" else None)
            data: dict[str, Any] = json.load(connection.getresponse())
        finally:
            connection.close()
        return data

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def reset(self) -> None:
        self._call("POST", "/reset")


@contextmanager
def serve_in_subprocess(delay: float) -> Iterator[Remote]:
    """Start `python -m bench.fake_claude_server` on a free port; yields a handle to it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_claude_server", "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the fake Messages server did not start: {line!r}")
        yield Remote(line.split()[-1])
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--rpm", type=int, default=4_000, help="requests per minute")
    parser.add_argument("--itpm", type=int, default=2_000_000, help="input tokens per minute")
    args = parser.parse_args()
    state = State(args.delay, args.rpm, args.itpm)
    server = Server(("127.0.0.1", args.port), make_handler(state))
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
