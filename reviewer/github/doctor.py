"""`reviewer doctor`'s GitHub checks: the API answers, the credentials work, the App may act."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import requests
from github import Auth, Github, GithubException

from reviewer.core.checks import Check, fail, ok, warn
from reviewer.errors import GitHubError, ReviewerError
from reviewer.github.client import GitHubClient
from reviewer.github.http import wrap
from reviewer.settings import Settings

DEFAULT_API_URL = "https://api.github.com"
TIMEOUT_S: Final = 15
# What the bot needs from an App installation, and the webhook events it acts on.
REQUIRED_PERMISSIONS: Final = {
    "pull_requests": "write",
    "contents": "read",
    "issues": "write",
    "checks": "write",
    "metadata": "read",
}
REQUIRED_EVENTS: Final = (
    "pull_request",
    "issue_comment",
    "pull_request_review_comment",
    "pull_request_review_thread",
)
_LEVEL = {"none": 0, "read": 1, "write": 2, "admin": 3}
PERMISSIONS_FIX = (
    "in the App's settings (Permissions & events) grant {missing}; the installation's owner "
    "then accepts the new permissions (Settings → Integrations → GitHub Apps → Review request)"
)


def missing_permissions(granted: Mapping[str, str]) -> list[str]:
    """The needed permissions `granted` lacks or grants too low, as "checks: write"."""
    return [
        f"{name}: {level}"
        for name, level in REQUIRED_PERMISSIONS.items()
        if _LEVEL.get(str(granted.get(name, "none")), 0) < _LEVEL[level]
    ]


def missing_events(events: Iterable[str]) -> list[str]:
    """The webhook events the bot acts on that `events` leaves out."""
    subscribed = set(events)
    return [e for e in REQUIRED_EVENTS if e not in subscribed]


def _gh(settings: Settings, auth: Auth.Auth | None) -> Github:
    return Github(
        auth=auth,
        base_url=settings.github_api_url.rstrip("/"),
        timeout=TIMEOUT_S,
        user_agent="reviewer doctor",
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def _get_once(settings: Settings, auth: Auth.Auth | None, url: str) -> tuple[dict[str, Any], Any]:
    """GET `url` with a client opened and closed for it."""
    gh = _gh(settings, auth)
    try:
        return _get(gh, url)
    finally:
        gh.close()


def _get(gh: Github, url: str) -> tuple[dict[str, Any], Any]:
    """GET `url`; GitHubError (no header, no token) on a refusal or a lost connection."""
    try:
        return gh.requester.requestJsonAndCheck("GET", url)
    except GithubException as exc:
        raise wrap(exc, "GET", url) from exc
    except requests.RequestException as exc:
        raise GitHubError(f"cannot reach GitHub: {type(exc).__name__}", retryable=True) from exc


class GitHubDoctor:
    """The GitHub checks for one set of settings: a token, or an App and its installations."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._is_app = bool(settings.github_app_id and settings.github_private_key)

    def run(self) -> list[Check]:
        checks = [self.api()]
        if checks[0].status == "fail":
            return checks
        if self._is_app:
            checks.extend(self._app())
        elif self._settings.github_token:
            checks.extend(self._token())
        else:
            checks.append(
                fail(
                    "github.auth",
                    "no GitHub credentials",
                    "set GITHUB_TOKEN, or REVIEWER_GITHUB_APP_ID and "
                    "REVIEWER_GITHUB_PRIVATE_KEY_PATH for the App",
                )
            )
        return checks

    def api(self) -> Check:
        """The API URL answers (`GET /meta`, no credentials needed); GHES says its version."""
        url = self._settings.github_api_url.rstrip("/")
        try:
            _, meta = _get_once(self._settings, None, "/meta")
        except GitHubError as exc:
            return fail(
                "github.api",
                f"{url}: {exc.message}",
                "check REVIEWER_GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3)",
            )
        version = (meta or {}).get("installed_version") if isinstance(meta, dict) else None
        server = f"GitHub Enterprise Server {version}" if version else "GitHub"
        return ok("github.api", f"{url} answers ({server})")

    # -- a token ---------------------------------------------------------------------------

    def _token(self) -> list[Check]:
        token = Auth.Token(self._settings.github_token or "")
        try:
            headers, user = _get_once(self._settings, token, "/user")
        except GitHubError as exc:
            if exc.status_code == 403:
                # An Actions GITHUB_TOKEN may not read /user; it posts as github-actions[bot].
                return [
                    ok("github.auth", "a GitHub Actions token (it may not read /user)"),
                    self._identity(),
                ]
            return [fail("github.auth", f"the token was refused: {exc.message}", _token_fix())]
        scopes = (headers or {}).get("x-oauth-scopes")
        found = f"the token works (user {user.get('login')})"
        if scopes is not None:
            found += f"; scopes: {scopes or 'none'}"
            granted = {s.strip() for s in scopes.split(",")}
            if not granted & {"repo", "public_repo"}:
                return [
                    warn("github.auth", found, "a classic token needs the `repo` scope"),
                    self._identity(user.get("login")),
                ]
        return [ok("github.auth", found), self._identity(user.get("login"))]

    def _identity(self, actual: str | None = None, installation_id: int | None = None) -> Check:
        """The login the bot posts as, which it uses to recognise its own comments."""
        client = GitHubClient.from_settings(self._settings, installation_id=installation_id)
        try:
            login = client.bot_login()
        except ReviewerError as exc:
            return fail("github.identity", exc.message, "see github.auth")
        finally:
            client.close()
        configured = self._settings.bot_login
        if configured and actual and configured.lower() != actual.lower():
            return fail(
                "github.identity",
                f"REVIEWER_BOT_LOGIN is {configured} but the credentials are {actual}'s",
                "unset REVIEWER_BOT_LOGIN or correct it: the bot would not know its own comments",
            )
        source = " (REVIEWER_BOT_LOGIN)" if configured else ""
        return ok("github.identity", f"posts as {login}{source}")

    # -- an App ----------------------------------------------------------------------------

    def _app(self) -> list[Check]:
        settings = self._settings
        assert settings.github_app_id and settings.github_private_key
        app_fix = (
            "check that REVIEWER_GITHUB_APP_ID and the private key belong to the same App "
            "(App settings → General; generate a new private key if in doubt)"
        )
        app_auth = Auth.AppAuth(settings.github_app_id.strip(), settings.github_private_key)
        try:
            _, app = _get_once(settings, app_auth, "/app")
        except GitHubError as exc:
            return [fail("github.auth", f"GitHub refused the App: {exc.message}", app_fix)]
        except Exception as exc:  # a key that cannot sign a JWT: PyJWT or cryptography
            found = f"cannot sign the App's JWT: {type(exc).__name__}"
            return [fail("github.auth", found, app_fix)]
        checks = [ok("github.auth", f"the App {app.get('slug')!r} (id {app.get('id')}) works")]
        checks.append(
            self._grants("github.app", f"the App {app.get('slug')!r}", app, "App settings")
        )
        try:
            _, listed = _get_once(settings, app_auth, "/app/installations?per_page=100")
        except GitHubError as exc:
            checks.append(fail("github.installations", exc.message, "see github.auth"))
            return checks
        # The first 100: the doctor reports, it does not page through thousands.
        installations = [i for i in listed or () if isinstance(i, dict)]
        if not installations:
            checks.append(
                warn(
                    "github.installations",
                    "the App is installed nowhere yet",
                    "install it on the repositories to review (App settings → Install App)",
                )
            )
            return checks
        for item in installations:
            checks.append(self._installation(app_auth, item))
        first = next((i for i in installations if not i.get("suspended_at")), installations[0])
        checks.append(self._identity(installation_id=int(first["id"])))
        return checks

    def _grants(self, name: str, what: str, data: Mapping[str, Any], where: str) -> Check:
        missing = missing_permissions(data.get("permissions") or {})
        events = missing_events(data.get("events") or ())
        if missing or events:
            parts = []
            if missing:
                parts.append(f"permissions missing: {', '.join(missing)}")
            if events:
                parts.append(f"events not subscribed: {', '.join(events)}")
            needed = ", ".join([*missing, *(f"the {e} event" for e in events)])
            return fail(name, f"{what}: {'; '.join(parts)}", PERMISSIONS_FIX.format(missing=needed))
        return ok(name, f"{what}: every permission and event the bot needs ({where})")

    def _installation(self, app_auth: Auth.AppAuth, item: Mapping[str, Any]) -> Check:
        account = (item.get("account") or {}).get("login") or str(item.get("id"))
        name = f"github.installation.{account}"
        if item.get("suspended_at"):
            return fail(
                name,
                f"the installation on {account} is suspended",
                f"unsuspend it ({account}'s settings → GitHub Apps → Configure)",
            )
        grants = self._grants(name, f"installation on {account}", item, "as granted")
        if grants.status == "fail":
            return grants
        # The installation's token works and may read what it was given.
        auth = app_auth.get_installation_auth(int(item["id"]))
        try:
            _, repos = _get_once(self._settings, auth, "/installation/repositories?per_page=1")
        except GitHubError as exc:
            return fail(
                name,
                f"installation on {account}: {exc.message}",
                f"check the installation's permissions and repositories ({account}'s settings "
                "→ GitHub Apps → Configure)",
            )
        total = repos.get("total_count") if isinstance(repos, dict) else None
        selection = item.get("repository_selection", "selected")
        count = "all repositories" if selection == "all" else f"{total} selected repositories"
        return ok(name, f"installation on {account} ({count}): permissions and events complete")


def _token_fix() -> str:
    return (
        "set GITHUB_TOKEN to a valid token (fine-grained: pull requests read and write, "
        "contents read, issues read and write)"
    )
