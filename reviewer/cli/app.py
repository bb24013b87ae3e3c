"""`reviewer app create`: register the GitHub App from a manifest and save its credentials."""

from __future__ import annotations

import os
import webbrowser
from collections.abc import Callable
from pathlib import Path

import click

from reviewer.cli.app_flow import FlowOptions, ManifestFlow, serve
from reviewer.errors import ConfigError, ReviewerError
from reviewer.github.manifest import (
    GITHUB_URL,
    AppCredentials,
    api_url,
    build_manifest,
    exchange_code,
    normalize_github_url,
)

DEFAULT_OUT = Path("reviewer-app.env")


def key_path(out: Path) -> Path:
    """The private key's file, beside the settings file: `reviewer-app.env` → `.pem`."""
    return out.with_suffix(".pem")


def env_file(credentials: AppCredentials, *, pem_path: Path, api: str) -> str:
    """The settings file: `REVIEWER_*` lines `reviewer serve` reads (systemd EnvironmentFile,
    docker --env-file, or `set -a; . FILE`)."""
    lines = [
        f"# GitHub App {credentials.name!r} ({credentials.html_url}), written by "
        "`reviewer app create`.",
        "# Keep this file and the .pem beside it private (mode 0600).",
        f"REVIEWER_GITHUB_APP_ID={credentials.app_id}",
        f"REVIEWER_GITHUB_PRIVATE_KEY_PATH={pem_path.resolve()}",
    ]
    if credentials.webhook_secret:
        lines.append(f"REVIEWER_WEBHOOK_SECRET={credentials.webhook_secret}")
    else:
        lines.append("# GitHub returned no webhook secret: set one on the App's page and here.")
        lines.append("# REVIEWER_WEBHOOK_SECRET=")
    if api != "https://api.github.com":
        lines.append(f"REVIEWER_GITHUB_API_URL={api}")
    if credentials.client_id or credentials.client_secret:
        lines.append("# The App's OAuth credentials: the reviewer does not use them.")
        lines.append(f"REVIEWER_GITHUB_CLIENT_ID={credentials.client_id or ''}")
        lines.append(f"REVIEWER_GITHUB_CLIENT_SECRET={credentials.client_secret or ''}")
    for line in lines:
        if "\n" in line or "\r" in line:
            raise ConfigError("GitHub's answer holds a line break where a value was expected")
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str, *, overwrite: bool) -> None:
    """Write `text` to a file only its owner can read (0600), created that way."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise ConfigError(f"{path} exists: pass --force to replace it", path=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}", path=str(path)) from exc
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an existing file replaced with --force
        handle.write(text)


def saver(out: Path, api: str, *, overwrite: bool) -> Callable[[AppCredentials], str]:
    def save(credentials: AppCredentials) -> str:
        pem = key_path(out)
        write_private(pem, credentials.pem, overwrite=overwrite)
        write_private(out, env_file(credentials, pem_path=pem, api=api), overwrite=overwrite)
        install = f"{credentials.html_url}/installations/new" if credentials.html_url else ""
        return (
            f"App id {credentials.app_id}: settings written to {out} and the private key to "
            f"{pem} (both mode 0600).\n"
            + (f"Install the App on repositories: {install}\n" if install else "")
            + "You can close this page."
        )

    return save


@click.group("app")
def app() -> None:
    """Set up the GitHub App."""


@app.command("create")
@click.option("--org", help="Create the App in this organisation (default: your account).")
@click.option(
    "--github-url",
    default=GITHUB_URL,
    show_default=True,
    help="GitHub's root URL; a GitHub Enterprise Server's for GHES.",
)
@click.option("--webhook-url", help="https://HOST/webhook where `reviewer serve` answers.")
@click.option("--name", default="Claude reviewer", show_default=True, help="The App's name.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="The settings file to write; the private key goes beside it (.pem).",
)
@click.option("--port", type=int, default=0, help="Local port (default: any free one).")
@click.option("--no-browser", is_flag=True, help="Print the local URL; do not open it.")
@click.option("--force", is_flag=True, help="Replace the settings and key files if they exist.")
def create(
    org: str | None,
    github_url: str,
    webhook_url: str | None,
    name: str,
    out: Path,
    port: int,
    no_browser: bool,
    force: bool,
) -> None:
    """Create the reviewer's GitHub App from a manifest, in your browser, and save its keys.

    A page on 127.0.0.1 posts the App's manifest (permissions, events, webhook URL) to GitHub;
    you confirm there; GitHub sends back a one-time code, exchanged here for the App's id,
    private key and webhook secret, written with mode 0600.
    """
    from reviewer.cli.exit import fail

    try:
        root = normalize_github_url(github_url)
        api = api_url(root)
        if webhook_url is not None:
            build_manifest(name, webhook_url, "")  # a bad URL is said now, not in the browser
        for path in (out, key_path(out)):
            if path.exists() and not force:
                raise ConfigError(f"{path} exists: pass --force to replace it", path=str(path))
        options = FlowOptions(
            github_url=root, api_url=api, name=name, webhook_url=webhook_url, org=org
        )
        flow = ManifestFlow(
            options,
            exchange=lambda code: exchange_code(api, code),
            save=saver(out, api, overwrite=force),
        )

        def ready(url: str) -> None:
            click.echo(f"reviewer: open {url} in a browser signed in to {root}", err=True)
            if not no_browser:
                webbrowser.open(url)

        credentials = serve(flow, port=port, on_ready=ready)
    except ReviewerError as exc:
        fail(exc)
    click.echo(
        f"Created GitHub App {credentials.name!r} (id {credentials.app_id}); settings in {out}, "
        f"private key in {key_path(out)}."
    )
