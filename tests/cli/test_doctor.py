"""The `reviewer doctor` command: its output, exit codes, --offline, and that no secret leaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import reviewer.claude.probe
from reviewer.cli.main import main
from tests.fakes.github_api import FakeGitHub
from tests.fakes.messages_server import FakeMessages, error_answer

# Recognisable fake secrets, one in every secret setting.
ANTHROPIC_KEY = "sk-ant-" + "DOCTORSECRET-anthropic-0001"  # fake; split for secret scans
GITHUB_TOKEN = "ghp_DOCTORSECRETgithubtoken0002"
WEBHOOK_SECRET = "DOCTORSECRET-webhook-0003-long-enough"
DB_PASSWORD = "DOCTORSECRETdbpw0004"
REDIS_PASSWORD = "DOCTORSECRETredispw0005"
METRICS_TOKEN = "DOCTORSECRETmetrics0006"


@pytest.fixture(scope="module")
def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _doctor(*args: str) -> Result:
    return CliRunner().invoke(main, ["doctor", *args])


def _token_env(monkeypatch: pytest.MonkeyPatch, claude: FakeMessages, github: FakeGitHub) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("REVIEWER_ANTHROPIC_BASE_URL", claude.base_url)
    monkeypatch.setenv("REVIEWER_MAX_RETRIES", "0")
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("REVIEWER_GITHUB_API_URL", github.base_url)


def test_a_healthy_token_deployment_passes(
    monkeypatch: pytest.MonkeyPatch, fake_claude: FakeMessages, fake_github: FakeGitHub
) -> None:
    _token_env(monkeypatch, fake_claude, fake_github)
    result = _doctor()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    statuses = {line.split()[1]: line.split()[0] for line in lines[:-2] if line[0] != " "}
    assert statuses == {
        "settings.parse": "ok", "settings.names": "ok", "settings.secrets": "ok",
        "settings.app": "skip", "settings.webhook_secret": "skip", "settings.data_dir": "ok",
        "anthropic.key": "ok", "anthropic.model.claude-sonnet-4-6": "ok", "anthropic.call": "ok",
        "anthropic.count_tokens": "ok", "github.api": "ok", "github.auth": "ok",
        "github.identity": "ok", "spend.ledger": "ok", "spend.migrations": "ok",
        "spend.month": "skip", "spend.journal": "ok", "queue.redis": "skip",
    }  # fmt: skip
    assert lines[-1] == "14 ok, 0 warnings, 0 failures, 4 skipped"
    call = next(line for line in lines if "anthropic.call" in line)
    assert "claude-sonnet-4-6: end_turn, 0 findings" in call and "$0.00" in call
    assert "asking claude-sonnet-4-6 to review a ten-line diff" in result.stderr
    assert len(fake_claude.requests) == 1  # one real call, no more


def test_batch_shows_progress_and_prices_at_the_batch_rate(
    monkeypatch: pytest.MonkeyPatch, fake_claude: FakeMessages, fake_github: FakeGitHub
) -> None:
    _token_env(monkeypatch, fake_claude, fake_github)
    monkeypatch.setattr(reviewer.claude.probe, "BATCH_POLL_S", 0.0)
    fake_claude.batch_polls = 1
    result = _doctor("--batch", "--format", "json")
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    batch = checks["anthropic.batch"]
    assert batch["status"] == "ok"
    assert batch["found"].endswith("at the batch rate")
    [job] = fake_claude.batches
    assert f"batch {job} submitted; a batch can take minutes" in result.stderr
    assert f"batch {job}: ended after" in result.stderr


def test_json_output_has_a_stable_shape(
    monkeypatch: pytest.MonkeyPatch, fake_claude: FakeMessages, fake_github: FakeGitHub
) -> None:
    _token_env(monkeypatch, fake_claude, fake_github)
    del fake_claude.models["claude-sonnet-4-6"]
    result = _doctor("--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert set(out) == {"ok", "exit_code", "offline", "counts", "checks"}
    assert (out["ok"], out["exit_code"], out["offline"]) == (False, 1, False)
    assert set(out["counts"]) == {"ok", "warn", "fail", "skip"}
    assert sum(out["counts"].values()) == len(out["checks"])
    for check in out["checks"]:
        assert set(check) == {"name", "group", "status", "found", "fix"}
        assert check["group"] == check["name"].split(".")[0]
        assert check["status"] in ("ok", "warn", "fail", "skip")
    by_name = {c["name"]: c for c in out["checks"]}
    model = by_name["anthropic.model.claude-sonnet-4-6"]
    assert model["status"] == "fail" and "does not exist for this account" in model["found"]
    # No usable model: no call is made.
    assert by_name["anthropic.call"]["status"] == "skip" and fake_claude.requests == []


def test_offline_runs_only_what_needs_no_network(
    monkeypatch: pytest.MonkeyPatch, fake_claude: FakeMessages, fake_github: FakeGitHub
) -> None:
    _token_env(monkeypatch, fake_claude, fake_github)
    monkeypatch.setenv("REVIEWER_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:1/x")
    monkeypatch.setenv("REVIEWER_REDIS_URL", "redis://127.0.0.1:1/0")
    result = _doctor("--offline", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    skipped = {c["name"] for c in out["checks"] if c["status"] == "skip"}
    assert {"anthropic.key", "anthropic.call", "github.auth", "spend.ledger", "queue.redis"} <= (
        skipped
    )
    assert fake_claude.model_requests == [] and fake_claude.requests == []
    assert fake_github.calls == []


def test_settings_that_do_not_parse_fail_with_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_CONCURRENCY", "lots")
    result = _doctor()
    assert result.exit_code == 1
    assert "FAIL  settings.parse" in result.stdout
    assert "REVIEWER_CONCURRENCY: cannot read 'lots' as int" in result.stdout
    assert "Traceback" not in result.output


def test_bad_usage_exits_2() -> None:
    assert _doctor("--offline", "--batch").exit_code == 2
    assert _doctor("--format", "yaml").exit_code == 2


def test_no_secret_appears_in_any_output(
    monkeypatch: pytest.MonkeyPatch,
    fake_claude: FakeMessages,
    fake_github: FakeGitHub,
    pem: str,
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(pem)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("REVIEWER_ANTHROPIC_BASE_URL", fake_claude.base_url)
    monkeypatch.setenv("REVIEWER_MAX_RETRIES", "0")
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("REVIEWER_GITHUB_APP_ID", "4242")
    monkeypatch.setenv("REVIEWER_GITHUB_PRIVATE_KEY_PATH", str(key_file))
    secret_file = tmp_path / "webhook-secret"  # a secret read from a file is hidden too
    secret_file.write_text(WEBHOOK_SECRET + "\n")
    monkeypatch.setenv("REVIEWER_WEBHOOK_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("REVIEWER_METRICS_TOKEN", METRICS_TOKEN)
    monkeypatch.setenv(
        "REVIEWER_DATABASE_URL", f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:1/x"
    )
    monkeypatch.setenv("REVIEWER_REDIS_URL", f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0")
    fake_github.add_installation("octo", permissions={"pull_requests": "read"})
    # The API echoes the key back in its error: the report must still not show it.
    refusal = error_answer(400, message=f"output_config refused for {ANTHROPIC_KEY}")
    fake_claude.responder = lambda body: refusal
    secrets = [
        ANTHROPIC_KEY, GITHUB_TOKEN, WEBHOOK_SECRET, DB_PASSWORD, REDIS_PASSWORD, METRICS_TOKEN,
        *(line for line in pem.splitlines() if not line.startswith("-----")),
    ]  # fmt: skip
    results = [
        _doctor(*args)
        for args in ((), ("--format", "json"), ("--offline",), ("--offline", "--format", "json"))
    ]
    assert [r.exit_code for r in results] == [1, 1, 0, 0]  # online: the database, Redis...
    failed = {c["name"] for c in json.loads(results[1].stdout)["checks"] if c["status"] == "fail"}
    assert failed == {
        "anthropic.call", "github.installation.octo", "spend.ledger", "queue.redis"
    }  # fmt: skip
    for result in results:
        leaked = [s for s in secrets if s in result.stdout + result.stderr]
        assert leaked == [], leaked
    # The settings that did not load must not leak either.
    monkeypatch.setenv("REVIEWER_CONCURRENCY", ANTHROPIC_KEY)
    result = _doctor("--format", "json")
    assert result.exit_code == 1 and ANTHROPIC_KEY not in result.stdout + result.stderr
