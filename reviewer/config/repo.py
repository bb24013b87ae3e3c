"""The repository's `.github/reviewer.yml`: its schema, and loading it with precise errors."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from reviewer.core.context import ContextMode
from reviewer.core.findings import Severity
from reviewer.core.patterns import path_spec
from reviewer.errors import ConfigError

CONFIG_PATH = ".github/reviewer.yml"

Event = Literal["opened", "reopened", "synchronize", "ready_for_review"]
EVENTS: tuple[Event, ...] = get_args(Event)
# Files teams already keep for reviewers and coding agents, read from the base branch.
GUIDANCE_FILES = ("REVIEW.md", "AGENTS.md", "CLAUDE.md", ".github/copilot-instructions.md")


def _check_pattern(pattern: str) -> str:
    if not pattern.strip():
        raise ValueError("a path pattern must not be empty")
    try:
        path_spec((pattern,))
    except ValueError as exc:
        raise ValueError(f"{pattern!r} is not a valid gitignore-style pattern") from exc
    return pattern


def _check_command(command: str) -> str:
    if not command.startswith("/") or len(command) < 2 or any(c.isspace() for c in command):
        raise ValueError("expected one word starting with /, like /review")
    return command


Pattern = Annotated[StrictStr, AfterValidator(_check_pattern)]
Patterns = tuple[Pattern, ...]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewOptions(_Section):
    auto: StrictBool = True
    events: tuple[Event, ...] = EVENTS
    drafts: StrictBool = False
    incremental: StrictBool = True
    command: Annotated[StrictStr, AfterValidator(_check_command)] = "/review"
    # realtime | batch (Message Batches, half price, within 24 h) | auto (batch what nobody
    # waits for: drafts, large pull requests, re-reviews of pushes older than an age).
    mode: Literal["realtime", "batch", "auto"] = "realtime"
    batch_min_lines: StrictInt = Field(default=2000, ge=0)
    batch_min_age_hours: StrictInt = Field(default=24, ge=0)
    context: ContextMode = "definition"


class PathInstruction(_Section):
    path: Pattern
    instructions: StrictStr = Field(min_length=1)


class PathOptions(_Section):
    include: Patterns = ()
    exclude: Patterns = ()
    instructions: tuple[PathInstruction, ...] = ()


class RoutingRule(_Section):
    """Choose `model` when every condition given holds; `when` says how `paths` must match."""

    model: StrictStr = Field(min_length=1)
    paths: Patterns | None = Field(default=None, min_length=1)
    when: Literal["any", "all"] = "any"
    min_changed_lines: StrictInt | None = Field(default=None, ge=0)
    max_changed_lines: StrictInt | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_condition_at_least(self) -> RoutingRule:
        if self.paths is None and self.min_changed_lines is None and self.max_changed_lines is None:
            raise ValueError("a rule needs paths, min_changed_lines or max_changed_lines")
        if self.paths is None and "when" in self.model_fields_set:
            raise ValueError("'when' applies only to a rule with paths")
        low, high = self.min_changed_lines, self.max_changed_lines
        if low is not None and high is not None and low > high:
            raise ValueError("min_changed_lines is above max_changed_lines")
        return self

    def matches(self, paths: Sequence[str], changed_lines: int) -> bool:
        """Whether this rule applies to a PR with these reviewable files and changed lines."""
        if self.min_changed_lines is not None and changed_lines < self.min_changed_lines:
            return False
        if self.max_changed_lines is not None and changed_lines > self.max_changed_lines:
            return False
        if self.paths is None:
            return True
        if not paths:
            return False  # "all" over no files would be vacuously true: match nothing instead
        spec = path_spec(self.paths)
        hits = (spec.match_file(p) for p in paths)
        return all(hits) if self.when == "all" else any(hits)

    def describe(self) -> str:
        """One line for the summary, e.g. `docs/** (all files) → claude-haiku-4-5`."""
        parts = []
        if self.paths is not None:
            parts.append(f"{', '.join(self.paths)} ({self.when} files)")
        if self.min_changed_lines is not None:
            parts.append(f"≥ {self.min_changed_lines} changed lines")
        if self.max_changed_lines is not None:
            parts.append(f"≤ {self.max_changed_lines} changed lines")
        return f"{' and '.join(parts)} → {self.model}"


class ModelOptions(_Section):
    default: StrictStr | None = Field(default=None, min_length=1)
    routing: tuple[RoutingRule, ...] = ()


def _check_language(language: str) -> str:
    if not language.strip() or "\n" in language or len(language) > 40:
        raise ValueError("expected a language name on one line, like German or pt-BR")
    return language.strip()


class OutputOptions(_Section):
    min_severity: Severity = Severity.NIT
    min_confidence: float = Field(default=0.0, ge=0, le=1, strict=False)
    max_comments: StrictInt = Field(default=30, ge=0)
    suggestions: StrictBool = True
    request_changes_on: Severity | None = None
    # The "Claude review" check run: failure when a finding is at or above fail_on (null:
    # never); check_run null means on for the App, off for the Action and the CLI.
    fail_on: Severity | None = None
    check_run: StrictBool | None = None
    language: Annotated[StrictStr, AfterValidator(_check_language)] | None = None

    @field_validator("min_confidence", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("expected a number from 0 to 1")
        return value


def _check_guidance_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{path!r} is not a relative path inside the repository")
    return path


class GuidanceOptions(_Section):
    """Guidance files read from the base branch into the prompt, each capped at max_bytes."""

    files: tuple[Annotated[StrictStr, AfterValidator(_check_guidance_path)], ...] = GUIDANCE_FILES
    max_bytes: StrictInt = Field(default=16_384, ge=0)


class BudgetOptions(_Section):
    monthly_usd: Decimal | None = Field(default=None, ge=0)
    per_review_usd: Decimal | None = Field(default=None, ge=0)


class RepoConfig(_Section):
    """The whole file; every section optional, an empty section or file means the defaults."""

    review: ReviewOptions = ReviewOptions()
    paths: PathOptions = PathOptions()
    instructions: StrictStr = ""
    model: ModelOptions = ModelOptions()
    output: OutputOptions = OutputOptions()
    budget: BudgetOptions = BudgetOptions()
    guidance: GuidanceOptions = GuidanceOptions()

    @field_validator("review", "paths", "model", "output", "budget", "guidance", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return {} if value is None else value  # `output:` with every line commented out

    @field_validator("model", mode="before")
    @classmethod
    def _model_id(cls, value: Any) -> Any:
        return {"default": value} if isinstance(value, str) else value  # `model: ID`

    @field_validator("instructions", mode="before")
    @classmethod
    def _empty_text(cls, value: Any) -> Any:
        return "" if value is None else value


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `tuple[RoutingRule, ...] | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _section_model(arg)
        if found is not None:
            return found
    return None


def _leaf_keys() -> tuple[str, ...]:
    keys = []
    for name, info in RepoConfig.model_fields.items():
        section = _section_model(info.annotation)
        if section is None:
            keys.append(name)
        else:
            keys.extend(f"{name}.{sub}" for sub in section.model_fields)
    return tuple(keys)


KEYS: tuple[str, ...] = _leaf_keys()
"""Every dotted key a layer can set; a list value replaces the lower layer's list whole."""
SECTIONS: tuple[str, ...] = tuple(k for k in RepoConfig.model_fields if k not in KEYS)


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
        model = _section_model(info.annotation) if info is not None else None
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
