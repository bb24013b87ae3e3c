"""`reviewer doctor`'s settings checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewer.config.checks import check_settings, configured_models
from reviewer.core.checks import Check
from reviewer.settings import Settings


def _run(env: dict[str, str], **overrides: object) -> dict[str, Check]:
    report = check_settings(lambda: Settings.from_env(env, **overrides), env)
    return {c.name: c for c in report.checks}


def test_a_value_that_does_not_parse_is_a_failed_check_not_a_traceback() -> None:
    env = {"REVIEWER_CONCURRENCY": "many"}
    report = check_settings(lambda: Settings.from_env(env), env)
    assert report.settings is None
    [parse, names] = report.checks
    assert parse.status == "fail"
    assert parse.found == "REVIEWER_CONCURRENCY: cannot read 'many' as int"
    assert parse.fix == "correct REVIEWER_CONCURRENCY"
    assert names.status == "ok"


def test_an_unknown_variable_is_named_with_a_suggestion() -> None:
    checks = _run({"REVIEWER_MODLE": "claude-opus-4-6", "REVIEWER_WEBHOOK_SECRET_FILE": "/run/s"})
    assert checks["settings.names"].status == "warn"
    assert checks["settings.names"].found == (
        "not settings, ignored: REVIEWER_MODLE (did you mean REVIEWER_MODEL?)"
    )


def test_secrets_are_reported_present_with_their_source_never_their_value(
    tmp_path: Path,
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("ghp_doctor_value\n")
    key_file = tmp_path / "key"
    key_file.write_text("sk-ant-doctor-value\n")
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-doctor-value",
        "REVIEWER_GITHUB_TOKEN_FILE": str(token_file),
    }
    secrets = _run(env)["settings.secrets"]
    assert secrets.status == "ok"
    assert secrets.found.startswith(
        "set: ANTHROPIC_API_KEY, GITHUB_TOKEN (from REVIEWER_GITHUB_TOKEN_FILE); not set:"
    )
    assert "doctor-value" not in secrets.found and "doctor_value" not in secrets.found
    from_file = _run({"ANTHROPIC_API_KEY_FILE": str(key_file)})["settings.secrets"]
    assert from_file.found.startswith("set: ANTHROPIC_API_KEY (from ANTHROPIC_API_KEY_FILE)")


def test_a_missing_anthropic_key_fails() -> None:
    assert _run({})["settings.secrets"].status == "fail"


@pytest.mark.parametrize(
    ("secret", "status", "found"),
    [
        (None, "fail", "REVIEWER_WEBHOOK_SECRET is empty or not set"),
        ("   ", "fail", "REVIEWER_WEBHOOK_SECRET is empty or not set"),
        ("short-secret", "fail", "REVIEWER_WEBHOOK_SECRET is only 12 characters long"),
        ("a-long-enough-secret", "ok", "set, 20 characters"),
    ],
)
def test_the_webhook_secret_must_be_strong(secret: str | None, status: str, found: str) -> None:
    checks = _run({}, github_app_id="42", webhook_secret=secret)
    assert (checks["settings.webhook_secret"].status, checks["settings.webhook_secret"].found) == (
        status,
        found,
    )


def test_no_webhook_secret_is_fine_outside_the_app() -> None:
    assert _run({})["settings.webhook_secret"].status == "skip"


def test_app_credentials_are_checked() -> None:
    assert _run({}, github_app_id="x1", github_private_key="k")["settings.app"].status == "fail"
    no_pem = _run({}, github_app_id="42", github_private_key="k")["settings.app"]
    assert no_pem.status == "fail" and "not PEM text" in no_pem.found
    pem = "-----BEGIN RSA " + "PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n"
    assert _run({}, github_app_id="42", github_private_key=pem)["settings.app"].status == "ok"


def test_the_data_dir_must_be_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    check = _run({}, data_dir=blocker / "data")["settings.data_dir"]
    assert check.status == "fail" and "is not writable" in check.found
    assert _run({}, data_dir=tmp_path / "ok")["settings.data_dir"].status == "ok"


def test_configured_models_include_fallback_and_routing(tmp_path: Path) -> None:
    defaults = tmp_path / "org.yml"
    defaults.write_text(
        "model:\n  routing:\n    - paths: ['docs/**']\n      model: claude-haiku-4-5\n"
    )
    env = {"REVIEWER_REPO_DEFAULTS_PATH": str(defaults)}
    report = check_settings(lambda: Settings.from_env(env, fallback_model="claude-opus-4-6"), env)
    assert report.settings is not None
    assert configured_models(report.settings, report.config) == {
        "claude-sonnet-4-6": "the default model",
        "claude-opus-4-6": "REVIEWER_FALLBACK_MODEL",
        "claude-haiku-4-5": "routing: docs/** (any files) → claude-haiku-4-5",
    }


def test_a_broken_defaults_file_fails(tmp_path: Path) -> None:
    defaults = tmp_path / "org.yml"
    defaults.write_text("model: [not, a, mapping]\n")
    check = _run({}, repo_defaults_path=defaults)["settings.defaults"]
    assert check.status == "fail"
