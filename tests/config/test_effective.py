"""Tests for reviewer/effective_config.py: layers, locks, effective values, rendering."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reviewer.config.effective import EffectiveConfig, OperatorPolicy, operator_policy, resolve
from reviewer.config.repo import load_repo_config
from reviewer.config.schema import KEYS
from reviewer.core.findings import Severity
from reviewer.errors import ConfigError
from reviewer.settings import DEFAULT_MODEL, Settings
from tests.config.test_repo import FULL


def defaults() -> Settings:
    return Settings.from_env({})


def effective(text: str | None) -> EffectiveConfig:
    return resolve(Settings.from_env({}), load_repo_config(text))


# --- defaults ------------------------------------------------------------------------------


def test_defaults() -> None:
    eff = effective(None)
    config = eff.config
    assert config.review.auto is True
    assert config.review.events == ("opened", "reopened", "synchronize", "ready_for_review")
    assert config.review.drafts is False
    assert config.review.incremental is True
    assert config.review.command == "/review"
    assert config.paths.include == config.paths.exclude == ()
    assert config.paths.instructions == ()
    assert config.instructions == ""
    assert eff.model == DEFAULT_MODEL
    assert config.model.routing == ()
    assert config.output.min_severity is Severity.NIT
    assert config.output.max_comments == 30
    assert config.output.suggestions is True
    assert config.output.request_changes_on is None
    assert config.budget.monthly_usd is None
    assert config.budget.per_review_usd is None
    assert set(eff.sources.values()) == {"default"}


# --- applied through EffectiveConfig -------------------------------------------------------


def test_repository_values_are_applied() -> None:
    eff = effective(FULL)
    assert eff.config.instructions.startswith("We use tabs.")
    assert eff.sources["instructions"] == "repository"


@pytest.mark.parametrize(
    ("paths", "lines", "model"),
    [
        (["docs/guide.md", "README.md"], 500, "claude-haiku-4-5"),  # docs only: rule 1 (all)
        (["docs/guide.md", "src/app.py"], 500, "claude-opus-4-6"),  # not all docs: default
        (["src/security/auth.py", "src/app.py"], 500, "claude-opus-4-6-security"),  # any
        (["src/app.py"], 20, "claude-haiku-4-5-small"),  # max_changed_lines is inclusive
        (["src/app.py"], 21, "claude-opus-4-6"),
        (["src/app.py"], 2000, "claude-opus-4-6-huge"),  # min_changed_lines is inclusive
        (["src/security/x.py"], 5, "claude-opus-4-6-security"),  # first match wins
        ([], 500, "claude-opus-4-6"),  # no files: a path rule never matches
    ],
)
def test_routing(paths: list[str], lines: int, model: str) -> None:
    assert effective(FULL).choose_model(paths, lines) == model


def test_routing_rule_conditions_all_must_hold() -> None:
    text = """\
model:
  routing:
    - model: small-docs
      paths: ["docs/**"]
      max_changed_lines: 50
