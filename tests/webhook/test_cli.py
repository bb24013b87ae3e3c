"""`reviewer serve` / `reviewer worker` refuse to start without what they need."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewer.cli.main import main
from reviewer.errors import ConfigError
from reviewer.settings import Settings
from webhook.cli import check_settings

# Shaped like a PEM block so the check passes; not a key.
FAKE_PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\nnot-a-key\n-----END RSA PRIVATE KEY-----\n"
READY = {
    "REVIEWER_WEBHOOK_SECRET": "hush-hush-hush-hush",
    "REVIEWER_GITHUB_APP_ID": "12345",
    "REVIEWER_GITHUB_PRIVATE_KEY": FAKE_PEM,
    "ANTHROPIC_API_KEY": "sk-ant-test-fake",
}


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("REVIEWER_WEBHOOK_SECRET", "REVIEWER_WEBHOOK_SECRET"),
        ("REVIEWER_GITHUB_APP_ID", "REVIEWER_GITHUB_APP_ID"),
        ("REVIEWER_GITHUB_PRIVATE_KEY", "REVIEWER_GITHUB_PRIVATE_KEY"),
        ("ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    ],
)
def test_serve_refuses_to_start_without_a_setting(missing: str, named: str) -> None:
    env = {k: v for k, v in READY.items() if k != missing}
    result = CliRunner().invoke(main, ["serve"], env={missing: ""} | env)
    assert result.exit_code == 2
    assert named in result.stderr and "Traceback" not in result.output


def test_worker_needs_no_webhook_secret() -> None:
    settings = Settings.from_env({k: v for k, v in READY.items() if "SECRET" not in k})
    check_settings(settings, web=False)
    with pytest.raises(ConfigError, match="REVIEWER_WEBHOOK_SECRET"):
        check_settings(settings, web=True)


def test_an_unpriced_model_stops_start_up() -> None:
    settings = Settings.from_env(READY | {"REVIEWER_MODEL": "claude-unknown-9"})
    with pytest.raises(ConfigError, match="claude-unknown-9"):
        check_settings(settings, web=True)


def test_a_broken_org_defaults_file_stops_start_up(tmp_path: Path) -> None:
    defaults = tmp_path / "defaults.yml"
    defaults.write_text("output:\n  max_coments: 3\n")
    settings = Settings.from_env(READY | {"REVIEWER_REPO_DEFAULTS_PATH": str(defaults)})
    with pytest.raises(ConfigError, match="max_coments"):
        check_settings(settings, web=True)


def test_a_routing_model_without_a_price_stops_start_up(tmp_path: Path) -> None:
    defaults = tmp_path / "defaults.yml"
    defaults.write_text("model:\n  routing:\n    - model: claude-nope\n      paths: ['**']\n")
    settings = Settings.from_env(READY | {"REVIEWER_REPO_DEFAULTS_PATH": str(defaults)})
    with pytest.raises(ConfigError, match="claude-nope"):
        check_settings(settings, web=False)
