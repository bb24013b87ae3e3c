"""Tests for reviewer/repo_config.py: schema, loading and its error messages, the reference."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from reviewer.config.repo import load_repo_config
from reviewer.config.schema import KEYS, RepoConfig
from reviewer.core.findings import Severity
from reviewer.errors import ConfigError
from tests.paths import ROOT

FULL = """\
review:
  auto: false
  events: [opened, ready_for_review]
  drafts: true
  incremental: false
  command: /claude
paths:
  include: ["src/**", "migrations/**", "docs/**"]
  exclude: ["src/vendor/", "*.snap", "!src/vendor/keep.py"]
  instructions:
    - path: "migrations/**"
      instructions: Every migration must be reversible.
    - path: "*.sql"
      instructions: Flag full table scans.
instructions: |
  We use tabs.
  Never log secrets.
model:
  default: claude-opus-4-6
  routing:
    - model: claude-haiku-4-5
      paths: ["docs/**", "*.md"]
      when: all
    - model: claude-opus-4-6-security
      paths: ["src/security/**"]
    - model: claude-haiku-4-5-small
      max_changed_lines: 20
    - model: claude-opus-4-6-huge
      min_changed_lines: 2000
output:
  min_severity: minor
  max_comments: 12
  suggestions: false
  request_changes_on: major
budget:
  monthly_usd: 40
  per_review_usd: 1.25
"""


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_repo_config(text)
    return info.value


# --- parsing -------------------------------------------------------------------------------


def test_every_key_is_parsed() -> None:
    config = load_repo_config(FULL)
    assert config.review.auto is False
    assert config.review.events == ("opened", "ready_for_review")
    assert config.review.drafts is True
    assert config.review.incremental is False
    assert config.review.command == "/claude"
    assert config.paths.include == ("src/**", "migrations/**", "docs/**")
    assert config.paths.exclude == ("src/vendor/", "*.snap", "!src/vendor/keep.py")
    assert [r.path for r in config.paths.instructions] == ["migrations/**", "*.sql"]
    assert config.instructions == "We use tabs.\nNever log secrets.\n"
    assert config.model.default == "claude-opus-4-6"
    assert [r.model for r in config.model.routing] == [
        "claude-haiku-4-5",
        "claude-opus-4-6-security",
        "claude-haiku-4-5-small",
        "claude-opus-4-6-huge",
    ]
    assert config.output.min_severity is Severity.MINOR
    assert config.output.max_comments == 12
    assert config.output.suggestions is False
    assert config.output.request_changes_on is Severity.MAJOR
    assert config.budget.monthly_usd == Decimal(40)
    assert config.budget.per_review_usd == Decimal("1.25")


@pytest.mark.parametrize("text", [None, "", "\n", "# nothing yet\n", "---\n", "output:\n"])
def test_no_file_empty_file_and_empty_section_mean_defaults(text: str | None) -> None:
    assert load_repo_config(text) == RepoConfig()


# --- errors --------------------------------------------------------------------------------


def test_unknown_key_suggests_the_nearest() -> None:
    err = error_of("output:\n  max_comments: 3\n  max_coments: 5\n")
    assert err.message == (
        ".github/reviewer.yml:3: unknown key 'output.max_coments' (did you mean 'max_comments'?)"
    )
    assert err.key == "output.max_coments"
    assert err.path == ".github/reviewer.yml"


def test_unknown_section_suggests_the_nearest() -> None:
    err = error_of("outptu:\n  max_comments: 5\n")
    assert "unknown key 'outptu' (did you mean 'output'?)" in err.message


def test_key_in_the_wrong_section_suggests_the_dotted_key() -> None:
    err = error_of("max_comments: 5\n")
    assert "unknown key 'max_comments' (did you mean 'output.max_comments'?)" in err.message


def test_unknown_key_without_a_near_one_lists_the_valid_keys() -> None:
    err = error_of("budget:\n  zzz: 1\n")
    assert "unknown key 'budget.zzz' (valid keys here: monthly_usd, per_review_usd)" in err.message


def test_unknown_key_inside_a_list_item() -> None:
    err = error_of("model:\n  routing:\n    - model: x\n      path: [docs/**]\n")
    assert err.message == (
        ".github/reviewer.yml:4: unknown key 'model.routing[0].path' (did you mean 'paths'?)"
    )


def test_wrong_type() -> None:
    err = error_of("review:\n  auto: true\noutput:\n  max_comments: many\n")
    assert err.message == (
        ".github/reviewer.yml:4: output.max_comments: expected an integer, got 'many'"
    )
    assert err.key == "output.max_comments"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("review:\n  auto: 'yes'\n", "review.auto: expected true or false, got 'yes'"),
        ("review:\n  events: opened\n", "review.events: expected a list, got 'opened'"),
        ("review: true\n", "review: expected a mapping of keys, got true"),
        ("instructions: [a]\n", "instructions: expected text, got a list"),
        ("output:\n  max_comments: '5'\n", "output.max_comments: expected an integer, got '5'"),
        ("output:\n  max_comments: -1\n", "output.max_comments: must be at least 0, got -1"),
        (
            "output:\n  min_severity: MAJOR\n",
            "output.min_severity: expected one of 'critical', 'major', 'minor' or 'nit', "
            "got 'MAJOR'",
        ),
        (
            "review:\n  events: [opened, closed]\n",
            "review.events[1]: expected one of 'opened', 'reopened', 'synchronize' or "
            "'ready_for_review', got 'closed'",
        ),
        (
            "budget:\n  monthly_usd: $5\n",
            "budget.monthly_usd: expected an amount in US dollars, like 25 or 12.50, got '$5'",
        ),
        ("budget:\n  per_review_usd: -0.5\n", "budget.per_review_usd: must be at least 0"),
        ("review:\n  command: please review\n", "review.command: expected one word starting"),
        ("model:\n  default: ''\n", "model.default: must not be empty"),
        ("paths:\n  exclude: ['foo\\']\n", "'foo\\\\' is not a valid gitignore-style pattern"),
        ("paths:\n  include: ['  ']\n", "paths.include[0]: a path pattern must not be empty"),
        (
            "paths:\n  instructions:\n    - path: a/**\n",
            "paths.instructions[0].instructions: missing; this key is required",
        ),
        (
            "model:\n  routing:\n    - model: x\n",
            "model.routing[0]: a rule needs paths, min_changed_lines or max_changed_lines",
        ),
        (
            "model:\n  routing:\n    - model: x\n      max_changed_lines: 5\n      when: all\n",
            "model.routing[0]: 'when' applies only to a rule with paths",
        ),
        (
            "model:\n  routing:\n    - model: x\n      min_changed_lines: 9\n"
            "      max_changed_lines: 5\n",
            "model.routing[0]: min_changed_lines is above max_changed_lines",
        ),
        ("model:\n  routing:\n    - model: x\n      paths: []\n", "must not be empty, got a list"),
    ],
)
def test_wrong_values_are_named(text: str, expected: str) -> None:
    err = error_of(text)
    assert err.message.startswith(".github/reviewer.yml:")
    assert expected in err.message


def test_invalid_yaml_names_line_and_column() -> None:
    err = error_of("review:\n  auto: true\n  events: [opened\n  drafts: true\n")
    assert err.message.startswith(".github/reviewer.yml:4:")
    assert "invalid YAML" in err.message
    assert err.path == ".github/reviewer.yml"


def test_tab_indentation_is_invalid_yaml() -> None:
    err = error_of("review:\n\tauto: true\n")
    assert err.message.startswith(".github/reviewer.yml:2:1: invalid YAML:")


def test_control_character_is_invalid_yaml_with_its_place() -> None:
    err = error_of("review:\n  command: /x\x00\n")
    assert err.message == ".github/reviewer.yml:2:14: invalid YAML: character #x0000 is not allowed"


def test_two_documents_are_refused() -> None:
    err = error_of("review: {}\n---\noutput: {}\n")
    assert "invalid YAML: expected a single document" in err.message


def test_the_source_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"^conf/r\.yml:1: unknown key 'x'"):
        load_repo_config("x: 1\n", source="conf/r.yml")


def test_top_level_must_be_a_mapping() -> None:
    err = error_of("- review\n")
    assert err.message == (
        ".github/reviewer.yml:1: expected keys such as 'review:' at the top level, got a list"
    )


def test_duplicate_keys_are_refused_not_silently_merged() -> None:
    err = error_of("output:\n  max_comments: 5\noutput:\n  suggestions: false\n")
    assert err.message == ".github/reviewer.yml:3: duplicate key 'output'"


def test_key_yaml_reads_as_a_boolean() -> None:
    err = error_of("review:\n  on: [opened]\n")
    assert "key 'review.on' is not read as text by YAML" in err.message


def test_anchors_and_merge_keys_work() -> None:
    text = """\
