"""`reviewer doctor`'s settings checks: values parsed, secrets present, data directory writable."""

from __future__ import annotations

import difflib
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reviewer.config.effective import EffectiveConfig, operator_policy, resolve
from reviewer.core.checks import Check, fail, ok, skip, warn
from reviewer.core.summary import plural
from reviewer.errors import ReviewerError
from reviewer.settings import PREFIX, Settings, known_variables, secret_fields

MIN_WEBHOOK_SECRET_LENGTH = 16
# Where each secret can come from besides REVIEWER_<NAME> and REVIEWER_<NAME>_FILE.
_OTHER_SOURCES = {
    "anthropic_api_key": ("ANTHROPIC_API_KEY",),
    "github_token": ("GITHUB_TOKEN",),
    "github_private_key": ("REVIEWER_GITHUB_PRIVATE_KEY_PATH",),
}

# How the report names a secret: as its users most often set it.
_SHOWN = {"anthropic_api_key": "ANTHROPIC_API_KEY", "github_token": "GITHUB_TOKEN"}


@dataclass
class SettingsReport:
    """What the settings checks found: the settings (None if they did not load) and the lines."""

    settings: Settings | None
    config: EffectiveConfig | None = None
    checks: list[Check] = field(default_factory=list)


def check_settings(load: Callable[[], Settings], environ: Mapping[str, str]) -> SettingsReport:
    """Load the settings with `load` and check them; `environ` holds the variables set."""
    names = sorted(n for n in environ if n.startswith(PREFIX))
    try:
        settings = load()
    except ReviewerError as exc:
        key = getattr(exc, "key", None)
        fix = f"correct {key}" if key else "correct the setting named"
        report = SettingsReport(None, checks=[fail("settings.parse", exc.message, fix)])
        report.checks.append(_unknown(names))
        return report
    report = SettingsReport(settings)
    report.checks.append(
        ok("settings.parse", f"{plural(len(names), 'REVIEWER_* variable')} set, every value read")
    )
    report.checks.append(_unknown(names))
    try:
        report.config = resolve(operator_policy(settings))
    except ReviewerError as exc:
        report.checks.append(
            fail("settings.defaults", exc.message, "correct REVIEWER_REPO_DEFAULTS_PATH's file")
        )
    report.checks.append(_secrets(settings, environ))
    report.checks.append(_app_credentials(settings))
    report.checks.append(_webhook_secret(settings))
    report.checks.append(_data_dir(settings))
    return report


def configured_models(settings: Settings, config: EffectiveConfig | None) -> dict[str, str]:
    """Every model the bot may call → the settings or rules that name it."""
    roles: dict[str, list[str]] = {}
    default = config.model if config is not None else settings.model
    roles.setdefault(default, []).append("the default model")
    for name, value in vars(settings).items():
        # fallback_model, and any other *_model setting (a conversation model, say)
        if name.endswith("_model") and isinstance(value, str) and value:
            roles.setdefault(value, []).append(PREFIX + name.upper())
    if config is not None:
        for rule in config.config.model.routing:
            roles.setdefault(rule.model, []).append(f"routing: {rule.describe()}")
    return {model: ", ".join(dict.fromkeys(where)) for model, where in roles.items()}


def _unknown(names: list[str]) -> Check:
    known = known_variables()
    secret_files = {PREFIX + name.upper() + "_FILE" for name in secret_fields()}
    unknown = [n for n in names if n not in known and n not in secret_files]
    unknown = [n for n in unknown if n != PREFIX + "REQUIRE_SERVICES"]  # the test suite's own
    if not unknown:
        return ok("settings.names", "every REVIEWER_* variable is a setting")
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1)
        described.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return warn(
        "settings.names",
        f"not settings, ignored: {', '.join(described)}",
        "rename or remove them (see docs/configuration.md)",
    )


def _secrets(settings: Settings, environ: Mapping[str, str]) -> Check:
    present, missing = [], []
    for name in secret_fields():
        variable = PREFIX + name.upper()
        others = _OTHER_SOURCES.get(name, ())
        sources = [variable + "_FILE", variable, *others, *(o + "_FILE" for o in others)]
        shown = _SHOWN.get(name, variable)
        if not getattr(settings, name):
            missing.append(shown)
            continue
        source = next((s for s in sources if environ.get(s)), None)
        present.append(f"{shown} (from {source})" if source and source != shown else shown)
    found = f"set: {', '.join(present) or 'none'}; not set: {', '.join(missing) or 'none'}"
    if not settings.anthropic_api_key:
        return fail("settings.secrets", found, "set ANTHROPIC_API_KEY (or its _FILE variant)")
    if not (settings.github_token or settings.github_app_id):
        return warn(
            "settings.secrets",
            found,
            "set GITHUB_TOKEN, or REVIEWER_GITHUB_APP_ID and REVIEWER_GITHUB_PRIVATE_KEY, "
            "to review pull requests (local diffs need neither)",
        )
    return ok("settings.secrets", found)


def _app_credentials(settings: Settings) -> Check:
    if not settings.github_app_id:
        return skip("settings.app", "no REVIEWER_GITHUB_APP_ID: not a GitHub App deployment")
    if not settings.github_app_id.strip().isdigit():
        return fail(
            "settings.app",
            "REVIEWER_GITHUB_APP_ID is not a number",
            "use the App's numeric id (App settings → General → App ID)",
        )
    if "PRIVATE KEY-----" not in (settings.github_private_key or ""):
        return fail(
            "settings.app",
            "the App's private key is missing or is not PEM text",
            "set REVIEWER_GITHUB_PRIVATE_KEY_PATH to the .pem file GitHub gave you",
        )
    return ok("settings.app", f"App id {settings.github_app_id.strip()}, a PEM private key")


def _webhook_secret(settings: Settings) -> Check:
    secret = settings.webhook_secret
    if secret is None and not settings.github_app_id:
        return skip("settings.webhook_secret", "not set; only the App service needs it")
    fix = (
        f"set REVIEWER_WEBHOOK_SECRET to a random value of at least "
        f"{MIN_WEBHOOK_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`), "
        "and the same value in the App's webhook settings"
    )
    if secret is None or not secret.strip():
        return fail("settings.webhook_secret", "REVIEWER_WEBHOOK_SECRET is empty or not set", fix)
    if len(secret.strip()) < MIN_WEBHOOK_SECRET_LENGTH:
        return fail(
            "settings.webhook_secret",
            f"REVIEWER_WEBHOOK_SECRET is only {len(secret.strip())} characters long",
            fix,
        )
    return ok("settings.webhook_secret", f"set, {len(secret)} characters")


def _data_dir(settings: Settings) -> Check:
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-"):
            pass
    except OSError as exc:
        return fail(
            "settings.data_dir",
            f"{path} is not writable: {exc.strerror}",
            "set REVIEWER_DATA_DIR to a directory this user can write",
        )
    return ok("settings.data_dir", f"{path} is writable")
