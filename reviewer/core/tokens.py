"""Conservative, fast token estimates per Claude model family, and the input budget."""

from __future__ import annotations

import re
from functools import lru_cache

from reviewer.core.models import model_spec

# Every current Claude model has a 200k-token context window. Larger windows (1M) are opt-in
# per request (a beta header on some models), which the reviewer does not send, so assuming
# more than 200k would make the API answer "prompt is too long".
DEFAULT_CONTEXT_WINDOW = 200_000

# The proxy: tokens = ceil((utf8_bytes / 3 + lines) * factor), factor 1 for the older
# tokenizers and 1.3 for the newer ones. Why these numbers:
# - Claude's older tokenizer averages about 3.5-4 characters per token on English and
#   3-3.5 on typical source code; 3 bytes per token overshoots both, and a CJK character
#   (3 UTF-8 bytes, usually one token) still counts as one.
# - Line starts are where code tokenizes worst (a newline, an indentation run, the diff
#   gutter's numbers), hence one extra token per line.
# - The newer tokenizers (Opus 4.7+, the 5.x models, fable/mythos) count about 30% more
#   tokens for the same text, hence the factor 1.3 on the whole estimate.
# It is a budget, not a bill: `messages.count_tokens` gives exact counts when enabled.
# Integer arithmetic keeps it exact and fast: len() of a str is O(1) and isascii() is O(1)
# in CPython, so an ASCII text costs one C-speed pass (counting newlines).
_OLD = (1, 1)  # factor as a fraction: numerator, denominator
_NEW = (13, 10)

_VERSIONED = re.compile(r"(opus|sonnet|haiku)-(\d+)(?:[-.](\d{1,2}))?(?!\d)")
_LEGACY = re.compile(r"claude-\d(?:[-.]\d)?-(opus|sonnet|haiku)")
_NEWER_NAMES = ("fable", "mythos")


@lru_cache(maxsize=64)
def uses_newer_tokenizer(model: str) -> bool:
    """Whether `model` counts tokens with the newer (about 30% denser) tokenizer.

    Newer: Opus 4.7 and later, every 5.x model, the fable and mythos families. Older:
    Sonnet 4.x, Haiku 4.5, Opus 4 to 4.6, and the claude-3 models. An unknown name is
    counted as newer, so the estimate stays conservative.
    """
    name = model.lower()
    if any(family in name for family in _NEWER_NAMES):
        return True
    if _LEGACY.search(name):
        return False
    match = _VERSIONED.search(name)
    if match is None:
        return True
    family, major, minor = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if major >= 5:
        return True
    return family == "opus" and (major, minor) >= (4, 7)


def utf8_length(text: str) -> int:
    """Return the number of bytes of `text` in UTF-8, without encoding ASCII text."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def estimate_from_size(n_bytes: int, n_lines: int, model: str) -> int:
    """Estimate the tokens of a text of `n_bytes` UTF-8 bytes over `n_lines` lines.

    Monotonic in both counts and subadditive (the estimate of two texts joined is at most
    the sum of their estimates), so summing per-piece estimates never under-counts.
    """
    num, den = _NEW if uses_newer_tokenizer(model) else _OLD
    # ceil((n_bytes / 3 + n_lines) * num / den) in integers.
    return -(-(n_bytes + 3 * n_lines) * num // (3 * den))


def weight_capacity(budget_tokens: int, model: str) -> int:
    """Return the largest `n_bytes + 3 * n_lines` whose estimate fits `budget_tokens`.

    The estimate depends on that weight alone, so a packer can add weights of pieces and
    compare with this once, instead of estimating at every step.
    """
    num, den = _NEW if uses_newer_tokenizer(model) else _OLD
    return 3 * den * budget_tokens // num


def estimate_tokens(text: str, model: str) -> int:
    """Estimate, never under, the tokens `model` counts for `text` (code or prose)."""
    if not text:
        return 0
    return estimate_from_size(utf8_length(text), text.count("\n") + 1, model)


def context_window(model: str) -> int:
    """Return the context window of `model` in tokens, from data/models.json (see above)."""
    return model_spec(model).context_window


def input_budget(
    model: str, *, system_tokens: int, output_reserve: int, max_chunk_tokens: int
) -> int:
    """Return the tokens one chunk's diff may take: the context window minus the system
    prompt and shared prefix, minus the output reserve, capped at `max_chunk_tokens`.

    Raises ValueError when nothing is left for the diff.
    """
    budget = min(context_window(model) - system_tokens - output_reserve, max_chunk_tokens)
    if budget < 1:
        raise ValueError(
            f"no room for the diff: {system_tokens} prompt tokens and {output_reserve} output "
            f"tokens leave {budget} of {model}'s {context_window(model)}-token window"
        )
    return budget
