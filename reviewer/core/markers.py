"""Hidden markers the bot leaves in what it posts, each carrying a MAC under a server key.

A marker is an HTML comment on a line of its own: `<!-- reviewer:KIND=VALUE.MAC -->`, where
MAC is HMAC-SHA256(key, KIND + 0x1f + VALUE) cut to 32 hex digits. A marker is trusted only
when its MAC verifies (and, in the GitHub adapter, only in a comment the bot wrote): one
planted in a file name, a PR description or echoed by the model cannot suppress a finding or
pass for an earlier review. Markers without a MAC (written before it existed) are ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import re

FINGERPRINT = "fp"
REVIEW = "review"
INVALID_CONFIG = "invalid-config"
MAC_HEX = 32
# Any marker of ours, MAC'd or not: what `clip` keeps at the end of a cut body.
MARKER_RE = re.compile(r"<!-- reviewer:[a-z-]+=[0-9a-f]{1,64}(?:\.[0-9a-f]{32})? -->")
_SIGNED_RE = re.compile(
    r"^<!-- reviewer:(?P<kind>[a-z-]+)=(?P<value>[0-9a-f]{1,64})\.(?P<mac>[0-9a-f]{32}) -->$",
    re.MULTILINE,
)


def mac(key: bytes, kind: str, value: str) -> str:
    """The MAC of one marker's value."""
    digest = hmac.new(key, f"{kind}\x1f{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:MAC_HEX]


def marker(key: bytes, kind: str, value: str) -> str:
    """The hidden HTML comment carrying `value` (lowercase hex) of `kind`, with its MAC."""
    return f"<!-- reviewer:{kind}={value}.{mac(key, kind, value)} -->"


def trusted_values(key: bytes, kind: str, body: str) -> set[str]:
    """The values of the markers of `kind` in `body` whose MAC verifies under `key`."""
    found: set[str] = set()
    for match in _SIGNED_RE.finditer(body):
        if match["kind"] != kind:
            continue
        if hmac.compare_digest(match["mac"], mac(key, kind, match["value"])):
            found.add(match["value"])
    return found
