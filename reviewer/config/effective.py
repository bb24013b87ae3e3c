"""The operator's layer and the merge of every layer into one effective configuration."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from reviewer.config.repo import read_config_file, suggest_dotted, validate_leaf
from reviewer.config.schema import KEYS, SECTIONS, PathInstruction, RepoConfig, RoutingRule
from reviewer.core.findings import Severity
from reviewer.errors import ConfigError
from reviewer.settings import DEFAULT_MODEL, Settings

Source = Literal["default", "operator", "repository", "command line"]
BUDGET_KEYS = ("budget.monthly_usd", "budget.per_review_usd")


# --- layers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorPolicy:
    """The operator's layer: values for dotted keys, and the keys a repository may not change.

    Budgets are always ceilings: a repository may lower `budget.*` but never raise it, with
    or without a lock. A locked key (or every key of a locked section) keeps the operator's
    value whatever the repository file says.
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()

    def is_locked(self, key: str) -> bool:
        return key in self.locked or key.split(".", 1)[0] in self.locked


# Settings fields that are also repository keys.
SETTINGS_KEYS = {
    "model": "model.default",
    "review_drafts": "review.drafts",
    "command": "review.command",
    "context": "review.context",
    "max_comments": "output.max_comments",
    "monthly_budget_usd": "budget.monthly_usd",
    "review_budget_usd": "budget.per_review_usd",
}


