"""One evaluation case: a manifest (labels, language) and the unified diff it describes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from reviewer.core.diff import PullRequestDiff, parse_diff
from reviewer.core.lines import Side
from reviewer.core.scoring import Label
from reviewer.errors import ConfigError, DiffParseError

_MANIFEST_KEYS = frozenset({"language", "description", "labels"})
_LABEL_KEYS = frozenset({"path", "line", "end_line", "class", "side", "note"})


@dataclass(frozen=True)
class Case:
    """A change with known problems (`labels`), or a clean one (no labels)."""

    name: str
    language: str
    description: str
    labels: tuple[Label, ...]
    diff_text: str
    diff: PullRequestDiff

    @property
    def clean(self) -> bool:
        return not self.labels


def parse_case(name: str, manifest_text: str, diff_text: str) -> Case:
    """Check a case's manifest and diff; every label must name a line the diff shows.

    A label on the new side (RIGHT, the default) names an added or context line by its new
    number; a label on LEFT names a removed line by its old number, as a finding would cite it.
    `end_line` makes a label span lines (a read-modify-write), both ends in the diff.
    """
    where = f"case {name}"
    try:
        data = yaml.safe_load(manifest_text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: the manifest is not YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the manifest must be a mapping")
    unknown = sorted(set(map(str, data)) - _MANIFEST_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    language = _text(data, "language", where)
    description = _text(data, "description", where)
    raw_labels = data.get("labels")
    if not isinstance(raw_labels, list):
        raise ConfigError(f"{where}: labels must be a list ([] for a clean change)")
    try:
        diff = parse_diff(diff_text)
    except DiffParseError as exc:
        raise ConfigError(f"{where}: the diff does not parse: {exc.message}") from exc
    if not diff.files:
        raise ConfigError(f"{where}: the diff changes no file")
    labels = tuple(_label(item, where, diff) for item in raw_labels)
    return Case(name, language, description, labels, diff_text, diff)


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _label(item: Any, where: str, diff: PullRequestDiff) -> Label:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: each label is a mapping with path, line and class")
    unknown = sorted(set(map(str, item)) - _LABEL_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown label key(s) {', '.join(unknown)}")
    path, line, problem = item.get("path"), item.get("line"), item.get("class")
    side = item.get("side", "RIGHT")
    note = item.get("note", "")
    if not isinstance(path, str) or not isinstance(problem, str) or not isinstance(note, str):
        raise ConfigError(f"{where}: a label needs path and class as strings")
    if isinstance(line, bool) or not isinstance(line, int) or line < 1:
        raise ConfigError(f"{where}: {path}: line must be a positive integer")
    if side not in ("RIGHT", "LEFT"):
        raise ConfigError(f"{where}: {path}:{line}: side must be RIGHT or LEFT")
    end_line = item.get("end_line")
    if end_line is not None and (
        isinstance(end_line, bool) or not isinstance(end_line, int) or end_line <= line
    ):
        raise ConfigError(f"{where}: {path}:{line}: end_line must be a line after line")
    for number in (line, end_line):
        if number is not None and (path, Side(side), number) not in diff.commentable:
            shown = "a new" if side == "RIGHT" else "an old (removed)"
            raise ConfigError(f"{where}: {path}:{number} is not {shown} line the diff shows")
    return Label(path=path, line=line, problem=problem, side=side, note=note, end_line=end_line)
