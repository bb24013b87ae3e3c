"""`reviewer eval`: how well, and at what price, each model finds the bugs of a dataset."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from reviewer.cli.exit import fail
from reviewer.core.scoring import CaseScore, Summary
from reviewer.core.text import format_usd
from reviewer.errors import ConfigError, ReviewerError
from reviewer.review.evaluate import (
    BUILTIN_DATASET,
    Dataset,
    EvalMode,
    ModelEstimate,
    ModelReport,
    estimate,
    evaluate,
    load_dataset,
)
from reviewer.services import open_services
from reviewer.settings import Settings


@click.command("eval")
@click.option(
    "--models",
    help="Comma-separated model ids to compare (default: the configured model).",
)
@click.option(
    "--dataset",
    "dataset_path",
    type=click.Path(file_okay=False, path_type=Path),
    help="A directory of cases (NAME.yaml + NAME.diff); default: the shipped dataset.",
)
@click.option("--cases", "pattern", help="Only the cases whose name matches this glob.")
@click.option("--config", "config_path", help="A reviewer.yml to apply to every case.")
@click.option(
    "--batch",
    is_flag=True,
    help="Send each case as a Message Batch (half price) and wait for it.",
)
@click.option(
    "--parallel",
    type=click.IntRange(1, 256),
    help="Cases reviewed at once (default: 1; with --batch, every case).",
)
@click.option("--dry-run", is_flag=True, help="Print what the run would cost; call no model.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def eval_command(
    models: str | None,
    dataset_path: Path | None,
    pattern: str | None,
    config_path: str | None,
    batch: bool,
    parallel: int | None,
    dry_run: bool,
    fmt: str,
) -> None:
    """Review a dataset of labelled changes with each model and report recall, noise and cost."""
    try:
        settings = Settings.from_env()
        names = _models(models, settings)
        dataset = load_dataset(dataset_path or BUILTIN_DATASET, pattern)
        # Opened once for the whole run: one ledger and one SDK client serve every case, and
        # a dry run opens neither.
        mode: EvalMode = "batch" if batch else "realtime"
        if parallel is None:
            # A batch case mostly waits for its batch: all of them can wait together.
            parallel = len(dataset.cases) if batch else 1
        with open_services(settings) as services:
            if dry_run:
                estimates = estimate(dataset, names, services, mode=mode, config_path=config_path)
            else:
                reports = evaluate(
                    dataset,
                    names,
                    services,
                    mode=mode,
                    config_path=config_path,
                    parallel=parallel,
                    progress=_progress,
                )
    except ReviewerError as exc:
        fail(exc)
    if dry_run:
        text = _estimates_json(dataset, estimates) if fmt == "json" else None
        click.echo(text or _estimates_table(dataset, estimates))
        return
    click.echo(_reports_json(dataset, reports) if fmt == "json" else _reports_table(reports))


def _progress(message: str) -> None:
    click.echo(f"reviewer: {message}", err=True)


def _models(option: str | None, settings: Settings) -> list[str]:
    if option is None:
        return [settings.model]
    names = [m.strip() for m in option.split(",") if m.strip()]
    if not names:
        raise ConfigError("--models needs at least one model id")
    return list(dict.fromkeys(names))


def _usd(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.000001")))


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _dataset_json(dataset: Dataset) -> dict[str, Any]:
    clean = sum(c.clean for c in dataset.cases)
    return {
        "name": dataset.name,
        "repo": dataset.repo,
        "cases": len(dataset.cases),
        "buggy": len(dataset.cases) - clean,
        "clean": clean,
    }


def _case_json(score: CaseScore) -> dict[str, Any]:
    return {
        "case": score.case,
        "labels": score.labels,
        "found": score.found,
        "findings": score.findings,
        "false_findings": score.false_findings,
        "missed": list(score.missed),
        "cost_usd": _usd(score.cost_usd),
        "seconds": round(score.seconds, 3),
        "error": score.error,
    }


def summary_json(s: Summary) -> dict[str, Any]:
    """The figures of one model and mode, as `--format json` prints them."""
    return {
        "model": s.model,
        "mode": s.mode,
        "cases": s.cases,
        "recall": _ratio(s.recall),
        "labels": s.labels,
        "found": s.found,
        "precision": _ratio(s.precision),
        "findings_on_buggy": s.findings_on_buggy,
        "false_on_buggy": s.false_on_buggy,
        "clean": s.clean,
        "false_on_clean": s.false_on_clean,
        "false_per_clean": _ratio(s.false_per_clean),
        "cost_usd": _usd(s.cost_usd),
        "cost_per_change_usd": _usd(s.cost_per_change),
        "seconds": round(s.seconds, 3),
        "errors": s.errors,
        "recall_by_class": {
            problem: {"found": found, "labels": total}
            for problem, (found, total) in s.recall_by_class.items()
        },
        "recall_by_language": {
            language: {"found": found, "labels": total}
            for language, (found, total) in s.recall_by_language.items()
        },
    }


def _reports_json(dataset: Dataset, reports: Sequence[ModelReport]) -> str:
    runs = [summary_json(r.summary) | {"cases": [_case_json(c) for c in r.cases]} for r in reports]
    return json.dumps({"dataset": _dataset_json(dataset), "runs": runs}, indent=2)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _table(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [headings, *rows]) for i in range(len(headings))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [headings, *rows]]  # fmt: skip
    return "\n".join(lines)


def _reports_table(reports: Sequence[ModelReport]) -> str:
    headings = ("MODEL", "MODE", "RECALL", "PRECISION", "FALSE/CLEAN", "COST/CHANGE", "COST",
                "WALL", "ERRORS")  # fmt: skip
    rows = []
    for r in reports:
        s = r.summary
        per_clean = "-" if s.false_per_clean is None else f"{s.false_per_clean:.2f}"
        rows.append((
            s.model, s.mode, f"{_percent(s.recall)} ({s.found}/{s.labels})",
            _percent(s.precision), per_clean, format_usd(s.cost_per_change),
            format_usd(s.cost_usd), f"{s.seconds:.0f}s", str(s.errors),
        ))  # fmt: skip
    missed = [
        f"  {r.summary.model}: {c.case} missed {', '.join(c.missed)}"
        + (f" ({c.error})" if c.error else "")
        for r in reports
        for c in r.cases
        if c.missed or c.error
    ]
    tail = "\n\nMissed or incomplete\n" + "\n".join(missed) if missed else ""
    return _table(headings, rows) + tail


def _estimates_json(dataset: Dataset, estimates: Sequence[ModelEstimate]) -> str:
    out = {
        "dataset": _dataset_json(dataset),
        "estimates": [
            {
                "model": e.model,
                "mode": e.mode,
                "cases": e.cases,
                "calls": e.calls,
                "input_tokens": e.input_tokens,
                "cost_usd": _usd(e.cost_usd),
                "cost_per_change_usd": _usd(e.cost_per_change),
            }
            for e in estimates
        ],
    }
    return json.dumps(out, indent=2)


def _estimates_table(dataset: Dataset, estimates: Sequence[ModelEstimate]) -> str:
    headings = ("MODEL", "MODE", "CASES", "CALLS", "INPUT TOKENS", "COST/CHANGE", "COST")
    rows = [
        (e.model, e.mode, str(e.cases), str(e.calls), f"{e.input_tokens:,}",
         format_usd(e.cost_per_change), format_usd(e.cost_usd))
        for e in estimates
    ]  # fmt: skip
    return (
        f"Dataset {dataset.name}: {len(dataset.cases)} cases (dry run: no model was called)\n"
        + _table(headings, rows)
    )
