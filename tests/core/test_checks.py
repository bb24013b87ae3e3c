"""Check results: totals, exit code, redaction."""

from __future__ import annotations

from reviewer.core.checks import (
    counts,
    exit_code,
    fail,
    ok,
    redact,
    redact_check,
    secret_fragments,
    skip,
    warn,
)


def test_exit_code_is_one_only_when_a_check_fails() -> None:
    assert exit_code([ok("a.b", "x"), warn("a.c", "y"), skip("a.d", "z")]) == 0
    assert exit_code([ok("a.b", "x"), fail("a.c", "y")]) == 1
    assert counts([ok("a.b", "x"), fail("a.c", "y"), fail("b.c", "y")]) == {
        "ok": 1, "warn": 0, "fail": 2, "skip": 0
    }  # fmt: skip


def test_to_dict_names_the_group() -> None:
    assert fail("github.installation.octo", "found", "fix").to_dict() == {
        "name": "github.installation.octo",
        "group": "github",
        "status": "fail",
        "found": "found",
        "fix": "fix",
    }


def test_secrets_are_redacted_whole_and_line_by_line() -> None:
    pem = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEsecretline1\nsecretline2xyz\n-----END RSA…\n"
    fragments = secret_fragments([pem, "sk-ant-abc123", None, "", "abc"])
    text = "key sk-ant-abc123 and a line MIIEsecretline1 and abc"
    assert redact(text, fragments) == "key [redacted] and a line [redacted] and abc"
    check = redact_check(fail("x.y", "secretline2xyz", "use sk-ant-abc123"), fragments)
    assert (check.found, check.fix) == ("[redacted]", "use [redacted]")


def test_a_secret_containing_another_is_hidden_whole() -> None:
    fragments = secret_fragments(["password1", "redis://:password1@host:6379/0"])
    assert redact("redis://:password1@host:6379/0", fragments) == "[redacted]"
