"""Turn a verified delivery body into a payload, and read its fields by type or refuse it."""

from __future__ import annotations

import json
import re
from typing import IO, Any
from urllib.parse import parse_qs

_CHUNK = 64 * 1024
FORM = "application/x-www-form-urlencoded"
_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class BadDelivery(Exception):
    """A signed delivery whose body is not what GitHub sends; the message is the reason."""


def read_limited(stream: IO[bytes], limit: int) -> bytes | None:
    """Read the whole body, or return None as soon as it is longer than `limit`."""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)


def decode(body: bytes, content_type: str) -> dict[str, Any]:
    """The payload of a delivery sent as JSON or as a form with the JSON in `payload=`."""
    if content_type.split(";", 1)[0].strip().lower() == FORM:
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadDelivery("form body cannot be read") from exc
        values = form.get("payload")
        if not values or len(values) != 1:
            raise BadDelivery("form body has no single payload field")
        text: str | bytes = values[0]
    else:
        text = body
    try:
        payload = json.loads(text)
    except RecursionError as exc:  # the decoder stops at the interpreter's recursion limit
        raise BadDelivery("body is JSON nested too deeply") from exc
    except ValueError as exc:
        raise BadDelivery("body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise BadDelivery("body is not a JSON object")
    return payload


def field(payload: dict[str, Any], *path: str) -> Any:
    """The value at `path`, or BadDelivery naming the path when a level is missing."""
    value: Any = payload
    for i, key in enumerate(path):
        if not isinstance(value, dict):
            raise BadDelivery(f"{'.'.join(path[:i]) or 'body'} is not an object")
        if key not in value:
            raise BadDelivery(f"missing {'.'.join(path)}")
        value = value[key]
    return value


def obj(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    value = field(payload, *path)
    if not isinstance(value, dict):
        raise BadDelivery(f"{'.'.join(path)} is not an object")
    return value


def text(payload: dict[str, Any], *path: str, max_len: int = 1000) -> str:
    value = field(payload, *path)
    if not isinstance(value, str) or len(value) > max_len:
        raise BadDelivery(f"{'.'.join(path)} is not a string")
    return value


def optional_text(payload: dict[str, Any], *path: str) -> str | None:
    """A string that may be absent or null (a comment body, an action); its parents may not."""
    parent = obj(payload, *path[:-1]) if len(path) > 1 else payload
    value = parent.get(path[-1])
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadDelivery(f"{'.'.join(path)} is not a string")
    return value


def number(payload: dict[str, Any], *path: str) -> int:
    """A positive integer id or number (JSON true is not one)."""
    value = field(payload, *path)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise BadDelivery(f"{'.'.join(path)} is not a positive integer")
    return value


def repo_name(payload: dict[str, Any]) -> str:
    name = text(payload, "repository", "full_name")
    if not _REPO.match(name):
        raise BadDelivery("repository.full_name is not owner/name")
    return name


def sha(payload: dict[str, Any], *path: str) -> str:
    value = text(payload, *path)
    if not _SHA.match(value):
        raise BadDelivery(f"{'.'.join(path)} is not a commit SHA")
    return value
