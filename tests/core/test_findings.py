"""Tests for the findings schema and the validation that drops bad items alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reviewer.core.findings import (
    Finding,
    InvalidOutputError,
    Severity,
    findings_json_schema,
    parse_findings,
)

# Keywords structured outputs do not accept; they must never reach the API.
_REFUSED_KEYWORDS = {
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "pattern", "default", "oneOf", "title",
}  # fmt: skip


def _schemas(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every (sub)schema of a schema, depth first; property names are not keywords."""
    found = [node]
    children: list[dict[str, Any]] = [
        *node.get("properties", {}).values(),
        *node.get("$defs", {}).values(),
        *node.get("anyOf", []),
        *node.get("allOf", []),
    ]
    if "items" in node:
        children.append(node["items"])
    for child in children:
        found.extend(_schemas(child))
    return found


def _good(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "path": "src/app.py",
        "line": 12,
        "severity": "major",
        "category": "bug",
        "title": "Off by one",
        "body": "The loop skips the last element.",
    }
    item.update(changes)
    return item


def test_schema_is_an_object_with_a_findings_array() -> None:
    schema = findings_json_schema()
    assert schema["type"] == "object"
    assert schema["required"] == ["findings"]
    assert schema["properties"]["findings"]["type"] == "array"
    finding = schema["$defs"]["Finding"]
    assert set(finding["required"]) == {
        "path", "line", "severity", "category", "title", "body", "confidence"
    }  # fmt: skip
    assert set(finding["properties"]) == set(Finding.model_fields)
    assert schema["$defs"]["Severity"]["enum"] == [s.value for s in Severity]


def test_schema_keeps_only_what_structured_outputs_accept() -> None:
    schema = findings_json_schema()
    nodes = _schemas(schema)
    assert len(nodes) > 10
    for node in nodes:
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert isinstance(node["required"], list)
        assert not (_REFUSED_KEYWORDS & set(node)), node


def test_dropped_bounds_survive_as_description_hints() -> None:
    props = findings_json_schema()["$defs"]["Finding"]["properties"]
    assert "at most 200 characters" in props["title"]["description"]
    assert "at least 1" in props["line"]["description"]


def test_schema_is_a_fresh_copy_each_time() -> None:
    first = findings_json_schema()
    first["properties"].clear()
    assert findings_json_schema()["properties"]


def test_schema_refs_resolve() -> None:
    schema = findings_json_schema()
    for node in _schemas(schema):
        if "$ref" in node:
            assert set(node) == {"$ref"}
            assert node["$ref"].removeprefix("#/$defs/") in schema["$defs"]


def test_parse_keeps_valid_findings() -> None:
    text = json.dumps({"findings": [_good(), _good(line=3, side="LEFT", suggestion="x = 1")]})
    findings, dropped = parse_findings(text)
    assert dropped == 0
    assert [f.line for f in findings] == [12, 3]
    assert findings[1].side == "LEFT"
    assert findings[0].severity is Severity.MAJOR


def test_parse_empty_findings() -> None:
    assert parse_findings('{"findings": []}') == ([], 0)


@pytest.mark.parametrize(
    "bad",
    [
        _good(line=0),
        _good(path=""),
        _good(title="x" * 201),
        _good(severity="blocker"),
        _good(category="vibes"),
        _good(side="MIDDLE"),
        _good(extra="field"),
        {k: v for k, v in _good().items() if k != "body"},
        "not an object",
        None,
        [1, 2],
    ],
)
def test_one_bad_item_is_dropped_alone(bad: Any) -> None:
    text = json.dumps({"findings": [_good(line=1), bad, _good(line=2)]})
    findings, dropped = parse_findings(text)
    assert [f.line for f in findings] == [1, 2]
    assert dropped == 1


@pytest.mark.parametrize(
    "text",
    ["", "not json", '{"findings": [', "[]", '{"other": []}', '{"findings": {}}', "42"],
)
def test_text_that_is_not_the_answer_object_raises(text: str) -> None:
    with pytest.raises(InvalidOutputError):
        parse_findings(text)
    assert issubclass(InvalidOutputError, ValueError)


def test_fenced_json_is_accepted() -> None:
    text = "```json\n" + json.dumps({"findings": [_good()]}) + "\n```"
    findings, dropped = parse_findings(text)
    assert len(findings) == 1
    assert dropped == 0


@pytest.mark.parametrize(
    ("given", "kept"), [(0.25, 0.25), (1, 1.0), (1.7, 1.0), (-0.2, 0.0), (None, None)]
)
def test_confidence_is_clamped_to_0_1_and_defaults_to_1(given: Any, kept: float | None) -> None:
    item = {
        "path": "a.py", "line": 1, "severity": "minor", "category": "bug",
        "title": "t", "body": "b",
    }  # fmt: skip
    if given is not None:
        item["confidence"] = given
    [finding], dropped = parse_findings(json.dumps({"findings": [item]}))
    assert dropped == 0
    assert finding.confidence == (1.0 if kept is None else kept)


@pytest.mark.parametrize("bad", ['"high"', "true", "NaN"])
def test_a_confidence_that_is_not_a_number_drops_the_finding(bad: str) -> None:
    text = (
        '{"findings": [{"path": "a.py", "line": 1, "severity": "minor", "category": "bug", '
        f'"title": "t", "body": "b", "confidence": {bad}}}]}}'
    )
    assert parse_findings(text) == ([], 1)
