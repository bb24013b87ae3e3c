"""`reviewer eval` end to end: the real SDK against the fake Messages API, scripted per case."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reviewer.cli.main import main
from reviewer.model import ReviewRequest
from reviewer.settings import Settings
from reviewer.spend.ledger import Ledger
from tests.fakes.messages_server import FAKE_API_KEY, Answer, FakeMessages, findings_answer
from tests.services import review_with

MODELS = "claude-haiku-4-5,claude-sonnet-4-6"
USAGE = {"input_tokens": 1000, "output_tokens": 100}
# Per call: haiku-4-5 $1 + $5 per million, sonnet-4-6 $3 + $15 per million.
CALL_COST = {"claude-haiku-4-5": Decimal("0.0015"), "claude-sonnet-4-6": Decimal("0.0045")}


def _new_file(path: str, lines: int) -> str:
    body = "".join(f"+    value_{i} = compute({i})\n" for i in range(1, lines + 1))
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
        f"@@ -0,0 +1,{lines} @@\n{body}"
    )


CASES = {
    # alpha: two labels in app.py; util.py is changed too, to cite "the same line, other file".
    "py-alpha": (
        _new_file("alpha/app.py", 25) + _new_file("alpha/util.py", 12),
        "[{path: alpha/app.py, line: 10, class: off-by-one},"
        " {path: alpha/app.py, line: 20, class: injection}]",
    ),
    "py-beta": (_new_file("beta/worker.py", 12), "[{path: beta/worker.py, line: 5, class: race}]"),
    "py-clean-gamma": (_new_file("gamma/docs.py", 12), "[]"),
}


def _finding(path: str, line: int, title: str) -> dict[str, Any]:
    return {
        "path": path, "line": line, "side": "RIGHT", "severity": "major", "category": "bug",
        "title": title, "body": "Explained.",
    }  # fmt: skip


ANSWERS = {
    "alpha/app.py": [
        _finding("alpha/app.py", 12, "two lines after the first label"),  # counts
        _finding("alpha/app.py", 9, "one line before the first label"),  # same label: once
        _finding("alpha/app.py", 17, "three lines before the second label"),  # false
        _finding("alpha/util.py", 10, "same line, other file"),  # false
    ],
    "beta/worker.py": [_finding("beta/worker.py", 3, "two lines before")],  # counts
    "gamma/docs.py": [_finding("gamma/docs.py", 4, "noise on a clean change")],  # false
}


def _write_dataset(root: Path) -> Path:
    root.mkdir()
    for name, (diff, labels) in CASES.items():
        (root / f"{name}.diff").write_text(diff)
        (root / f"{name}.yaml").write_text(
            f"language: python\ndescription: {name}\nlabels: {labels}\n"
        )
    return root


def _respond(body: dict[str, Any]) -> Answer:
    text = json.dumps(body["messages"])
    [path] = [p for p in ANSWERS if p in text]
    return findings_answer(ANSWERS[path], usage=USAGE)


def _invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["eval", *args], env=env)


@pytest.mark.parametrize("parallel", ["1", "3"])
def test_eval_scores_each_model_exactly_and_records_its_spend(
    fake_claude: FakeMessages, tmp_path: Path, parallel: str
) -> None:
    fake_claude.responder = _respond
    dataset = _write_dataset(tmp_path / "team-cases")
    env = {"ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": fake_claude.base_url}
    result = _invoke(
        "--dataset", str(dataset), "--models", MODELS, "--format", "json",
        "--parallel", parallel, env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["dataset"] == {
        "name": "team-cases", "repo": "eval/team-cases", "cases": 3, "buggy": 2, "clean": 1,
    }  # fmt: skip
    assert [r["model"] for r in out["runs"]] == MODELS.split(",")
    assert sorted(r["model"] for r in fake_claude.requests) == sorted(MODELS.split(",") * 3)
    for run in out["runs"]:
        call = CALL_COST[run["model"]]
        seconds = run.pop("seconds")
        assert isinstance(seconds, float) and seconds >= 0
        cases = run.pop("cases")
        assert run == {
            "model": run["model"], "mode": "realtime",
            "recall": 0.6667, "labels": 3, "found": 2,
            "precision": 0.6, "findings_on_buggy": 5, "false_on_buggy": 2,
            "clean": 1, "false_on_clean": 1, "false_per_clean": 1.0,
            "cost_usd": float(3 * call), "cost_per_change_usd": float(call),
            "errors": 0,
            "recall_by_class": {
                "injection": {"found": 0, "labels": 1},
                "off-by-one": {"found": 1, "labels": 1},
                "race": {"found": 1, "labels": 1},
            },
            "recall_by_language": {"python": {"found": 2, "labels": 3}},
        }  # fmt: skip
        by_case = {c.pop("case"): c for c in cases}
        for case in by_case.values():
            assert case.pop("seconds") >= 0
        assert by_case == {
            "py-alpha": {"labels": 2, "found": 1, "findings": 4, "false_findings": 2,
                         "missed": ["injection"], "cost_usd": float(call), "error": None},
            "py-beta": {"labels": 1, "found": 1, "findings": 1, "false_findings": 0,
                        "missed": [], "cost_usd": float(call), "error": None},
            "py-clean-gamma": {"labels": 0, "found": 0, "findings": 1, "false_findings": 1,
                               "missed": [], "cost_usd": float(call), "error": None},
        }  # fmt: skip
    # Every call is in the ledger, under the dataset's name, like any review's.
    ledger = Ledger.open(Settings.from_env().ledger_url)
    try:
        rows = ledger.report(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    finally:
        ledger.close()
    assert {r.key for r in rows} == {"eval/team-cases"}
    assert sum(r.calls for r in rows) == 6
    assert sum(r.cost_usd for r in rows) == 3 * sum(CALL_COST.values())


def test_eval_table_names_each_model_and_what_it_missed(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    fake_claude.responder = _respond
    dataset = _write_dataset(tmp_path / "team-cases")
    env = {"ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": fake_claude.base_url}
    result = _invoke("--dataset", str(dataset), "--cases", "py-a*", env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "MODE", "RECALL", "PRECISION", "FALSE/CLEAN",
                                "COST/CHANGE", "COST", "WALL", "ERRORS"]  # fmt: skip
    row = lines[1].split()
    assert row[:7] == ["claude-sonnet-4-6", "realtime", "50%", "(1/2)", "50%", "-", "$0.0045"]
    assert "  claude-sonnet-4-6: py-alpha missed injection" in lines
    assert len(fake_claude.requests) == 1  # --cases kept py-alpha only


def test_batch_mode_sends_every_case_as_a_batch_and_scores_it_the_same_at_half_price(
    fake_claude: FakeMessages, tmp_path: Path
) -> None:
    fake_claude.responder = _respond
    dataset = _write_dataset(tmp_path / "team-cases")
    env = {
        "ANTHROPIC_API_KEY": FAKE_API_KEY,
        "ANTHROPIC_BASE_URL": fake_claude.base_url,
        "REVIEWER_BATCH_POLL_S": "0.001",
    }
    result = _invoke(
        "--dataset", str(dataset), "--models", MODELS, "--batch", "--format", "json", env=env
    )
    assert result.exit_code == 0, result.output
    assert fake_claude.requests == []  # nothing in real time
    assert len(fake_claude.batches) == 6  # one batch per case and model, as `review --batch`
    for run in json.loads(result.stdout)["runs"]:
        half = CALL_COST[run["model"]] / 2
        assert run["mode"] == "batch"
        assert (run["recall"], run["precision"], run["false_per_clean"]) == (0.6667, 0.6, 1.0)
        assert (run["cost_usd"], run["cost_per_change_usd"]) == (float(3 * half), float(half))
        assert {c["case"]: c["found"] for c in run["cases"]} == {
            "py-alpha": 1, "py-beta": 1, "py-clean-gamma": 0,
        }  # fmt: skip
    ledger = Ledger.open(Settings.from_env().ledger_url)
    try:
        rows = ledger.report(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    finally:
        ledger.close()
    assert {r.key for r in rows} == {"eval/team-cases"}
    assert sum(r.cost_usd for r in rows) == 3 * sum(CALL_COST.values()) / 2


def test_batch_dry_run_is_half_the_real_time_estimate(tmp_path: Path) -> None:
    dataset = str(_write_dataset(tmp_path / "team-cases"))
    args = ("--dataset", dataset, "--models", MODELS, "--dry-run", "--format", "json")
    realtime = json.loads(_invoke(*args).stdout)["estimates"]
    batch = json.loads(_invoke(*args, "--batch").stdout)["estimates"]
    for now, later in zip(realtime, batch, strict=True):
        assert (now["mode"], later["mode"]) == ("realtime", "batch")
        assert later["input_tokens"] == now["input_tokens"] and later["calls"] == now["calls"]
        assert later["cost_usd"] == pytest.approx(now["cost_usd"] / 2, abs=1e-6)


def test_dry_run_prints_each_model_estimate_with_no_key_and_no_spend(tmp_path: Path) -> None:
    dataset = _write_dataset(tmp_path / "team-cases")
    result = _invoke("--dataset", str(dataset), "--models", MODELS, "--dry-run", "--format",
                     "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    settings = Settings.from_env()
    for model, estimate in zip(MODELS.split(","), out["estimates"], strict=True):
        plans = [
            review_with(ReviewRequest("eval/team-cases", diff_text=diff, model=model,
                                      dry_run=True), settings)
            for diff, _ in CASES.values()
        ]  # fmt: skip
        cost = sum((p.estimated_cost_usd for p in plans), Decimal(0))
        assert estimate == {
            "model": model, "mode": "realtime", "cases": 3,
            "calls": sum(len(p.chunks) for p in plans),
            "input_tokens": sum(p.estimated_input_tokens for p in plans),
            "cost_usd": float(cost.quantize(Decimal("0.000001"))),
            "cost_per_change_usd": float((cost / 3).quantize(Decimal("0.000001"))),
        }  # fmt: skip
        assert estimate["cost_usd"] > 0
    haiku, sonnet = out["estimates"]
    assert sonnet["cost_usd"] > haiku["cost_usd"]  # same tokens, dearer model
    assert not settings.data_dir.exists()  # no ledger opened, nothing written


def test_dry_run_table_of_the_shipped_dataset() -> None:
    result = _invoke("--dry-run", "--models", "claude-haiku-4-5")
    assert result.exit_code == 0, result.output
    assert "Dataset builtin:" in result.stdout and "no model was called" in result.stdout
    assert result.stdout.splitlines()[2].split()[0] == "claude-haiku-4-5"


def test_unknown_model_and_bad_dataset_are_clear_errors(tmp_path: Path) -> None:
    unknown = _invoke("--dry-run", "--models", "claude-nonesuch-1")
    assert unknown.exit_code == 2 and "claude-nonesuch-1" in unknown.stderr
    missing = _invoke("--dataset", str(tmp_path / "nope"), "--dry-run")
    assert missing.exit_code == 2 and "not a dataset directory" in missing.stderr


def test_a_real_run_without_a_key_is_a_clear_error(tmp_path: Path) -> None:
    result = _invoke("--dataset", str(_write_dataset(tmp_path / "cases")))
    assert result.exit_code == 2 and "ANTHROPIC_API_KEY" in result.stderr


def test_a_team_config_applies_to_every_case(fake_claude: FakeMessages, tmp_path: Path) -> None:
    fake_claude.responder = _respond
    dataset = _write_dataset(tmp_path / "team-cases")
    config = tmp_path / "reviewer.yml"
    config.write_text("output:\n  min_severity: critical\n")  # the scripted findings are major
    env = {"ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": fake_claude.base_url}
    result = _invoke("--dataset", str(dataset), "--config", str(config), "--format", "json",
                     env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout)["runs"]
    assert (run["found"], run["findings_on_buggy"], run["false_on_clean"]) == (0, 0, 0)
    assert len(fake_claude.requests) == 3  # reviewed and paid for, then filtered
