"""`reviewer serve` (gunicorn and a queue worker, supervised) and `reviewer worker`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import click

from reviewer.cli.exit import fail
from reviewer.errors import ConfigError, ReviewerError
from reviewer.settings import Settings

GUNICORN_CONF = Path(__file__).with_name("gunicorn.conf.py")
STOP_TIMEOUT_S = 30.0


def check_settings(settings: Settings, *, web: bool) -> None:
    """Raise ConfigError naming the first setting the App service cannot run without."""
    if web:
        from webhook.app import check_webhook_secret

        check_webhook_secret(settings.webhook_secret)
    if not settings.github_app_id:
        raise ConfigError(
            "REVIEWER_GITHUB_APP_ID is not set (the App's numeric id)",
            key="REVIEWER_GITHUB_APP_ID",
        )
    if not settings.github_app_id.strip().isdigit():
        raise ConfigError(
            "REVIEWER_GITHUB_APP_ID must be the App's numeric id", key="REVIEWER_GITHUB_APP_ID"
        )
    key = settings.github_private_key or ""
    if "PRIVATE KEY-----" not in key:
        raise ConfigError(
            "REVIEWER_GITHUB_PRIVATE_KEY (PEM text) or REVIEWER_GITHUB_PRIVATE_KEY_PATH is "
            "missing or is not a PEM private key",
            key="REVIEWER_GITHUB_PRIVATE_KEY",
        )
    if not settings.anthropic_api_key:
        raise ConfigError("ANTHROPIC_API_KEY is not set", key="ANTHROPIC_API_KEY")
    check_operator_config(settings)


def check_operator_config(settings: Settings) -> None:
    """Fail at start-up, not on the first review: the model's price, the org defaults file."""
    from reviewer.claude.models import check_models
    from reviewer.config.effective import operator_policy, resolve
    from reviewer.spend.pricing import PriceTable

    prices = PriceTable.load(settings.prices_path)
    config = resolve(operator_policy(settings))
    models = [settings.model, config.model, *(r.model for r in config.config.model.routing)]
    # UnknownModelError names a model without a price; a retiring one is warned about.
    for warning in check_models([*models, settings.fallback_model], prices):
        click.echo(f"reviewer: warning: {warning}", err=True)


def check_services(settings: Settings) -> None:
    """Open the queue, the delivery store and the ledger once; ConfigError if one cannot be."""
    from reviewer.spend.ledger import Ledger
    from webhook.jobs import JobQueue

    name = "REVIEWER_REDIS_URL" if settings.redis_url else "REVIEWER_DATA_DIR"
    try:
        JobQueue(settings).ping()
    except ReviewerError:
        raise
    except Exception as exc:
        raise ConfigError(f"{name}: the job queue cannot be reached: {exc}", key=name) from exc
    try:
        Ledger.open(settings.ledger_url).close()
    except ReviewerError as exc:
        name = "REVIEWER_DATABASE_URL" if settings.database_url else "REVIEWER_DATA_DIR"
        raise ConfigError(f"{name}: {exc.message}", key=name) from exc


def _load(*, web: bool) -> Settings:
    try:
        settings = Settings.from_env()
        check_settings(settings, web=web)
        check_services(settings)
    except ReviewerError as exc:
        fail(exc)
    return settings


@click.command()
@click.option("--workers", type=click.IntRange(min=1), help="Jobs run at once [REVIEWER_WORKERS].")
def worker(workers: int | None) -> None:
    """Run the review queue's worker until SIGINT or SIGTERM."""
    from webhook.jobs import JobQueue, run_worker
    from webhook.logging import configure_logging

    settings = _load(web=False)
    configure_logging(settings)
    run_worker(JobQueue(settings), workers=workers)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--web-workers", type=click.IntRange(min=1), help="gunicorn workers [one per core].")
@click.option("--workers", type=click.IntRange(min=1), help="Jobs run at once [REVIEWER_WORKERS].")
def serve(host: str, port: int, web_workers: int | None, workers: int | None) -> None:
    """Serve the GitHub App: gunicorn for the webhook plus one queue worker."""
    _load(web=True)
    web_cmd = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF)]
    web_cmd += ["--bind", f"{host}:{port}"]
    if web_workers:
        web_cmd += ["--workers", str(web_workers)]
    worker_cmd = [sys.executable, "-m", "webhook.cli", "worker"]
    if workers:
        worker_cmd += ["--workers", str(workers)]
    sys.exit(supervise([web_cmd, worker_cmd]))


def supervise(commands: list[list[str]]) -> int:
    """Run `commands` together until SIGINT/SIGTERM or until one exits; stop the others."""
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # Own sessions: a terminal's Ctrl-C reaches only this supervisor, which stops each
    # child in the right way (SIGTERM: gunicorn drains, the worker hands jobs back).
    children = [subprocess.Popen(cmd, start_new_session=True) for cmd in commands]
    names = {child.pid: cmd[2] for child, cmd in zip(children, commands, strict=True)}
    code = 0
    try:
        while not stopping:
            exited = [c for c in children if c.poll() is not None]
            if exited:
                code = exited[0].returncode or 1
                name = names[exited[0].pid]
                click.echo(f"reviewer: {name} exited ({code}); stopping the others", err=True)
                break
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in children:
            try:
                child.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


@click.group()
def cli() -> None:
    """The App service's commands (also `reviewer serve` and `reviewer worker`)."""


cli.add_command(serve)
cli.add_command(worker)

if __name__ == "__main__":
    cli()