"""
    eff = effective(text)
    assert eff.choose_model(["docs/a.md"], 50) == "small-docs"
    assert eff.choose_model(["docs/a.md"], 51) == DEFAULT_MODEL
    assert eff.choose_model(["src/a.py"], 10) == DEFAULT_MODEL


def test_routing_without_model_default_uses_the_operators_model() -> None:
    text = "model:\n  default: null\n  routing:\n    - model: tiny\n      max_changed_lines: 1\n"
    eff = resolve(Settings.from_env({}, model="operator-model"), load_repo_config(text))
    assert eff.choose_model(["a.py"], 100) == "operator-model"
    assert eff.sources["model.default"] == "operator"
    assert eff.choose_model(["a.py"], 1) == "tiny"


def test_output_values() -> None:
    eff = effective(FULL)
    assert eff.config.output.max_comments == 12
    assert eff.config.output.suggestions is False
    assert eff.review_event([Severity.NIT, Severity.MINOR]) == "COMMENT"
    assert eff.review_event([Severity.MINOR, Severity.MAJOR]) == "REQUEST_CHANGES"
    assert eff.review_event([Severity.CRITICAL]) == "REQUEST_CHANGES"
    assert effective(None).review_event([Severity.CRITICAL]) == "COMMENT"  # default: never


def test_budgets_applied() -> None:
    eff = effective(FULL)
    assert eff.value("budget.monthly_usd") == Decimal(40)
    assert eff.value("budget.per_review_usd") == Decimal("1.25")


# --- precedence ----------------------------------------------------------------------------

LAYER_CASES = [
    # key, Settings field and value, repository text and value, command-line value
    ("output.max_comments", ("max_comments", 10), ("output:\n  max_comments: 5\n", 5), 2),
    ("review.drafts", ("review_drafts", True), ("review:\n  drafts: false\n", False), True),
    ("review.command", ("command", "/bot"), ("review:\n  command: /ai\n", "/ai"), "/cli"),
    ("model.default", ("model", "op"), ("model:\n  default: repo-model\n", "repo-model"), "x"),
]


@pytest.mark.parametrize(("key", "operator", "repo", "cli"), LAYER_CASES)
def test_precedence_of_the_four_layers(
    key: str, operator: tuple[str, object], repo: tuple[str, object], cli: object
) -> None:
    field_name, op_value = operator
    repo_text, repo_value = repo
    settings = Settings.from_env({}, **{field_name: op_value})
    repo_config = load_repo_config(repo_text)

    builtin = resolve(defaults(), None)
    assert builtin.sources[key] == "default"

    op = resolve(settings, None)
    assert (op.value(key), op.sources[key]) == (op_value, "operator")

    rep = resolve(settings, repo_config)
    assert (rep.value(key), rep.sources[key]) == (repo_value, "repository")

    cmd = resolve(settings, repo_config, {key: cli})
    assert (cmd.value(key), cmd.sources[key]) == (cli, "command line")


def test_repository_beats_defaults_for_keys_the_operator_has_not_set() -> None:
    eff = resolve(Settings.from_env({}, max_comments=10), load_repo_config(FULL))
    assert eff.sources["output.min_severity"] == "repository"
    assert eff.sources["review.incremental"] == "repository"
    assert eff.sources["output.max_comments"] == "repository"


def test_only_keys_written_in_the_file_override_the_operator() -> None:
    settings = Settings.from_env({}, max_comments=10)
    eff = resolve(settings, load_repo_config("output:\n  suggestions: false\n"))
    assert eff.value("output.max_comments") == 10
    assert eff.sources["output.max_comments"] == "operator"


def test_operator_value_equal_to_the_builtin_default_is_reported_as_default() -> None:
    eff = resolve(Settings.from_env({}, max_comments=30), None)
    assert eff.sources["output.max_comments"] == "default"


def test_settings_from_environment_are_the_operator_layer() -> None:
    settings = Settings.from_env({"REVIEWER_MONTHLY_BUDGET_USD": "75", "REVIEWER_MODEL": "m"})
    eff = resolve(settings, None)
    assert eff.value("budget.monthly_usd") == Decimal(75)
    assert eff.sources["budget.monthly_usd"] == "operator"
    assert eff.model == "m"


def test_operator_defaults_for_other_keys() -> None:
    org = {"paths.exclude": ["*.lock"], "instructions": "x"}
    policy = operator_policy(defaults(), defaults=org)
    eff = resolve(policy, None)
    assert eff.config.paths.exclude == ("*.lock",)
    assert eff.sources["paths.exclude"] == "operator"
    repo = resolve(policy, load_repo_config("paths:\n  exclude: [dist/]\n"))
    assert repo.config.paths.exclude == ("dist/",)  # a list replaces the lower layer's list


def test_invalid_operator_default_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^operator: output\.max_comments: expected an integer"):
        operator_policy(defaults(), defaults={"output.max_comments": "lots"})


def test_command_line_none_means_not_given() -> None:
    eff = resolve(defaults(), load_repo_config(FULL), {"model.default": None})
    assert eff.model == "claude-opus-4-6"
    assert eff.sources["model.default"] == "repository"


def test_command_line_values_are_validated() -> None:
    with pytest.raises(ConfigError) as info:
        resolve(defaults(), None, {"output.max_comments": "many"})
    assert info.value.message == (
        "command line: output.max_comments: expected an integer, got 'many'"
    )
    with pytest.raises(ConfigError, match=r"unknown key 'output\.max_coments' \(did you mean"):
        resolve(defaults(), None, {"output.max_coments": 3})


# --- operator locks ------------------------------------------------------------------------


def test_repository_may_lower_the_operators_budget() -> None:
    settings = Settings.from_env({}, monthly_budget_usd=Decimal(100), review_budget_usd=Decimal(2))
    eff = resolve(settings, load_repo_config("budget:\n  monthly_usd: 40\n  per_review_usd: 0.5\n"))
    assert eff.value("budget.monthly_usd") == Decimal(40)
    assert eff.value("budget.per_review_usd") == Decimal("0.5")
    assert eff.sources["budget.monthly_usd"] == "repository"
    assert eff.notices == ()


def test_repository_cannot_raise_the_operators_budget() -> None:
    settings = Settings.from_env({}, monthly_budget_usd=Decimal(100), review_budget_usd=Decimal(2))
    eff = resolve(settings, load_repo_config("budget:\n  monthly_usd: 500\n  per_review_usd: 2\n"))
    assert eff.value("budget.monthly_usd") == Decimal(100)
    assert eff.sources["budget.monthly_usd"] == "operator"
    assert eff.notices == (
        "budget.monthly_usd: the repository asks for $500, above the operator's maximum of "
        "$100; using $100",
    )
    assert eff.value("budget.per_review_usd") == Decimal(2)  # equal is not raising


def test_repository_cannot_remove_the_operators_budget() -> None:
    settings = Settings.from_env({}, monthly_budget_usd=Decimal(100))
    eff = resolve(settings, load_repo_config("budget:\n  monthly_usd: null\n"))
    assert eff.value("budget.monthly_usd") == Decimal(100)
    assert "asks for no limit" in eff.notices[0]


def test_without_an_operator_budget_the_repository_sets_its_own() -> None:
    eff = resolve(defaults(), load_repo_config("budget:\n  monthly_usd: 5000\n"))
    assert eff.value("budget.monthly_usd") == Decimal(5000)
    assert eff.notices == ()


def test_budgets_are_ceilings_even_without_a_lock() -> None:
    policy = operator_policy(Settings.from_env({}, monthly_budget_usd=Decimal(10)), locks=())
    eff = resolve(policy, load_repo_config("budget:\n  monthly_usd: 11\n"))
    assert eff.value("budget.monthly_usd") == Decimal(10)


def test_command_line_may_raise_a_budget() -> None:
    settings = Settings.from_env({}, monthly_budget_usd=Decimal(10))
    eff = resolve(settings, None, {"budget.monthly_usd": "25"})
    assert eff.value("budget.monthly_usd") == Decimal(25)
    assert eff.sources["budget.monthly_usd"] == "command line"


def test_locked_model_ignores_the_repository_and_says_so() -> None:
    policy = operator_policy(Settings.from_env({}, model="op-model"), locks=["model.default"])
    eff = resolve(policy, load_repo_config("model:\n  default: expensive\n"))
    assert eff.model == "op-model"
    assert eff.sources["model.default"] == "operator"
    assert eff.notices == (
        "model.default: locked by the operator at op-model; the repository's expensive is ignored",
    )


def test_locking_a_section_locks_every_key_in_it() -> None:
    policy = operator_policy(defaults(), locks=["model"])
    text = "model:\n  routing:\n    - model: big\n      min_changed_lines: 0\n"
    eff = resolve(policy, load_repo_config(text))
    assert eff.config.model.routing == ()
    assert eff.choose_model(["a.py"], 10) == DEFAULT_MODEL
    assert len(eff.notices) == 1
    assert eff.notices[0].startswith("model.routing: locked by the operator")


def test_locked_key_the_repository_repeats_gives_no_notice() -> None:
    policy = operator_policy(defaults(), locks=["output.max_comments"])
    eff = resolve(policy, load_repo_config("output:\n  max_comments: 30\n"))
    assert eff.notices == ()


def test_unknown_lock_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"lock unknown key 'modle' \(did you mean 'model'"):
        operator_policy(defaults(), locks=["modle"])


def test_locks_come_from_settings_locked_keys_when_it_exists() -> None:
    @dataclasses.dataclass(frozen=True)
    class FutureSettings(Settings):
        locked_keys: tuple[str, ...] = ("output.suggestions",)

    eff = resolve(FutureSettings(), load_repo_config("output:\n  suggestions: false\n"))
    assert eff.config.output.suggestions is True
    assert eff.notices


def test_policy_can_be_built_by_hand() -> None:
    policy = OperatorPolicy(values={"output.max_comments": 3}, locked=frozenset({"output"}))
    eff = resolve(policy, load_repo_config("output:\n  max_comments: 50\n"))
    assert eff.config.output.max_comments == 3


# --- rendering -----------------------------------------------------------------------------


def test_markdown_details_lists_every_key_with_its_source() -> None:
    settings = Settings.from_env({}, monthly_budget_usd=Decimal(10))
    eff = resolve(settings, load_repo_config(FULL), {"output.max_comments": 4})
    text = eff.to_markdown_details()
    assert text.startswith("<details>\n<summary>")
    assert text.endswith("</details>")
    for key in KEYS:
        assert f"| `{key}` |" in text
    assert "| `output.max_comments` | 4 | command line |" in text
    assert "| `budget.monthly_usd` | $10 | operator |" in text
    assert "| `review.drafts` | true | repository |" in text
    assert "| `output.request_changes_on` | major | repository |" in text
    assert "docs/**, *.md (all files) → claude-haiku-4-5" in text
    assert "≤ 20 changed lines → claude-haiku-4-5-small" in text
    assert "- budget.monthly_usd: the repository asks for $40" in text


def test_markdown_details_escapes_the_files_text() -> None:
    eff = effective("instructions: 'use a | b <script>'\n")
    row = next(line for line in eff.to_markdown_details().splitlines() if "`instructions`" in line)
    assert row == "| `instructions` | use a \\| b &lt;script&gt; | repository |"


def test_as_dict_is_json_with_sources() -> None:
    eff = resolve(Settings.from_env({}, review_budget_usd=Decimal("0.75")), load_repo_config(FULL))
    data = json.loads(json.dumps(eff.as_dict()))
    assert data["values"]["output"]["max_comments"] == 12
    assert data["values"]["budget"]["per_review_usd"] == "0.75"
    assert data["values"]["model"]["routing"][0]["when"] == "all"
    assert data["sources"]["budget.per_review_usd"] == "operator"
    assert data["sources"]["output.max_comments"] == "repository"
    assert set(data["sources"]) == set(KEYS)
    assert data["notices"] == [
        "budget.per_review_usd: the repository asks for $1.25, above the operator's maximum "
        "of $0.75; using $0.75"
    ]


# --- organisation-wide defaults file ------------------------------------------------------

ORG = """\
paths:
  exclude: ["*.lock"]
