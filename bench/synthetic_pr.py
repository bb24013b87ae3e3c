"""The synthetic pull request of issue 17: 200 files, 580 hunks, 21,449 changed lines.

    from bench.synthetic_pr import issue_pr
    text = issue_pr()          # a git-style unified diff, the same text on every call

The shape of the PR the project was measured on against PR-Agent: 20 new files and 180
modified ones, 580 hunks in all, each modified hunk with 3 lines of context on either side;
the lines are Python-like code of varied indentation and length (identifiers, calls,
literals, numbers, comments), drawn from a seeded generator, so the text never changes.
"""

from __future__ import annotations

import random

FILES = 200
ADDED_FILES = 20
HUNKS = 580
CHANGED_LINES = 21_449
CONTEXT = 3

_NAMES = (
    "value", "result", "items", "config", "request", "response", "user", "token", "path",
    "index", "count", "limit", "offset", "payload", "headers", "session", "cache", "record",
    "buffer", "timeout", "retries", "handler", "parser", "entry", "batch", "queue", "report",
)  # fmt: skip
_CALLS = (
    "load", "fetch", "parse", "validate", "render", "update", "compute", "normalise",
    "send", "close", "open_stream", "get", "append", "encode", "decode", "lookup", "merge",
)  # fmt: skip
_TEMPLATES = (
    "{a} = {c}({b}, {d}={n})",
    "{a} = self.{b}.{c}({d})",
    "if {a} is None or {b} > {n}:",
    "return {c}({a}, {b})",
    "for {a} in {b}.{c}():",
    'raise ValueError(f"bad {a}: {{{b}!r}}")',
    "{a}.{c}({b}[{n}:{m}])",
    "# {c} the {a} before the {b} is {c}ed",
    'log.info("%s {c} %d", {a}, {b})',
    "with {c}({a}) as {b}:",
    "{a}_{b} = [{d} for {d} in {b} if {d}.{a}]",
    "assert {a} >= {n}, {b}",
    "def {c}_{a}(self, {b}: int = {n}) -> str:",
    "try:",
    "except KeyError:",
    "{a} += {n}",
    "",
)


def _line(rng: random.Random) -> str:
    template = rng.choice(_TEMPLATES)
    a, b, d = rng.sample(_NAMES, 3)
    text = template.format(
        a=a, b=b, d=d, c=rng.choice(_CALLS), n=rng.randint(0, 400), m=rng.randint(400, 5000)
    )
    if not text:
        return ""
    return " " * (4 * rng.randint(1, 3)) + text


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`parts` positive integers summing to `total`, roughly even with some spread."""
    weights = [rng.uniform(0.3, 1.7) for _ in range(parts)]
    scale = sum(weights)
    sizes = [max(1, int(total * w / scale)) for w in weights]
    sizes[-1] += total - sum(sizes)
    return sizes


def issue_pr(seed: int = 17) -> str:
    """The PR's unified diff text (git style)."""
    rng = random.Random(seed)
    modified_hunks = HUNKS - ADDED_FILES
    # Hunks per modified file: 560 over 180 files (3 or 4 each, some 1 or 2).
    per_file = _split(modified_hunks, FILES - ADDED_FILES, rng)
    sizes = _split(CHANGED_LINES, HUNKS, rng)
    out: list[str] = []
    hunk = 0
    for f in range(FILES):
        path = f"src/pkg{f % 12}/module_{f:03d}.py"
        if f < ADDED_FILES:
            lines = [_line(rng) for _ in range(sizes[hunk])]
            hunk += 1
            out += [f"diff --git a/{path} b/{path}", "new file mode 100644",
                    f"index 0000000..{f:07x}", "--- /dev/null", f"+++ b/{path}",
                    f"@@ -0,0 +1,{len(lines)} @@"]  # fmt: skip
            out += ["+" + line for line in lines]
            continue
        out += [f"diff --git a/{path} b/{path}", f"index {f:07x}..{f + 1:07x} 100644",
                f"--- a/{path}", f"+++ b/{path}"]  # fmt: skip
        old = new = rng.randint(5, 60)
        for _ in range(per_file[f - ADDED_FILES]):
            changed = sizes[hunk]
            hunk += 1
            removed = rng.randint(0, changed)
            added = changed - removed
            before = [_line(rng) for _ in range(CONTEXT)]
            after = [_line(rng) for _ in range(CONTEXT)]
            header = (
                f"@@ -{old},{removed + 2 * CONTEXT} +{new},{added + 2 * CONTEXT} @@ "
                f"def {rng.choice(_CALLS)}_{rng.choice(_NAMES)}():"
            )
            out.append(header)
            out += [" " + line for line in before]
            out += ["-" + _line(rng) for _ in range(removed)]
            out += ["+" + _line(rng) for _ in range(added)]
            out += [" " + line for line in after]
            gap = rng.randint(10, 120)
            old += removed + 2 * CONTEXT + gap
            new += added + 2 * CONTEXT + gap
    assert hunk == HUNKS
    return "\n".join(out) + "\n"
