"""Loading the repository's `.github/reviewer.yml` (or one key of it) with precise errors:
the file, the line, the dotted key and the problem."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from reviewer.config.schema import CONFIG_PATH, KEYS, SECTIONS, RepoConfig, section_model
from reviewer.errors import ConfigError

# --- loading -------------------------------------------------------------------------------


def read_config_file(path: str) -> RepoConfig:
    """Load the file at `path`, naming it in every error (missing, not UTF-8, invalid)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file", path=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text", path=path) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", path=path) from exc
    return load_repo_config(text, source=path)


def load_repo_config(text: str | None, *, source: str = CONFIG_PATH) -> RepoConfig:
    """Parse and validate the file's text; None (no file) and an empty file give the defaults.

    Raise ConfigError whose message names the file, the line, the dotted key and the problem.
    """
    if text is None:
        return RepoConfig()
    try:
        loader = yaml.SafeLoader(text)  # refuses control characters already
        try:
            root = loader.get_single_node()
            if root is not None:
                _check_keys(root, source, (), set())  # before constructing, which expands `<<:`
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_message(exc, source, text), path=source) from exc
    if root is None or data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        line = root.start_mark.line + 1
        raise ConfigError(
            f"{source}:{line}: expected keys such as 'review:' at the top level, "
            f"got {_describe(data)}",
            path=source,
        )
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, root, source) from exc


def _yaml_message(exc: yaml.YAMLError, source: str, text: str) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = f"{exc.context}, {exc.problem}" if exc.context else exc.problem
        return f"{source}:{mark.line + 1}:{mark.column + 1}: invalid YAML: {problem}"
    if isinstance(exc, yaml.reader.ReaderError):  # a control character; it has no mark
        before = text[: exc.position]
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        return (
            f"{source}:{line}:{column}: invalid YAML: character #x{exc.character:04x}"
            " is not allowed"
        )
    return f"{source}: invalid YAML: " + " ".join(str(exc).split())


def _check_keys(
    node: yaml.Node, source: str, loc: tuple[str | int, ...], visited: set[int]
) -> None:
    """Refuse duplicate keys (PyYAML keeps the last silently) and keys YAML reads as non-text."""
    if id(node) in visited:
        return  # an alias: checked where its anchor is; a recursive one would never end
    visited.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_keys(item, source, (*loc, index), visited)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: set[str] = set()
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *defaults`; keys written next to it override the merged ones
        line = key_node.start_mark.line + 1
        raw = str(key_node.value)
        key = _dotted((*loc, raw))
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
            raise ConfigError(
                f"{source}:{line}: key '{key}' is not read as text by YAML; put it in quotes",
                key=key,
                path=source,
            )
        if raw in seen:
            raise ConfigError(f"{source}:{line}: duplicate key '{key}'", key=key, path=source)
        seen.add(raw)
        _check_keys(value_node, source, (*loc, raw), visited)


def _translate(exc: ValidationError, root: yaml.Node, source: str) -> ConfigError:
    errors = exc.errors()
    located = sorted(
        ((_line_of(root, err["loc"]), n, err) for n, err in enumerate(errors)),
        key=lambda item: (item[0], item[1]),
    )
    line, _, err = located[0]
    key = _dotted(err["loc"])
    message = f"{source}:{line}: {_problem(err, key)}"
    if len(errors) > 1:
        more = len(errors) - 1
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(message, key=key, path=source)


def _problem(err: Any, key: str) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{key}'{_suggestion(err['loc'])}"
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"{key}: missing; this key is required"
    if kind in ("value_error", "assertion_error"):
        return f"{key}: {ctx.get('error', err['msg'])}"
    expected = _EXPECTED.get(kind)
    if expected is None:
        if kind in ("literal_error", "enum"):
            expected = f"expected one of {ctx.get('expected')}"
        elif kind == "greater_than_equal":
            expected = f"must be at least {ctx.get('ge')}"
        elif kind in ("too_short", "string_too_short"):
            expected = "must not be empty"
        else:
            expected = str(err["msg"]).lower()
    return f"{key}: {expected}, got {_describe(err['input'])}"


_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected text",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "model_type": "expected a mapping of keys",
    "dict_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "decimal_type": "expected an amount in US dollars, like 25 or 12.50",
    "decimal_parsing": "expected an amount in US dollars, like 25 or 12.50",
    "finite_number": "expected an amount in US dollars, like 25 or 12.50",
}


def _suggestion(loc: Sequence[str | int]) -> str:
    """` (did you mean 'x'?)` from the sibling keys, else from every dotted key."""
    name = str(loc[-1])
    siblings = _keys_at(loc[:-1])
    close = difflib.get_close_matches(name, siblings, n=1)
    if close:
        return f" (did you mean '{close[0]}'?)"
    elsewhere = [k for k in KEYS if k.rsplit(".", 1)[-1] == name]
    if elsewhere:
        return f" (did you mean '{elsewhere[0]}'?)"
    return f" (valid keys here: {', '.join(siblings)})"


def _keys_at(loc: Sequence[str | int]) -> list[str]:
    model: type[BaseModel] | None = RepoConfig
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(part)
        model = section_model(info.annotation) if info is not None else None
    return list(model.model_fields) if model is not None else []


def _line_of(root: yaml.Node, loc: Sequence[str | int]) -> int:
    """The line of the key (or list item) at `loc`, else of the deepest node found on the way."""
    node = root
    line = root.start_mark.line + 1
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line, nxt = key_node.start_mark.line + 1, value_node
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return line


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


# --- one key at a time ---------------------------------------------------------------------


def suggest_dotted(key: str) -> str:
    """` (did you mean 'x'?)` for a dotted key or section name, else nothing."""
    close = difflib.get_close_matches(key, [*KEYS, *SECTIONS], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def validate_leaf(key: str, value: Any, origin: str) -> Any:
    """Check one value of one dotted key through the schema; return the parsed value."""
    if key not in KEYS:
        raise ConfigError(f"{origin}: unknown key '{key}'{suggest_dotted(key)}", key=key)
    section, _, leaf = key.partition(".")
    data: dict[str, Any] = {section: {leaf: value}} if leaf else {section: value}
    try:
        parsed = RepoConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{origin}: {_problem(err, _dotted(err['loc']))}", key=key) from exc
    holder = getattr(parsed, section)
    return getattr(holder, leaf) if leaf else holder