instructions: Follow the org style guide.
model:
  default: org-model
  routing:
    - model: org-small
      max_changed_lines: 5
output:
  min_severity: major
  max_comments: 7
"""


def org_settings(tmp_path: Path, text: str, **fields: Any) -> Settings:
    path = tmp_path / "org.yml"
    path.write_text(text, encoding="utf-8")
    return Settings.from_env({"REVIEWER_REPO_DEFAULTS_PATH": str(path)}, **fields)


def test_org_defaults_file_sets_operator_values(tmp_path: Path) -> None:
    eff = resolve(org_settings(tmp_path, ORG), None)
    assert eff.config.paths.exclude == ("*.lock",)
    assert eff.config.instructions == "Follow the org style guide."
    assert eff.model == "org-model"
    assert eff.choose_model(["a.py"], 5) == "org-small"
    assert eff.value("output.min_severity") is Severity.MAJOR
    assert eff.value("output.max_comments") == 7
    for key in (
        "paths.exclude",
        "instructions",
        "model.default",
        "model.routing",
        "output.min_severity",
        "output.max_comments",
    ):
        assert eff.sources[key] == "operator", key
    assert eff.sources["output.suggestions"] == "default"  # not written in the file


def test_repository_file_overrides_the_org_defaults(tmp_path: Path) -> None:
    repo = load_repo_config("paths:\n  exclude: [dist/]\n")
    eff = resolve(org_settings(tmp_path, ORG), repo)
    assert eff.config.paths.exclude == ("dist/",)
    assert eff.sources["paths.exclude"] == "repository"
    assert eff.value("output.max_comments") == 7


def test_a_settings_field_wins_over_the_org_defaults(tmp_path: Path) -> None:
    settings = org_settings(tmp_path, ORG, max_comments=12, model="env-model")
    eff = resolve(settings, None)
    assert eff.value("output.max_comments") == 12
    assert eff.model == "env-model"
    assert eff.value("output.min_severity") is Severity.MAJOR


def test_explicit_defaults_replace_the_org_file(tmp_path: Path) -> None:
    policy = operator_policy(org_settings(tmp_path, ORG), defaults={"output.max_comments": 3})
    assert dict(policy.values) == {"output.max_comments": 3}


def test_org_defaults_budgets_are_ceilings(tmp_path: Path) -> None:
    settings = org_settings(tmp_path, "budget:\n  monthly_usd: 50\n")
    eff = resolve(settings, load_repo_config("budget:\n  monthly_usd: 500\n"))
    assert eff.value("budget.monthly_usd") == Decimal(50)
    assert eff.sources["budget.monthly_usd"] == "operator"
    assert eff.notices == (
        "budget.monthly_usd: the repository asks for $500, above the operator's maximum of "
        "$50; using $50",
    )
    lower = resolve(settings, load_repo_config("budget:\n  monthly_usd: 20\n"))
    assert lower.value("budget.monthly_usd") == Decimal(20)


def test_org_defaults_model_null_is_no_choice(tmp_path: Path) -> None:
    eff = resolve(org_settings(tmp_path, "model:\n  default: null\n"), None)
    assert eff.model == DEFAULT_MODEL
    assert eff.sources["model.default"] == "default"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "output:\n  max_coments: 5\n",
            ":2: unknown key 'output.max_coments' (did you mean 'max_comments'?)",
        ),
        ("output:\n  max_comments: many\n", ":2: output.max_comments: expected an integer"),
        ("output:\n  max_comments: [1\n", ":3:1: invalid YAML:"),
    ],
)
def test_a_broken_org_defaults_file_names_the_file(tmp_path: Path, text: str, problem: str) -> None:
    settings = org_settings(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        resolve(settings, None)
    org = str(tmp_path / "org.yml")
    assert info.value.message.startswith(org + problem)
    assert info.value.path == org


def test_a_missing_org_defaults_file_is_an_error(tmp_path: Path) -> None:
    settings = Settings.from_env({"REVIEWER_REPO_DEFAULTS_PATH": str(tmp_path / "nope.yml")})
    with pytest.raises(ConfigError, match=r"nope\.yml: no such file$"):
        operator_policy(settings)
