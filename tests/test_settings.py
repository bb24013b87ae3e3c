"""Settings: one frozen object from REVIEWER_* variables, with clear errors."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from reviewer.errors import ConfigError
from reviewer.settings import DEFAULT_MODEL, Settings


def test_defaults_need_no_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"HOME": str(tmp_path)})
    assert settings.concurrency == 4 and settings.max_comments == 30
    assert settings.data_dir == tmp_path / ".local" / "share" / "reviewer"
    assert settings.ledger_url == f"sqlite:///{settings.data_dir / 'ledger.sqlite3'}"


def test_prefixed_variables_are_converted_by_type() -> None:
    settings = Settings.from_env(
        {
            "REVIEWER_CONCURRENCY": "8",
            "REVIEWER_REQUEST_TIMEOUT_S": "2.5",
            "REVIEWER_MONTHLY_BUDGET_USD": "10.50",
            "REVIEWER_COUNT_TOKENS": "yes",
            "REVIEWER_DATA_DIR": "/srv/reviewer",
            "REVIEWER_DATABASE_URL": "postgresql+psycopg://db/x",
        }
    )
    assert settings.concurrency == 8
    assert settings.request_timeout_s == 2.5
    assert settings.monthly_budget_usd == Decimal("10.50")
    assert settings.count_tokens is True
    assert settings.data_dir == Path("/srv/reviewer")
    assert settings.ledger_url == "postgresql+psycopg://db/x"


def test_sdk_variables_are_honoured_under_their_own_names() -> None:
    settings = Settings.from_env(
        {
            "ANTHROPIC_API_KEY": "sk-ant-test-fake",
            "GITHUB_TOKEN": "ghs_fake",
            "GITHUB_API_URL": "https://ghe.test/api/v3",
        }
    )
    assert settings.anthropic_api_key == "sk-ant-test-fake"
    assert settings.github_token == "ghs_fake"
    assert settings.github_api_url == "https://ghe.test/api/v3"


def test_secrets_never_appear_in_repr() -> None:
    settings = Settings.from_env(
        {
            "ANTHROPIC_API_KEY": "sk-ant-secret",
            "REVIEWER_WEBHOOK_SECRET": "hush",
            "GITHUB_TOKEN": "ghs_x",
        }
    )
    text = repr(settings)
    assert "sk-ant-secret" not in text and "hush" not in text and "ghs_x" not in text


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REVIEWER_CONCURRENCY", "many", "REVIEWER_CONCURRENCY: cannot read 'many' as int"),
        ("REVIEWER_CONCURRENCY", "0", "REVIEWER_CONCURRENCY must be at least 1"),
        ("REVIEWER_COUNT_TOKENS", "perhaps", "REVIEWER_COUNT_TOKENS: cannot read 'perhaps'"),
        ("REVIEWER_MONTHLY_BUDGET_USD", "-1", "REVIEWER_MONTHLY_BUDGET_USD must not be negative"),
        ("REVIEWER_COMMAND", "review", "REVIEWER_COMMAND must be one word starting with /"),
        ("REVIEWER_CONTEXT", "all", "REVIEWER_CONTEXT must be one of none, hunk, definition"),
        ("REVIEWER_EFFORT", "extreme", "REVIEWER_EFFORT must be one of low, medium"),
    ],
)
def test_bad_values_name_the_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Settings.from_env({name: value})


def test_private_key_is_read_from_a_path(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text("-----FAKE KEY-----\n")
    settings = Settings.from_env({"REVIEWER_GITHUB_PRIVATE_KEY_PATH": str(key)})
    assert settings.github_private_key == "-----FAKE KEY-----\n"
    with pytest.raises(ConfigError, match="REVIEWER_GITHUB_PRIVATE_KEY_PATH"):
        Settings.from_env({"REVIEWER_GITHUB_PRIVATE_KEY_PATH": str(tmp_path / "missing.pem")})


def test_settings_are_frozen_and_replace_validates() -> None:
    settings = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.concurrency = 2  # type: ignore[misc]
    assert settings.replace(concurrency=2).concurrency == 2
    with pytest.raises(ConfigError):
        settings.replace(concurrency=0)


def test_locked_keys_are_a_comma_separated_list() -> None:
    settings = Settings.from_env({"REVIEWER_LOCKED_KEYS": "model.default, budget ,"})
    assert settings.locked_keys == ("model.default", "budget")


def test_repo_defaults_path_is_a_path() -> None:
    assert Settings.from_env({}).repo_defaults_path is None
    settings = Settings.from_env({"REVIEWER_REPO_DEFAULTS_PATH": "/etc/reviewer/org.yml"})
    assert settings.repo_defaults_path == Path("/etc/reviewer/org.yml")


def test_fail_on_must_be_a_severity() -> None:
    assert Settings.from_env({"REVIEWER_FAIL_ON": "major"}).fail_on == "major"
    with pytest.raises(ConfigError, match="REVIEWER_FAIL_ON must be one of"):
        Settings.from_env({"REVIEWER_FAIL_ON": "sometimes"})


@pytest.mark.parametrize(
    ("variable", "field"),
    [
        ("REVIEWER_WEBHOOK_SECRET_FILE", "webhook_secret"),
        ("REVIEWER_ANTHROPIC_API_KEY_FILE", "anthropic_api_key"),
        ("ANTHROPIC_API_KEY_FILE", "anthropic_api_key"),
        ("REVIEWER_GITHUB_TOKEN_FILE", "github_token"),
        ("GITHUB_TOKEN_FILE", "github_token"),
        ("REVIEWER_GITHUB_PRIVATE_KEY_FILE", "github_private_key"),
        ("REVIEWER_DATABASE_URL_FILE", "database_url"),
        ("REVIEWER_METRICS_TOKEN_FILE", "metrics_token"),
    ],
)
def test_a_secret_is_read_from_the_file_its_variable_names(
    tmp_path: Path, variable: str, field: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("fake-secret-value-0001\n")  # mounted secrets often end in a newline
    settings = Settings.from_env({variable: str(secret)})
    assert getattr(settings, field) == "fake-secret-value-0001"
    assert "fake-secret-value-0001" not in repr(settings)


def test_a_secret_and_its_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("fake-secret-value-0002")
    env = {"REVIEWER_WEBHOOK_SECRET": "x" * 20, "REVIEWER_WEBHOOK_SECRET_FILE": str(secret)}
    with pytest.raises(ConfigError, match=r"REVIEWER_WEBHOOK_SECRET and .*_FILE are both set"):
        Settings.from_env(env)


def test_an_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"REVIEWER_ANTHROPIC_API_KEY_FILE": str(missing)})
    assert error.value.message.startswith(f"REVIEWER_ANTHROPIC_API_KEY_FILE: cannot read {missing}")


def test_a_plain_setting_has_no_file_variant(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_text("claude-opus-4-1")
    assert Settings.from_env({"REVIEWER_MODEL_FILE": str(model)}).model == DEFAULT_MODEL
