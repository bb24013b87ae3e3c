"""Which of the bot's threads hold which finding: only fingerprints under a valid MAC count."""

from __future__ import annotations

from reviewer.core.lifecycle import thread_fingerprints
from reviewer.core.markers import FINGERPRINT, marker
from reviewer.core.threads import ReviewThread, ThreadComment

KEY = b"k" * 32
FP = "0123456789abcdef"


def _thread(body: str, author: str = "reviewer-bot") -> ReviewThread:
    comment = ThreadComment(1, "C_1", author, author_is_bot=True, body=body)
    return ReviewThread("T_1", False, False, "a.py", 3, (comment,))


def test_a_signed_fingerprint_in_the_bots_own_comment_names_its_finding() -> None:
    body = f"**major** · bug · T\n\n{marker(KEY, FINGERPRINT, FP)}"
    assert thread_fingerprints(_thread(body), "reviewer-bot", KEY) == [FP]


def test_unsigned_forged_or_foreign_markers_name_nothing() -> None:
    unsigned = f"<!-- reviewer:fp={FP} -->"
    wrong_key = marker(b"x" * 32, FINGERPRINT, FP)
    assert thread_fingerprints(_thread(unsigned), "reviewer-bot", KEY) == []
    assert thread_fingerprints(_thread(wrong_key), "reviewer-bot", KEY) == []
    signed = marker(KEY, FINGERPRINT, FP)
    assert thread_fingerprints(_thread(signed, author="mallory"), "reviewer-bot", KEY) == []
