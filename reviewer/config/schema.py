"""The schema of the repository's `.github/reviewer.yml`: its sections, keys and checks."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from reviewer.core.context import ContextMode
from reviewer.core.findings import Severity
from reviewer.core.patterns import path_spec

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


class ConversationOptions(_Section):
    """Answers in the bot's threads and to `/ask`, and what a re-review does with old findings."""

    enabled: StrictBool = True
    # The pull request's author may also ask, without write access (still never a bot).
    allow_author: StrictBool = False
    # A cheap model by default; "review" means the model the review would use.
    model: StrictStr = Field(default="claude-haiku-4-5", min_length=1)
    max_history_tokens: StrictInt = Field(default=4_000, ge=500)
    recent_turns: StrictInt = Field(default=6, ge=1)
    resolve_fixed: StrictBool = True
    minimize_fixed: StrictBool = False


class RepoConfig(_Section):
    """The whole file; every section optional, an empty section or file means the defaults."""

    review: ReviewOptions = ReviewOptions()
    paths: PathOptions = PathOptions()
    instructions: StrictStr = ""
    model: ModelOptions = ModelOptions()
    output: OutputOptions = OutputOptions()
    budget: BudgetOptions = BudgetOptions()
    guidance: GuidanceOptions = GuidanceOptions()
    conversation: ConversationOptions = ConversationOptions()

    @field_validator(
        "review", "paths", "model", "output", "budget", "guidance", "conversation", mode="before"
    )
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


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `tuple[RoutingRule, ...] | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = section_model(arg)
        if found is not None:
            return found
    return None


def _leaf_keys() -> tuple[str, ...]:
    keys = []
    for name, info in RepoConfig.model_fields.items():
        section = section_model(info.annotation)
        if section is None:
            keys.append(name)
        else:
            keys.extend(f"{name}.{sub}" for sub in section.model_fields)
    return tuple(keys)


KEYS: tuple[str, ...] = _leaf_keys()
"""Every dotted key a layer can set; a list value replaces the lower layer's list whole."""
SECTIONS: tuple[str, ...] = tuple(k for k in RepoConfig.model_fields if k not in KEYS)
