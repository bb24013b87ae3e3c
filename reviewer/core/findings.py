"""The finding a model reports, its JSON schema, and validation that drops bad items alone."""

from __future__ import annotations

import copy
import functools
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    NIT = "nit"

    @property
    def rank(self) -> int:
        """0 for the most severe; sort ascending to put critical first."""
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank <= other.rank


_RANK = {Severity.CRITICAL: 0, Severity.MAJOR: 1, Severity.MINOR: 2, Severity.NIT: 3}

Category = Literal[
    "bug", "security", "performance", "concurrency", "error-handling", "api-misuse",
    "maintainability", "tests", "docs", "style",
]  # fmt: skip


class Finding(BaseModel):
    """One problem the model found, cited by the line numbers rendered in the prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, description="The file's path exactly as the diff shows it.")
    line: int = Field(
        ge=1,
        description="The number that starts the cited line in the diff: its new-file number "
        "for an added or context line, its old-file number for a removed line.",
    )
    start_line: int | None = Field(
        default=None, ge=1, description="For a range: its first line, in the same hunk."
    )
    side: Literal["RIGHT", "LEFT"] = Field(
        default="RIGHT",
        description="LEFT for a removed (-) line, RIGHT for an added (+) or context line.",
    )
    severity: Severity
    category: Category
    title: str = Field(min_length=1, max_length=200, description="One line.")
    body: str = Field(min_length=1, description="What is wrong and why, in Markdown.")
    suggestion: str | None = Field(
        default=None, description="Replacement code for the cited lines, if any."
    )
    # Required in the schema sent to the model (see _schema); 1.0 when an answer lacks it.
    confidence: float = Field(
        default=1.0,
        description="How sure you are that this is a real problem, from 0 (a guess) to 1 "
        "(certain).",
    )

    @field_validator("confidence", mode="before")
    @classmethod
    def _clamp_confidence(cls, value: Any) -> Any:
        # The API's schema subset has no numeric bounds: a model may answer 1.2 or -0.1.
        # Clamped, not dropped: the finding itself may be good. NaN and non-numbers fail.
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ValueError("confidence must be a number from 0 to 1")
        return min(1.0, max(0.0, float(value)))


class InvalidOutputError(ValueError):
    """The model's answer is not the JSON object the schema asks for."""


class _FindingsReply(BaseModel):
    """The object the model answers with."""

    model_config = ConfigDict(extra="forbid")

    findings: list[Finding]


# Structured outputs accept a subset of JSON Schema: no numeric or string-length bounds, no
# defaults, `additionalProperties: false` on every object, minItems only 0 or 1, a short list
# of string formats. A bound the API does not accept moves into the description as a hint;
# pydantic still enforces it when the answer is validated.
_KEPT = frozenset({"type", "properties", "required", "items", "enum", "const", "anyOf", "allOf"})
_DROPPED = frozenset({"title", "additionalProperties", "$defs", "$ref", "description"})
_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)
_ACCEPTED_VALUES = frozenset({("minItems", 0), ("minItems", 1)} | {("format", f) for f in _FORMATS})
_HINTS = {
    "minLength": "at least {} character(s)",
    "maxLength": "at most {} characters",
    "minimum": "at least {}",
    "maximum": "at most {}",
    "default": "default {}",
}


def _adapt(node: dict[str, Any]) -> dict[str, Any]:
    """Return `node` in the dialect structured outputs accept (recursively)."""
    if "$ref" in node:
        return {"$ref": node["$ref"]}
    out: dict[str, Any] = {}
    hints: list[str] = []
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _adapt(sub) for name, sub in value.items()}
        elif key == "items":
            out[key] = _adapt(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            # oneOf is not accepted; with disjoint branches anyOf means the same.
            out["allOf" if key == "allOf" else "anyOf"] = [_adapt(sub) for sub in value]
        elif key in _KEPT:
            out[key] = list(value) if isinstance(value, list) else value
        elif isinstance(value, str | int) and (key, value) in _ACCEPTED_VALUES:
            out[key] = value
        elif key not in _DROPPED:
            hints.append(_HINTS.get(key, key + ": {}").format(json.dumps(value)))
    if out.get("type") == "object":
        out["additionalProperties"] = False
        out.setdefault("required", [])
        out.setdefault("properties", {})
    description = node.get("description")
    if hints:
        description = f"{description} " if description else ""
        description += "(" + "; ".join(sorted(hints)) + ")"
    if description:
        out["description"] = description
    return out


@functools.cache
def _schema() -> dict[str, Any]:
    raw = _FindingsReply.model_json_schema()
    finding = raw["$defs"]["Finding"]
    # The model must always say how sure it is; a default only covers older answers.
    finding["required"] = [*finding.get("required", []), "confidence"]
    finding["properties"]["confidence"].pop("default", None)
    schema = _adapt(raw)
    schema["$defs"] = {name: _adapt(sub) for name, sub in raw.get("$defs", {}).items()}
    return schema


def findings_json_schema() -> dict[str, Any]:
    """Return the JSON schema of the answer, `{"findings": [Finding, ...]}`, for
    `output_config={"format": {"type": "json_schema", "schema": ...}}`."""
    return copy.deepcopy(_schema())


_FINDING = TypeAdapter(Finding)


def parse_findings(text: str) -> tuple[list[Finding], int]:
    """Parse the model's answer into (valid findings, count of dropped items).

    Each item is validated alone: one bad finding is dropped and counted, the rest stay.
    Raises InvalidOutputError when the text is not a JSON object with a `findings` list.
    """
    body = text.strip()
    # Structured outputs never fence the JSON, but a model answering without them might.
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidOutputError(f"answer is not JSON: {exc.msg} at char {exc.pos}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise InvalidOutputError("answer is not an object with a findings list")
    findings: list[Finding] = []
    dropped = 0
    for item in data["findings"]:
        try:
            findings.append(_FINDING.validate_python(item))
        except ValidationError:
            dropped += 1
    return findings, dropped
