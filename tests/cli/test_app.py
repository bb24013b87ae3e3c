"""`reviewer app create`: the manifest flow end to end, against a fake GitHub on loopback."""

from __future__ import annotations

import html
import json
import re
import stat
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from reviewer.cli import app as app_cli
from reviewer.cli.app_flow import FlowOptions, ManifestFlow
from reviewer.cli.main import main
from reviewer.errors import ConfigError
from reviewer.github.manifest import AppCredentials, api_url, build_manifest, new_app_url

WEBHOOK_URL = "https://reviewer.example.com/webhook"
FAKE_PEM = "-----BEGIN RSA " + "PRIVATE KEY-----\nFAKEFAKEFAKE\n-----END RSA PRIVATE KEY-----\n"
CONVERSION = {
    "id": 4242,
    "slug": "claude-reviewer",
    "name": "Claude reviewer",
    "html_url": "https://ghe.example.com/apps/claude-reviewer",
    "pem": FAKE_PEM,
    "webhook_secret": "fake0webhook0secret0for0tests000",
    "client_id": "Iv1.fakeclientid",
    "client_secret": "fake-client-secret",
}


@dataclass
class FakeGitHub:
    """GitHub's new-App page (redirects back with a code) and the conversion endpoint."""

    server: HTTPServer
    code: str = "fake-code-1"
    manifests: list[dict[str, Any]] = field(default_factory=list)
    new_app_paths: list[str] = field(default_factory=list)
    conversions: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    @property
    def root(self) -> str:
        return self.server.url_for("").rstrip("/")

    def new_app(self, request: Request) -> Response:
        self.new_app_paths.append(request.path)
        manifest = json.loads(request.form["manifest"])
        self.manifests.append(manifest)
        query = urlencode({"code": self.code, "state": request.args["state"]})
        return Response(status=302, headers={"Location": f"{manifest['redirect_url']}?{query}"})

    def convert(self, request: Request) -> Response:
        code = request.path.split("/")[-2]
        self.conversions.append(code)
        if code in self.used:  # GitHub accepts a code once
            return Response(json.dumps({"message": "Not Found"}), 404)
        self.used.add(code)
        return Response(json.dumps(CONVERSION), 201, mimetype="application/json")


@pytest.fixture
def github(httpserver: HTTPServer) -> FakeGitHub:
    fake = FakeGitHub(httpserver)
    pattern = re.compile(r"^(/organizations/[^/]+)?/settings/apps/new$")
    httpserver.expect_request(pattern, method="POST").respond_with_handler(fake.new_app)
    httpserver.expect_request(
        re.compile(r"^/api/v3/app-manifests/[^/]+/conversions$"), method="POST"
    ).respond_with_handler(fake.convert)
    return fake


def fetch(url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
    """What a browser does: GET, or POST a form; redirects followed (a POST becomes a GET)."""
    body = urlencode(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(url, data=body, timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def form_of(page: str) -> tuple[str, dict[str, str]]:
    """The action and the hidden fields of the first form on `page`."""
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page)[1])  # type: ignore[index]
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }
    return action, fields


@dataclass
class FakeBrowser:
    """A stand-in for webbrowser.open: runs `steps` against the local URL in a thread."""

    steps: Callable[[str], None]
    threads: list[threading.Thread] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def open(self, url: str) -> None:
        thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run(self, url: str) -> None:
        try:
            self.steps(url)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.errors.append(exc)

    def finish(self) -> list[BaseException]:
        """Wait until the browser has read its last page; return what went wrong in it."""
        for thread in self.threads:
            thread.join(timeout=30)
        return self.errors


def create(
    monkeypatch: pytest.MonkeyPatch, steps: Callable[[str], None], *args: str
) -> tuple[Result, list[BaseException]]:
    browser = FakeBrowser(steps)
    monkeypatch.setattr(app_cli.webbrowser, "open", browser.open)
    result = CliRunner().invoke(main, ["app", "create", *args])
    return result, browser.finish()


def test_the_flow_creates_the_app_and_writes_private_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, github: FakeGitHub
) -> None:
    pages: dict[str, tuple[int, str]] = {}

    def steps(url: str) -> None:
        pages["form"] = fetch(url)
        pages["post"] = fetch(url + "manifest", {"name": "My reviewer", "webhook_url": WEBHOOK_URL})
        action, fields = form_of(pages["post"][1])
        # A forged redirect first: refused, nothing exchanged, the flow keeps waiting.
        pages["forged"] = fetch(url + "callback?" + urlencode({"code": "x", "state": "forged"}))
        pages["github"] = fetch(action, fields)  # GitHub redirects back with code and state

    out = tmp_path / "app.env"
    result, errors = create(
        monkeypatch, steps, "--github-url", github.root, "--org", "octo-org",
        "--webhook-url", WEBHOOK_URL, "--out", str(out),
    )  # fmt: skip

    assert errors == []
    assert result.exit_code == 0, result.output
    assert pages["form"][0] == 200 and 'action="/manifest"' in pages["form"][1]
    assert WEBHOOK_URL in pages["form"][1]
    assert pages["forged"][0] == 400 and "state does not match" in pages["forged"][1]
    assert pages["github"][0] == 200 and "App id 4242" in pages["github"][1]
    assert github.new_app_paths == ["/organizations/octo-org/settings/apps/new"]
    [manifest] = github.manifests
    assert manifest == {
        "name": "My reviewer",
        "url": "https://reviewer.example.com",
        "hook_attributes": {"url": WEBHOOK_URL, "active": True},
        "redirect_url": manifest["redirect_url"],
        "description": manifest["description"],
        "public": False,
        "default_permissions": {
            "pull_requests": "write", "contents": "read", "issues": "write",
            "checks": "write", "metadata": "read",
        },
        "default_events": [
            "pull_request", "issue_comment", "pull_request_review_comment",
            "pull_request_review_thread",
        ],
    }  # fmt: skip
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", manifest["redirect_url"])
    assert github.conversions == [github.code]  # exchanged once; the forged code never
    pem = tmp_path / "app.pem"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert pem.read_text() == FAKE_PEM
    env = dict(
        line.split("=", 1) for line in out.read_text().splitlines() if not line.startswith("#")
    )
    assert env == {
        "REVIEWER_GITHUB_APP_ID": "4242",
        "REVIEWER_GITHUB_PRIVATE_KEY_PATH": str(pem.resolve()),
        "REVIEWER_WEBHOOK_SECRET": CONVERSION["webhook_secret"],
        "REVIEWER_GITHUB_API_URL": f"{github.root}/api/v3",
        "REVIEWER_GITHUB_CLIENT_ID": CONVERSION["client_id"],
        "REVIEWER_GITHUB_CLIENT_SECRET": CONVERSION["client_secret"],
    }
    assert "Created GitHub App 'Claude reviewer' (id 4242)" in result.stdout


