"""`reviewer config check` and `reviewer config show`: validate and explain the configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from reviewer.cli.exit import fail
from reviewer.config.effective import resolve
from reviewer.config.repo import read_config_file
from reviewer.config.schema import CONFIG_PATH, RepoConfig
from reviewer.errors import ConfigError
from reviewer.settings import Settings


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"command line: --set {pair!r}: expected KEY=VALUE", key=key or None)
        try:
            overrides[key.strip()] = yaml.safe_load(raw)  # "5" → 5, "true" → True, "[a]" → list
        except yaml.YAMLError as exc:
            raise ConfigError(f"command line: --set {pair!r}: cannot read the value") from exc
    return overrides


@click.group("config")
def config_group() -> None:
    """Check and show the per-repository configuration (.github/reviewer.yml)."""


@config_group.command("check")
@click.argument("path", required=False, default=CONFIG_PATH)
def check(path: str) -> None:
    """Validate PATH (default .github/reviewer.yml); exit 2 with the first problem."""
    try:
        repo = read_config_file(path)
        _check_models(repo, path, Settings.from_env())
    except ConfigError as exc:
        fail(exc, prefix="")
    click.echo(f"{path}: OK")


def _check_models(repo: RepoConfig, path: str, settings: Settings) -> None:
    """Refuse a model id the price table lacks: the review would refuse it anyway."""
    from reviewer.spend.pricing import PriceTable

    prices = PriceTable.load(settings.prices_path)
    named = [("model.default", repo.model.default)]
    named += [(f"model.routing[{i}].model", r.model) for i, r in enumerate(repo.model.routing)]
    for key, model in named:
        if model is None:
            continue
        try:
            prices.price(model)  # an alias the table resolves is fine
        except ConfigError as exc:
            raise ConfigError(f"{path}: {key}: {exc.message}", key=key, path=path) from exc


@config_group.command("show")
@click.option(
    "--config",
    "config_path",
    default=None,
    help="Repository file to apply (default: .github/reviewer.yml here, if present).",
)
@click.option(
    "--set",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Command-line override of one dotted key, e.g. output.max_comments=5.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def show(config_path: str | None, pairs: tuple[str, ...], fmt: str) -> None:
    """Print the effective configuration and where each value came from."""
    try:
        settings = Settings.from_env()
        path = config_path
        if path is None and Path(CONFIG_PATH).is_file():
            path = CONFIG_PATH
        repo = read_config_file(path) if path is not None else None
        effective = resolve(settings, repo, _parse_overrides(pairs))
    except ConfigError as exc:
        fail(exc, prefix="")
    if fmt == "json":
        data = {"file": path, **effective.as_dict()}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"Repository file: {path or 'none (defaults and operator settings only)'}")
    rows = effective.rows()
    width = max(len(key) for key, _, _ in rows)
    for key, value, source in rows:
        click.echo(f"{key:<{width}}  {source:<12}  {value}")
    for notice in effective.notices:
        click.echo(f"note: {notice}")


config = config_group  # the name `reviewer.cli.main` registers as `reviewer config`
