"""GitHub App manifests: the manifest, where to post it, and the code-for-credentials exchange."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from reviewer.errors import ConfigError, GitHubError

GITHUB_URL = "https://github.com"
# What the reviewer needs (docs/app.md, "Permissions"); metadata read is implied but listed.
PERMISSIONS = {
    "pull_requests": "write",
    "contents": "read",
    "issues": "write",
    "checks": "write",
    "metadata": "read",
}
EVENTS = (
    "pull_request",
    "issue_comment",
    "pull_request_review_comment",
    "pull_request_review_thread",
)
EXCHANGE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class AppCredentials:
    """What GitHub returns once for a new App: keep `pem` and the secrets private."""

    app_id: int
    slug: str
    name: str
    html_url: str
    pem: str = field(repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)


def normalize_github_url(url: str | None) -> str:
    """`https://github.com` or a GitHub Enterprise Server's root URL, without a trailing /."""
    value = (url or GITHUB_URL).strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/"):
        raise ConfigError(f"--github-url: {url!r} is not a GitHub root URL (https://HOST)")
    return f"{parts.scheme}://{parts.netloc}"


def api_url(github_url: str) -> str:
    """The REST API root: api.github.com, or `/api/v3` on GitHub Enterprise Server."""
    root = normalize_github_url(github_url)
    return "https://api.github.com" if root == GITHUB_URL else f"{root}/api/v3"


def new_app_url(github_url: str, state: str, org: str | None = None) -> str:
    """Where the browser posts the manifest: the user's or the organisation's new-App page."""
    root = normalize_github_url(github_url)
    owner = f"/organizations/{quote(org, safe='')}" if org else ""
    return f"{root}{owner}/settings/apps/new?{urlencode({'state': state})}"


def build_manifest(name: str, webhook_url: str, redirect_url: str) -> dict[str, Any]:
    """The App manifest GitHub's new-App page reads from the posted `manifest` field."""
    hook = urlsplit(webhook_url)
    if hook.scheme != "https" or not hook.netloc:
        raise ConfigError(f"the webhook URL must be https://HOST/...: {webhook_url!r}")
    return {
        "name": name,
        "url": f"{hook.scheme}://{hook.netloc}",
        "hook_attributes": {"url": webhook_url, "active": True},
        "redirect_url": redirect_url,
        "description": "Claude reviews pull requests: inline comments, a summary, a check run.",
        "public": False,
        "default_permissions": dict(PERMISSIONS),
        "default_events": list(EVENTS),
    }


def exchange_code(
    api: str, code: str, *, session: requests.Session | None = None
) -> AppCredentials:
    """Trade the redirect's `code` for the App's credentials (`POST /app-manifests/{code}/
    conversions`). GitHub accepts a code once, within an hour; it needs no authentication."""
    url = f"{api.rstrip('/')}/app-manifests/{quote(code, safe='')}/conversions"
    http = session or requests.Session()
    try:
        response = http.post(
            url,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            timeout=EXCHANGE_TIMEOUT_S,
        )
    except requests.RequestException as exc:
        raise GitHubError(
            f"GitHub POST /app-manifests/…/conversions failed: {exc.__class__.__name__}",
            retryable=True,
        ) from exc
    finally:
        if session is None:
            http.close()
    if response.status_code in (404, 422):
        raise GitHubError(
            f"GitHub refused the code ({response.status_code}): a code is valid for one hour "
            "and only once. Run `reviewer app create` again.",
            status_code=response.status_code,
        )
    if response.status_code != 201:
        raise GitHubError(
            f"GitHub POST /app-manifests/…/conversions failed: {response.status_code}",
            status_code=response.status_code,
            retryable=response.status_code >= 500,
        )
    return parse_credentials(response.json())


def parse_credentials(data: Any) -> AppCredentials:
    """Read the conversion's answer; GitHubError when it lacks the id or the private key."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), int) or not data.get("pem"):
        raise GitHubError("GitHub's answer to the code exchange lacks the App id or private key")

    def text(key: str) -> str | None:
        value = data.get(key)
        return str(value) if value else None

    return AppCredentials(
        app_id=data["id"],
        slug=str(data.get("slug") or ""),
        name=str(data.get("name") or ""),
        html_url=str(data.get("html_url") or ""),
        pem=str(data["pem"]),
        webhook_secret=text("webhook_secret"),
        client_id=text("client_id"),
        client_secret=text("client_secret"),
    )