model:
  routing:
    - &small {model: small, max_changed_lines: 5}
    - <<: *small
      model: other
"""
    rules = load_repo_config(text).model.routing
    assert [(r.model, r.max_changed_lines) for r in rules] == [("small", 5), ("other", 5)]


def test_a_recursive_alias_is_an_error_not_a_hang() -> None:
    err = error_of("instructions: &a [*a]\n")
    assert err.message == ".github/reviewer.yml:1: instructions: expected text, got a list"


def test_several_problems_report_the_first_line_and_count_the_rest() -> None:
    err = error_of("output:\n  max_comments: x\n  suggestions: 3\nbudget:\n  monthly_usd: y\n")
    assert err.message.startswith(".github/reviewer.yml:2: output.max_comments:")
    assert err.message.endswith("(and 2 more problems)")


# --- the reference stays true --------------------------------------------------------------

DOC = ROOT / "docs" / "configuration.md"


def test_every_yaml_example_in_the_reference_is_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 7
    for block in blocks:
        load_repo_config(block)


def test_the_reference_documents_every_key() -> None:
    text = DOC.read_text(encoding="utf-8")
    for key in KEYS:
        assert f"| `{key}` |" in text


def test_the_reference_error_messages_are_real() -> None:
    text = DOC.read_text(encoding="utf-8")
    mistakes = [
        "output:\n  max_comments: 3\n  max_coments: 5\n",
        "max_comments: 3\n",
        "output:\n  max_comments: many\n",
        "output:\n  max_comments: -1\n",
        "output:\n  min_severity: MAJOR\n",
        "model:\n  routing:\n    - model: x\n",
        "output:\n  max_comments: [1\n  x: 2\n",
        "output: {}\noutput: {}\n",
    ]
    for mistake in mistakes:
        detail = error_of(mistake).message.split(": ", 1)[1]  # drop "file:line"
        assert detail in text, detail
