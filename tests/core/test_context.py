"""Read-only context (core/context.py) and the definitions it uses (core/definitions.py)."""

from __future__ import annotations

import itertools

import pytest

from reviewer.core.context import (
    MAX_DEFINITION_LINES,
    WINDOW_LINES,
    context_lines,
    context_ranges,
    head_lines,
)
from reviewer.core.definitions import definitions
from reviewer.core.diff import Hunk, parse_diff

PYTHON = '''\
"""Orders."""

import decimal


def total(items):
    return sum(i.price for i in items)


class Cart:
    """A cart."""

    def __init__(self, owner):
        self.owner = owner
        self.items = []

    @property
    def count(self):
        return len(self.items)

    def checkout(self, coupon=None):
        amount = total(self.items)
        if coupon:
            amount -= coupon.value
        return decimal.Decimal(amount)


def helper():
    return 1
''' + "".join(f"# filler {n}\n" for n in range(200))

TYPESCRIPT = """\
import { db } from "./db";

const PATTERN = /[{]+/g;

export class UserService {
  private cache = new Map<string, User>();

  constructor(private readonly repo: Repo) {}

  async find(id: string): Promise<User | undefined> {
    if (this.cache.has(id)) {
      return this.cache.get(id);
    }
    const user = await this.repo.load(`user:${id}:{`);
    this.cache.set(id, user);
    return user;
  }
}

export const remove = async (id: string) => {
  await db.delete(id);
};

function ratio(a: number,
               b: number): number {
  return a / b / 2;
}
""" + "".join(f"// filler {n}\n" for n in range(200))

GO = """\
package server

import "fmt"

type Server struct {
	name string
	port int
}

func (s *Server) Start() error {
	open := "{"
	raw := `}
	}`
	go func() {
		fmt.Println(open, raw, '}')
	}()
	return nil
}

func New(name string) *Server {
	return &Server{name: name}
}
""" + "".join(f"// filler {n}\n" for n in range(200))


def change(path: str, text: str, line: int, new_text: str) -> tuple[Hunk, ...]:
    """The hunks of a diff that changes `line` of `text` (1-based) to `new_text`."""
    old = head_lines(text)
    new = list(old)
    new[line - 1] = new_text
    start = max(1, line - 1)  # one line of git context, as `git diff -U1`
    end = min(len(old), line + 1)
    body = [f" {old[n - 1]}" for n in range(start, line)]
    body += [f"-{old[line - 1]}", f"+{new_text}"]
    body += [f" {old[n - 1]}" for n in range(line + 1, end + 1)]
    count = end - start + 1
    diff = (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -{start},{count} +{start},{count} @@\n" + "\n".join(body) + "\n"
    )
    [file] = parse_diff(diff).files
    return file.hunks


def head(text: str, line: int, new_text: str) -> str:
    lines = head_lines(text)
    lines[line - 1] = new_text
    return "\n".join(lines) + "\n"


def numbers(path: str, text: str, line: int, new_text: str, mode: str = "definition") -> set[int]:
    hunks = change(path, text, line, new_text)
    shown = context_lines(path, head(text, line, new_text), hunks, mode)  # type: ignore[arg-type]
    return {ln.new_line for ln in shown if ln.new_line is not None}


def test_python_method_gets_its_whole_definition_and_nothing_beyond() -> None:
    # Line 24 is `amount -= coupon.value` inside Cart.checkout (lines 21-25).
    got = numbers("shop/cart.py", PYTHON, 24, "            amount -= coupon.amount")
    assert got == {21, 22}  # 23-25 are the hunk's own lines; nothing of `total`, `__init__`


def test_python_decorated_definition_starts_at_its_decorator() -> None:
    found = definitions("a.py", head_lines(PYTHON))
    assert found is not None
    assert (17, 19) in found  # @property def count
    assert (10, 25) in found  # class Cart


def test_typescript_method_class_and_arrow_function() -> None:
    found = definitions("src/users.ts", head_lines(TYPESCRIPT))
    assert found is not None
    # The regex literal, the template with `${...}` and a `{` in a string do not confuse it.
    assert (10, 17) in found  # async find(...)
    assert (5, 18) in found  # class UserService
    assert (20, 22) in found  # export const remove = async (id) => {
    assert (24, 27) in found  # function ratio over two lines
    got = numbers("src/users.ts", TYPESCRIPT, 15, "    this.cache.set(id, user!);")
    assert 10 in got and 17 in got and 20 not in got and 5 not in got


def test_go_method_with_strings_runes_and_raw_strings() -> None:
    found = definitions("server/server.go", head_lines(GO))
    assert found is not None
    assert (5, 8) in found  # type Server struct
    assert (10, 18) in found  # func (s *Server) Start
    assert (20, 22) in found  # func New
    # Inside the goroutine's closure: the context is the named method around it.
    got = numbers("server/server.go", GO, 15, "\t\tfmt.Println(open, raw)")
    assert got == {10, 11, 12, 13, 17, 18}


def test_language_without_a_parser_gets_a_fixed_window() -> None:
    ruby = "".join(f"line_{n} = {n}\n" for n in range(1, 301))
    got = numbers("lib/thing.rb", ruby, 150, "line_150 = 0")
    assert min(got) == 150 - WINDOW_LINES and max(got) == 150 + WINDOW_LINES
    assert definitions("lib/thing.rb", head_lines(ruby)) is None


def test_hunk_mode_is_a_window_even_where_a_definition_is_known() -> None:
    got = numbers("shop/cart.py", PYTHON, 24, "            amount -= 1", mode="hunk")
    assert min(got) == 24 - WINDOW_LINES and max(got) == 24 + WINDOW_LINES


def test_a_definition_too_large_falls_back_to_the_window() -> None:
    body = "".join(f"    x{n} = {n}\n" for n in range(MAX_DEFINITION_LINES + 50))
    text = "def huge():\n" + body
    got = numbers("big.py", text, 120, "    x118 = 0")
    assert min(got) == 120 - WINDOW_LINES and 1 not in got


def test_small_file_is_sent_whole_and_file_mode_sends_larger_ones() -> None:
    small = "".join(f"v{n} = {n}\n" for n in range(1, 41))
    assert numbers("s.txt", small, 20, "v20 = 0") == set(range(1, 41)) - {19, 20, 21}
    medium = "".join(f"v{n} = {n}\n" for n in range(1, 401))
    whole = numbers("m.txt", medium, 200, "v200 = 0", mode="file")
    assert len(whole) == 400 - 3


def test_none_gives_nothing_and_a_file_that_does_not_match_the_diff_gives_nothing() -> None:
    hunks = change("shop/cart.py", PYTHON, 24, "            amount -= 1")
    assert context_lines("shop/cart.py", head(PYTHON, 24, "x"), hunks, "definition") == ()
    assert (
        context_lines("shop/cart.py", head(PYTHON, 24, "            amount -= 1"), hunks, "none")
        == ()
    )


@pytest.mark.parametrize("mode", ["hunk", "definition", "file"])
def test_ranges_are_sorted_disjoint_and_inside_the_file(mode: str) -> None:
    lines = head_lines(head(PYTHON, 24, "            amount -= 1"))
    hunks = change("shop/cart.py", PYTHON, 24, "            amount -= 1")
    ranges = context_ranges("shop/cart.py", lines, hunks, mode)  # type: ignore[arg-type]
    assert ranges
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert end + 1 < start
    assert all(1 <= a <= b <= len(lines) for a, b in ranges)