def operator_policy(
    settings: Settings,
    *,
    locks: Iterable[str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> OperatorPolicy:
    """Build the operator's layer from `settings`, org-level `defaults` and `locks`.

    Only the Settings fields that differ from their built-in default count as the operator's,
    so `config show` says "default" for a value nobody chose. `defaults` sets any other key
    for every repository (a Settings field wins over it); it defaults to the keys written in
    the file `settings.repo_defaults_path`, if set. `locks` defaults to the future
    `settings.locked_keys`, else none.
    """
    if defaults is None and settings.repo_defaults_path is not None:
        defaults = _file_defaults(settings.repo_defaults_path)
    values = {key: validate_leaf(key, value, "operator") for key, value in (defaults or {}).items()}
    builtin = {f.name: f.default for f in dataclasses.fields(Settings)}
    for name, key in SETTINGS_KEYS.items():
        value = getattr(settings, name)
        if value != builtin[name]:
            values[key] = validate_leaf(key, value, "operator")
    if locks is None:
        locks = getattr(settings, "locked_keys", None) or ()
    locked = frozenset(locks)
    for key in sorted(locked):
        if key not in KEYS and key not in SECTIONS:
            raise ConfigError(
                f"operator: cannot lock unknown key '{key}'{suggest_dotted(key)}", key=key
            )
    return OperatorPolicy(values=values, locked=locked)


def _file_defaults(path: Path) -> dict[str, Any]:
    """The keys an organisation-wide file (same format as the repository's) writes."""
    written = _leaves(read_config_file(str(path)), explicit_only=True)
    # `model.default: null` means "no choice here", as in a repository file.
    return {k: v for k, v in written.items() if not (k == "model.default" and v is None)}


def _leaves(config: RepoConfig, *, explicit_only: bool) -> dict[str, Any]:
    """Dotted key → value; with `explicit_only`, only the keys the file really wrote."""
    out: dict[str, Any] = {}
    for name in RepoConfig.model_fields:
        if explicit_only and name not in config.model_fields_set:
            continue
        value = getattr(config, name)
        if not isinstance(value, BaseModel):
            out[name] = value
            continue
        for sub in type(value).model_fields:
            if not explicit_only or sub in value.model_fields_set:
                out[f"{name}.{sub}"] = getattr(value, sub)
    return out


def _nest(values: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in values.items():
        section, _, leaf = key.partition(".")
        if leaf:
            nested.setdefault(section, {})[leaf] = value
        else:
            nested[section] = value
    return nested


def resolve(
    operator: Settings | OperatorPolicy,
    repo_config: RepoConfig | None = None,
    cli_overrides: Mapping[str, Any] | None = None,
) -> EffectiveConfig:
    """Merge built-in defaults < operator < repository file < command line, key by key.

    `cli_overrides` maps dotted keys to values; a None value means "flag not given". Whoever
    types the command line is the operator, so it also passes locks and budget ceilings. A
    repository value refused by a lock or a ceiling is named in `notices`, never dropped
    silently.
    """
    policy = operator if isinstance(operator, OperatorPolicy) else operator_policy(operator)
    values = _leaves(RepoConfig(), explicit_only=False)
    values["model.default"] = DEFAULT_MODEL
    sources: dict[str, Source] = dict.fromkeys(values, "default")
    for key, value in policy.values.items():
        values[key], sources[key] = value, "operator"
    notices: list[str] = []
    explicit = _leaves(repo_config, explicit_only=True) if repo_config is not None else {}
    for key, value in explicit.items():
        if key == "model.default" and value is None:
            continue  # null: "the operator's default", which is already there
        if key in BUDGET_KEYS:
            ceiling = policy.values.get(key)
            if ceiling is not None and (value is None or value > ceiling):
                asked = "no limit" if value is None else f"${value}"
                notices.append(
                    f"{key}: the repository asks for {asked}, above the operator's maximum "
                    f"of ${ceiling}; using ${ceiling}"
                )
                continue
        elif policy.is_locked(key):
            if value != values[key]:
                notices.append(
                    f"{key}: locked by the operator at {_display(key, values[key])}; "
                    f"the repository's {_display(key, value)} is ignored"
                )
            continue
        values[key], sources[key] = value, "repository"
    for key, value in (cli_overrides or {}).items():
        if value is None:
            continue
        values[key] = validate_leaf(key, value, "command line")
        sources[key] = "command line"
    merged = RepoConfig.model_validate(_nest(values))
    return EffectiveConfig(config=merged, sources=sources, notices=tuple(notices))


# --- the effective configuration -----------------------------------------------------------


@dataclass(frozen=True)
class EffectiveConfig:
    """The merged values, where each dotted key came from, and what a lock or ceiling refused.

    `config.model.default` is never None here: it holds the model actually used by default.
    """

    config: RepoConfig
    sources: Mapping[str, Source]
    notices: tuple[str, ...] = ()

    @property
    def model(self) -> str:
        return self.config.model.default or DEFAULT_MODEL

    def value(self, key: str) -> Any:
        """The effective value of one dotted key, e.g. `output.max_comments`."""
        section, _, leaf = key.partition(".")
        holder = getattr(self.config, section)
        return getattr(holder, leaf) if leaf else holder

    def choose_model(self, paths: Sequence[str], changed_lines: int) -> str:
        """The model of the first routing rule that matches, else the default model.

        `paths` are the PR's reviewable files (after filtering); `changed_lines` counts their
        added plus removed lines.
        """
        for rule in self.config.model.routing:
            if rule.matches(paths, changed_lines):
                return rule.model
        return self.model

    def review_event(self, severities: Iterable[Severity]) -> Literal["COMMENT", "REQUEST_CHANGES"]:
        """The GitHub review event: REQUEST_CHANGES when a posted finding reaches the bar."""
        bar = self.config.output.request_changes_on
        if bar is not None and any(s.at_least(bar) for s in severities):
            return "REQUEST_CHANGES"
        return "COMMENT"

    def rows(self) -> list[tuple[str, str, Source]]:
        """(dotted key, displayed value, source) for every key, in schema order."""
        return [(key, _display(key, self.value(key)), self.sources[key]) for key in KEYS]

    def to_markdown_details(self) -> str:
        """A collapsed `<details>` block for the review summary."""
        lines = [
            "<details>",
            "<summary>Review configuration</summary>",
            "",
            "| Key | Value | Source |",
            "| --- | --- | --- |",
        ]
        lines += [f"| `{k}` | {_md_cell(v)} | {s} |" for k, v, s in self.rows()]
        if self.notices:
            lines.append("")
            lines += [f"- {_md_cell(notice)}" for notice in self.notices]
        lines += ["", "</details>"]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: nested values (amounts as strings), sources by dotted key, notices."""
        return {
            "values": self.config.model_dump(mode="json"),
            "sources": {key: self.sources[key] for key in KEYS},
            "notices": list(self.notices),
        }


_NULL_MEANS = {
    "budget.monthly_usd": "no limit",
    "budget.per_review_usd": "no limit",
    "output.request_changes_on": "never",
    "output.fail_on": "never",
    "output.check_run": "on for the App, off for the Action and the CLI",
    "model.default": "the operator's default",
    "output.language": "English (the model's default)",
}


def _display(key: str, value: Any) -> str:
    if value is None:
        return _NULL_MEANS.get(key, "null")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"${value}"
    if isinstance(value, tuple):
        if not value:
            return "(none)"
        if isinstance(value[0], PathInstruction):
            return "; ".join(f"{r.path}: {_short(r.instructions)}" for r in value)
        if isinstance(value[0], RoutingRule):
            return "; ".join(r.describe() for r in value)
        return ", ".join(str(v) for v in value)
    if key == "instructions":
        return _short(value) if value else "(none)"
    return str(value)


def _short(text: str, limit: int = 60) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    if len(first) > limit or first != text.strip():
        return first[: limit - 3].rstrip() + f"... ({len(text)} characters)"
    return first


def _md_cell(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")