def test_the_settings_file_is_what_the_app_reads(tmp_path: Path) -> None:
    from reviewer.settings import Settings

    out = tmp_path / "app.env"
    credentials = AppCredentials(4242, "s", "n", "", pem=FAKE_PEM, webhook_secret="w" * 32)
    app_cli.saver(out, "https://api.github.com", overwrite=False)(credentials)
    environ = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line
                   and not line.startswith("#"))  # fmt: skip

    settings = Settings.from_env(environ)

    assert settings.github_app_id == "4242"
    assert settings.github_private_key == FAKE_PEM
    assert settings.webhook_secret == "w" * 32
    assert settings.github_api_url == "https://api.github.com"


def test_a_used_or_expired_code_is_reported_and_nothing_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, github: FakeGitHub
) -> None:
    github.used.add(github.code)
    pages: dict[str, tuple[int, str]] = {}

    def steps(url: str) -> None:
        action, fields = form_of(
            fetch(url + "manifest", {"name": "r", "webhook_url": WEBHOOK_URL})[1]
        )
        pages["github"] = fetch(action, fields)

    out = tmp_path / "app.env"
    result, errors = create(
        monkeypatch, steps, "--github-url", github.root, "--out", str(out), "--webhook-url",
        WEBHOOK_URL,
    )  # fmt: skip

    assert errors == []
    assert result.exit_code == 1
    message = "valid for one hour and only once. Run `reviewer app create` again."
    assert message in result.stderr
    assert pages["github"][0] == 502 and "only once" in pages["github"][1]
    assert github.new_app_paths == ["/settings/apps/new"]
    assert not out.exists() and not (tmp_path / "app.pem").exists()


def test_existing_files_are_not_replaced_without_force(tmp_path: Path) -> None:
    out = tmp_path / "app.env"
    out.write_text("keep me\n")

    result = CliRunner().invoke(main, ["app", "create", "--out", str(out), "--no-browser"])

    assert result.exit_code == 2
    assert "exists: pass --force" in result.stderr
    assert out.read_text() == "keep me\n"


def test_a_webhook_url_that_is_not_https_is_refused(github: FakeGitHub) -> None:
    flow = ManifestFlow(
        FlowOptions(github.root, f"{github.root}/api/v3", "r"),
        exchange=lambda code: pytest.fail("no exchange"),
        save=lambda credentials: "",
    )
    with pytest.raises(ConfigError, match="must be https"):
        flow.post_page("r", "http://plain.example.com/webhook")


def test_a_code_is_exchanged_once_per_run() -> None:
    exchanged: list[str] = []
    credentials = AppCredentials(1, "s", "n", "", pem=FAKE_PEM)

    def exchange(code: str) -> AppCredentials:
        exchanged.append(code)
        return credentials

    flow = ManifestFlow(FlowOptions("https://github.com", "https://api.github.com", "r"),
                        exchange=exchange, save=lambda c: "saved")  # fmt: skip
    query = urlencode({"code": "c1", "state": flow.state})

    first, again = flow.callback(query), flow.callback(query)

    assert first[0] == 200 and again[0] == 409
    assert exchanged == ["c1"]
    assert flow.done.is_set() and flow.credentials is credentials


def test_urls_for_github_com_an_organisation_and_enterprise_server() -> None:
    assert api_url("https://github.com/") == "https://api.github.com"
    assert api_url("https://ghe.example.com") == "https://ghe.example.com/api/v3"
    assert (
        new_app_url("https://github.com", "s t") == "https://github.com/settings/apps/new?state=s+t"
    )
    assert (
        new_app_url("https://ghe.example.com", "s", org="my org")
        == "https://ghe.example.com/organizations/my%20org/settings/apps/new?state=s"
    )
    assert build_manifest("r", WEBHOOK_URL, "http://127.0.0.1:1/callback")["public"] is False
    assert urlsplit(build_manifest("r", WEBHOOK_URL, "x")["url"]).netloc == "reviewer.example.com"


def test_a_webhook_url_given_on_the_command_line_is_checked_first(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["app", "create", "--webhook-url", "http://x.example.com/webhook", "--no-browser",
         "--out", str(tmp_path / "app.env")],
    )  # fmt: skip

    assert result.exit_code == 2
    assert "the webhook URL must be https://HOST/..." in result.stderr
