"""Undo git's C-style quoting of file names in diff headers."""

from __future__ import annotations

from reviewer.errors import DiffParseError

_C_ESCAPES = {
    "a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92,
}  # fmt: skip


def unquote_path(path: str) -> str:
    """Undo git's C-style quoting (`"t\\303\\251st.py"` → `tést.py`); plain paths pass through."""
    if len(path) < 2 or path[0] != '"' or path[-1] != '"':
        return path
    raw = bytearray()
    i, end = 1, len(path) - 1
    while i < end:
        char = path[i]
        if char != "\\":
            raw += char.encode("utf-8", "surrogateescape")
            i += 1
            continue
        escape = path[i + 1 : i + 2]
        if escape in _C_ESCAPES:
            raw.append(_C_ESCAPES[escape])
            i += 2
        elif len(path[i + 1 : i + 4]) == 3 and all(c in "01234567" for c in path[i + 1 : i + 4]):
            raw.append(int(path[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            raise DiffParseError(f"malformed quoted path {path!r}: bad escape at offset {i}")
    # git quotes the bytes of the name; a name that is not UTF-8 keeps a visible marker.
    return raw.decode("utf-8", errors="replace")
