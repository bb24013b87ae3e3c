"""The Grafana dashboard and the Prometheus alerts query only series `/metrics` exports."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.paths import ROOT
from webhook import metrics

DASHBOARD = ROOT / "docs" / "grafana" / "reviewer.json"
ALERTS = ROOT / "docs" / "prometheus-alerts.yml"

# PromQL words that look like names: functions are followed by "(", these are not.
KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
     "bool", "offset", "inf", "nan"}
)  # fmt: skip
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?[smhdwy]?\b", "", text)  # numbers, durations
    names = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end() :].lstrip()
        word = match.group()
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def exported() -> set[str]:
    """Every sample name `/metrics` can carry: each family, and a histogram's three series."""
    names = set()
    for family, (kind, _) in metrics.HELP.items():
        names.add(family)
        if kind == "histogram":
            names |= {f"{family}_bucket", f"{family}_sum", f"{family}_count"}
    return names


def dashboard_exprs() -> list[tuple[str, str]]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def alert_exprs() -> list[tuple[str, str]]:
    rules: dict[str, Any] = yaml.safe_load(ALERTS.read_text())
    return [(rule["alert"], rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def test_the_extractor_finds_names_and_skips_the_rest() -> None:
    expr = (
        'histogram_quantile(0.95, max by (le) (rate(a_bucket{x="y z",b=~"c|d"}[5m])))'
        " / on(job) group_left b_total offset 1h and c > bool 2e-3"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}
    assert metric_names("max(reviewer_jobs{state='q'}) > 20") == {"reviewer_jobs"}


@pytest.mark.parametrize(
    ("source", "exprs"), [("dashboard", dashboard_exprs), ("alerts", alert_exprs)]
)
def test_every_query_names_a_metric_the_app_exports(source: str, exprs: Any) -> None:
    found = exprs()
    assert found, f"the {source} has no queries"
    for title, expr in found:
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr!r}"
        assert names <= exported(), f"{title}: {sorted(names - exported())} not exported"


def test_the_dashboard_covers_what_operators_watch() -> None:
    used = set().union(*(metric_names(expr) for _, expr in dashboard_exprs()))
    titles = {title for title, _ in dashboard_exprs()}
    assert {
        metrics.JOBS_FINISHED, f"{metrics.DURATION}_bucket", metrics.JOBS, metrics.COST,
        metrics.JOB_RETRIES, metrics.BUDGET_STOPS, metrics.CHUNKS,
    } <= used  # fmt: skip
    assert {"Reviews by outcome", "Review latency", "Queue depth", "Errors"} <= titles
    alerts = {name for name, _ in alert_exprs()}
    assert {"ReviewerQueueGrowing", "ReviewerBudgetExhausted", "ReviewerErrorRate"} <= alerts


def test_every_exported_family_is_documented() -> None:
    doc = (ROOT / "docs" / "app.md").read_text()
    for family in metrics.HELP:
        assert f"`{family}" in doc, family
