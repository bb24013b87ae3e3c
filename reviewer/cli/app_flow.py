"""The local web page of `reviewer app create`: post the manifest, take the code back once."""

from __future__ import annotations

import hmac
import html
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

from reviewer.errors import ConfigError, ReviewerError
from reviewer.github.manifest import AppCredentials, build_manifest, new_app_url

MAX_FORM_BYTES = 64 * 1024
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}}
label{{display:block;margin:1em 0 .3em}}input[type=text],input[type=url]{{width:100%}}</style>
</head><body><h1>{title}</h1>
{body}
</body></html>
"""


@dataclass(frozen=True)
class FlowOptions:
    """What the App is to be: its owner, its name, where its webhooks go, which GitHub."""

    github_url: str
    api_url: str
    name: str
    webhook_url: str | None = None
    org: str | None = None


class ManifestFlow:
    """One run of the manifest flow: a fresh `state`, one code exchanged, then done.

    `exchange(code)` trades the code for credentials; `save(credentials)` writes them and
    returns what to tell the user. Either may raise a ReviewerError, which ends the flow.
    """

    def __init__(
        self,
        options: FlowOptions,
        exchange: Callable[[str], AppCredentials],
        save: Callable[[AppCredentials], str],
    ) -> None:
        self.options = options
        self.exchange = exchange
        self.save = save
        self.state = secrets.token_urlsafe(32)
        self.redirect_url = ""
        self.done = threading.Event()
        self.credentials: AppCredentials | None = None
        self.error: ReviewerError | None = None
        self._claimed = False
        self._lock = threading.Lock()

    # ---- pages ------------------------------------------------------------------------
    def form_page(
        self, *, name: str | None = None, webhook_url: str | None = None, problem: str | None = None
    ) -> str:
        o = self.options
        owner = f"the organisation <b>{html.escape(o.org)}</b>" if o.org else "your account"
        warning = f'<p style="color:#b00">{html.escape(problem)}</p>' if problem else ""
        body = f"""{warning}<p>This creates a private GitHub App owned by {owner} on
<b>{html.escape(o.github_url)}</b>, with the permissions the reviewer needs (pull requests and
issues write, checks write, contents and metadata read) and its webhook events. GitHub then
shows the App's page: confirm there, and this page receives the App's id, private key and
webhook secret.</p>
<form method="post" action="/manifest">
<label for="name">App name (unique on GitHub; you can change it on the next page)</label>
<input type="text" id="name" name="name" required value="{html.escape(name or o.name)}">
<label for="webhook_url">Webhook URL (where `reviewer serve` answers, https://HOST/webhook)
</label>
<input type="url" id="webhook_url" name="webhook_url" required
 value="{html.escape(webhook_url or o.webhook_url or "")}">
<p><button type="submit">Continue to GitHub</button></p>
</form>"""
        return PAGE.format(title="Create the reviewer's GitHub App", body=body)

    def post_page(self, name: str, webhook_url: str) -> str:
        """A form that posts the manifest to GitHub, submitted at once by the browser."""
        manifest = build_manifest(name, webhook_url, self.redirect_url)
        action = new_app_url(self.options.github_url, self.state, self.options.org)
        body = f"""<form id="to-github" method="post" action="{html.escape(action)}">
<input type="hidden" name="manifest" value="{html.escape(json.dumps(manifest))}">
<p><button type="submit">Create the App on GitHub</button></p>
</form>
<script>document.getElementById("to-github").submit()</script>"""
        return PAGE.format(title="Sending the manifest to GitHub…", body=body)

    # ---- the callback -----------------------------------------------------------------
    def callback(self, query: str) -> tuple[int, str]:
        """Handle GitHub's redirect: check `state`, exchange `code` once, save."""
        params = parse_qs(query)
        state = params.get("state", [""])[0]
        code = params.get("code", [""])[0]
        if not hmac.compare_digest(state.encode(), self.state.encode()):
            return 400, self._message(
                "Refused",
                "The state does not match this run of `reviewer app create`: this redirect "
                "did not come from the form it served. Nothing was exchanged.",
            )
        if not code:
            return 400, self._message("Refused", "GitHub's redirect carries no code.")
        with self._lock:
            if self._claimed:
                return 409, self._message("Already done", "This code was already exchanged.")
            self._claimed = True
        try:
            credentials = self.exchange(code)
            told = self.save(credentials)
        except ReviewerError as exc:
            self.error = exc
            self.done.set()
            return 502, self._message("The App's credentials were not saved", exc.message)
        self.credentials = credentials
        self.done.set()
        return 200, self._message(f"Created {credentials.name or 'the App'}", told)

    @staticmethod
    def _message(title: str, text: str) -> str:
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p)
        return PAGE.format(title=html.escape(title), body=paragraphs)

    # ---- HTTP -------------------------------------------------------------------------
    def handler(self) -> type[BaseHTTPRequestHandler]:
        flow = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the query string holds the code."""

            def _send(self, status: int, page: str) -> None:
                data = page.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/":
                    self._send(200, flow.form_page())
                elif parts.path == "/callback":
                    self._send(*flow.callback(parts.query))
                else:
                    self._send(404, flow._message("Not found", parts.path))

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/manifest":
                    self._send(404, flow._message("Not found", self.path))
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_FORM_BYTES:
                    self._send(413, flow._message("Too large", "The form is too large."))
                    return
                form = parse_qs(self.rfile.read(length).decode("utf-8", errors="replace"))
                name = form.get("name", [""])[0].strip()
                webhook_url = form.get("webhook_url", [""])[0].strip()
                try:
                    if not name:
                        raise ConfigError("the App needs a name")
                    page = flow.post_page(name, webhook_url)
                except ConfigError as exc:
                    again = flow.form_page(name=name, webhook_url=webhook_url, problem=exc.message)
                    self._send(400, again)
                    return
                self._send(200, page)

        return Handler


def serve(
    flow: ManifestFlow,
    *,
    port: int = 0,
    on_ready: Callable[[str], None],
    timeout_s: float = 3600.0,
) -> AppCredentials:
    """Serve the flow on 127.0.0.1 until the App is created; return its credentials.

    Raises the flow's error, or ConfigError when nobody finished within `timeout_s` (GitHub's
    code is valid for one hour anyway).
    """
    server = HTTPServer(("127.0.0.1", port), flow.handler())
    server.timeout = 0.5
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        flow.redirect_url = f"{base}/callback"
        on_ready(f"{base}/")
        deadline = time.monotonic() + timeout_s
        while not flow.done.is_set():
            if time.monotonic() > deadline:
                raise ConfigError("no App was created in time: run `reviewer app create` again")
            server.handle_request()
    finally:
        server.server_close()
    if flow.error is not None:
        raise flow.error
    if flow.credentials is None:  # done is set only with one of the two
        raise ConfigError("the App flow ended without credentials")
    return flow.credentials
