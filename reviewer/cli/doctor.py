"""`reviewer doctor`: check a deployment against the real services before the first pull request."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import click

from reviewer.config.checks import check_settings, configured_models
from reviewer.core.checks import (
    Check,
    counts,
    exit_code,
    fail,
    redact,
    redact_check,
    secret_fragments,
    skip,
)
from reviewer.core.summary import plural
from reviewer.errors import ReviewerError
from reviewer.settings import PREFIX, Settings, prefixed_environ, secret_fields

Say = Callable[[str], None]
# Variables outside REVIEWER_* whose values are secrets too.
_SDK_SECRETS = ("ANTHROPIC_API_KEY", "GITHUB_TOKEN")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--offline", is_flag=True, help="Run only the checks that need no network.")
@click.option(
    "--batch", is_flag=True, help="Also run a one-request Message Batch (it can take minutes)."
)
@click.option(
    "--batch-timeout",
    type=click.IntRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds to wait for the batch before canceling it.",
)
def doctor(fmt: str, offline: bool, batch: bool, batch_timeout: int) -> None:
    """Check settings, Anthropic, GitHub, the ledger and Redis; exit 1 if a check fails."""
    if offline and batch:
        raise click.UsageError("--batch needs the network: leave out --offline")
    environ = prefixed_environ()
    try:  # loaded here too, so that progress lines hide secrets read from *_FILE files
        fragments = _fragments(environ, Settings.from_env())
    except ReviewerError:
        fragments = _fragments(environ, None)

    def say(message: str) -> None:
        click.echo(f"reviewer doctor: {redact(message, fragments)}", err=True)

    checks, settings = run_checks(
        Settings.from_env, environ, offline=offline, batch=batch, batch_timeout_s=batch_timeout,
        say=say,
    )  # fmt: skip
    fragments = _fragments(environ, settings)
    checks = [redact_check(c, fragments) for c in checks]
    if fmt == "json":
        click.echo(render_json(checks, offline=offline))
    else:
        click.echo(render_text(checks))
    sys.exit(exit_code(checks))


def _fragments(environ: dict[str, str], settings: Settings | None) -> tuple[str, ...]:
    """Every secret value there is, from the settings and from the raw variables."""
    secret_names = {PREFIX + name.upper() for name in secret_fields()} | set(_SDK_SECRETS)
    values: list[str | None] = [v for k, v in environ.items() if k in secret_names]
    if settings is not None:
        values.extend(getattr(settings, name) for name in secret_fields())
    for value in list(values):
        if value and "://" in value:
            try:
                values.append(urlsplit(value).password)
            except ValueError:
                continue
    return secret_fragments(values)


def run_checks(
    load: Callable[[], Settings],
    environ: dict[str, str],
    *,
    offline: bool,
    batch: bool,
    batch_timeout_s: float,
    say: Say,
    now: datetime | None = None,
) -> tuple[list[Check], Settings | None]:
    """Every check in order: settings, Anthropic, GitHub, storage and queue."""
    report = check_settings(load, environ)
    checks = list(report.checks)
    settings = report.settings
    if settings is None:
        checks.extend(
            skip(f"{group}.all", "not checked: the settings did not load")
            for group in ("anthropic", "github", "spend", "queue")
        )
        return checks, None
    models = configured_models(settings, report.config)
    budget = settings.monthly_budget_usd
    if report.config is not None and report.config.config.budget.monthly_usd is not None:
        budget = report.config.config.budget.monthly_usd
    groups: Sequence[tuple[str, Callable[[], list[Check]]]] = (
        ("anthropic", lambda: _anthropic(settings, models, offline, batch, batch_timeout_s, say)),
        ("github", lambda: _github(settings, offline, say)),
        ("spend", lambda: _spend(settings, offline, budget, now or datetime.now(UTC))),
        ("queue", lambda: _queue(settings, offline)),
    )
    for group, run in groups:
        try:
            checks.extend(run())
        except Exception as exc:  # a check that breaks is a failed check, not a traceback
            checks.append(
                fail(f"{group}.error", f"{type(exc).__name__}: {exc}", "report this as a bug")
            )
    return checks, settings


def _anthropic(
    settings: Settings,
    models: dict[str, str],
    offline: bool,
    batch: bool,
    timeout_s: float,
    say: Say,
) -> list[Check]:
    from reviewer.claude.doctor import (
        AnthropicDoctor,
        cheapest,
        offline_model_check,
        offline_skips,
    )
    from reviewer.spend.pricing import PriceTable

    try:
        prices = PriceTable.load(settings.prices_path)
    except ReviewerError as exc:
        return [fail("anthropic.prices", exc.message, "correct REVIEWER_PRICES_PATH's file")]
    today = datetime.now(UTC).date()
    if offline:
        checks = [offline_model_check(m, r, prices, today) for m, r in models.items()]
        return [*offline_skips(batch), *checks]
    from reviewer.claude.client import make_client
    from reviewer.claude.probe import Probe

    say("asking the Anthropic API about the key and the models")
    client = make_client(settings)
    try:
        doctor = AnthropicDoctor(client, prices, today=today)
        key = doctor.key()
        if key.status == "fail":
            checks = [offline_model_check(m, r, prices, today) for m, r in models.items()]
            rest = [
                skip(c.name, "not checked: the key does not work") for c in offline_skips(batch)
            ]
            return [key, *checks, *rest[1:]]
        checks = [key, *(doctor.model(m, r) for m, r in models.items())]
        usable = {m: r for m, r in models.items() if _passed(checks, f"anthropic.model.{m}")}
        model = cheapest(usable, prices)
        if model is None:
            names = ["anthropic.call", "anthropic.count_tokens", *(["anthropic.batch"] * batch)]
            reason = "not checked: no configured model is usable"
            return [*checks, *(skip(n, reason) for n in names)]
        probe = Probe(
            client,
            prices,
            max_output_tokens=settings.max_output_tokens,
            max_chunk_tokens=settings.max_chunk_tokens,
            effort=settings.effort,
            say=say,
        )
        checks.append(probe.call(model))
        checks.append(probe.count_tokens(model))
        if batch:
            checks.append(probe.batch(model, timeout_s))
        return checks
    finally:
        client.close()


def _passed(checks: list[Check], name: str) -> bool:
    return any(c.name == name and c.status != "fail" for c in checks)


def _github(settings: Settings, offline: bool, say: Say) -> list[Check]:
    if offline:
        return [skip("github.auth", "--offline: not checked")]
    from reviewer.github.doctor import GitHubDoctor

    say(f"asking GitHub at {settings.github_api_url} about the credentials")
    return GitHubDoctor(settings).run()


def _spend(settings: Settings, offline: bool, budget: Decimal | None, now: datetime) -> list[Check]:
    if offline and settings.database_url:
        from reviewer.spend.doctor import journal_check

        return [
            skip("spend.ledger", "--offline: the ledger database is not checked"),
            journal_check(settings.journal_path, ledger_reachable=False),
        ]
    from reviewer.spend.doctor import journal_check, ledger_checks

    checks = ledger_checks(settings.ledger_url, monthly_budget_usd=budget, now=now)
    reachable = checks[0].status == "ok"
    return [*checks, journal_check(settings.journal_path, ledger_reachable=reachable)]


def _queue(settings: Settings, offline: bool) -> list[Check]:
    if offline and settings.redis_url:
        return [skip("queue.redis", "--offline: Redis is not checked")]
    from webhook.doctor import redis_check  # the App service's own check (entry points meet)

    return [redis_check(settings)]


# -- output ------------------------------------------------------------------------------------

_LABELS = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def render_text(checks: Sequence[Check]) -> str:
    """One line per check, a `fix:` line under each warning and failure, then the totals."""
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for check in checks:
        lines.append(f"{_LABELS[check.status]:<5} {check.name:<{width}}  {check.found}")
        if check.fix and check.status in ("warn", "fail"):
            lines.append(f"{'':<5} {'':<{width}}  fix: {check.fix}")
    n = counts(checks)
    lines.append("")
    lines.append(
        f"{n['ok']} ok, {plural(n['warn'], 'warning')}, {plural(n['fail'], 'failure')}, "
        f"{n['skip']} skipped"
    )
    return "\n".join(lines)


def render_json(checks: Sequence[Check], *, offline: bool) -> str:
    """{"ok", "exit_code", "offline", "counts", "checks": [{name, group, status, found, fix}]}."""
    code = exit_code(checks)
    document = {
        "ok": code == 0,
        "exit_code": code,
        "offline": offline,
        "counts": counts(checks),
        "checks": [c.to_dict() for c in checks],
    }
    return json.dumps(document, indent=2)
