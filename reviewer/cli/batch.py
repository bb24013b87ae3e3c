"""`reviewer batch status|collect|cancel ID`: finish a review sent with `review --batch`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from reviewer.cli.exit import fail
from reviewer.cli.main import progress
from reviewer.cli.render import render_json, render_text
from reviewer.errors import ConfigError, ReviewerError
from reviewer.settings import Settings

if TYPE_CHECKING:
    from reviewer.review.ports import BatchJobInfo, BatchModelRunner, ReviewServices


@click.group("batch")
def batch() -> None:
    """Watch, collect or cancel a review sent as a Message Batch (ID: job key or batch id)."""


@batch.command("status")
@click.argument("job_id")
def status(job_id: str) -> None:
    """Print the job's state and its current batch's progress."""
    from reviewer.services import open_services

    try:
        with open_services(Settings.from_env()) as services:
            runner, job = _find_job(services, job_id)
            line = f"job {job.key}: {job.status}, round {job.round}, {job.requests} requests"
            if job.status in ("submitted", "collecting"):
                now = runner.status(job.key)
                line += (
                    f"; batch {', '.join(now.batch_ids)} {now.status}, "
                    f"{now.total - now.processing} of {now.total} done"
                )
    except ReviewerError as exc:
        fail(exc)
    click.echo(line)


@batch.command("collect")
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Poll until the batch ends, then publish.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def collect(job_id: str, wait: bool, fmt: str) -> None:
    """Publish the review of an ended batch, as `reviewer review` would have."""
    from reviewer.review.collect import collect_batch
    from reviewer.services import open_services

    try:
        with open_services(Settings.from_env()) as services:
            result = collect_batch(job_id, services, progress=progress, wait=wait)
    except ReviewerError as exc:
        fail(exc)
    click.echo(render_json(result) if fmt == "json" else render_text(result), nl=fmt == "json")


@batch.command("cancel")
@click.argument("job_id")
def cancel(job_id: str) -> None:
    """Cancel what the batch has not processed yet; what it did is still billed."""
    from reviewer.services import open_services

    try:
        with open_services(Settings.from_env()) as services:
            runner, job = _find_job(services, job_id)
            now = runner.cancel(job.key)
    except ReviewerError as exc:
        fail(exc)
    click.echo(f"job {job.key}: cancel requested; batch {', '.join(now.batch_ids)} {now.status}")


def _find_job(services: ReviewServices, job_id: str) -> tuple[BatchModelRunner, BatchJobInfo]:
    """The batch runner and the job with this key or batch id; a ConfigError if none."""
    runner = services.batch_runner(services.settings.model)
    job = runner.job(job_id)
    if job is None:
        raise ConfigError(f"no batch job or batch {job_id!r} in the ledger database")
    return runner, job
