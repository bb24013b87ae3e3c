"""Read-only context: the tokens each `review.context` setting adds per changed line.

python -m bench.bench_context [--files 300] [--changes 4] [--model claude-sonnet-4-6]

Builds a large synthetic PR over realistic files (Python 60 %, TypeScript 20 %, Go 10 %,
Ruby 10 %: a language without a parser), each 200-500 lines of functions and classes, with
`--changes` one-line edits per file in separate functions, and the head text of every file.
For each setting it reads the context as the review does (core/context.py), plans the chunks
with it (core/chunking.py, the default budget) and prints: context lines and their estimated
tokens, tokens per changed line, chunks, and the estimated input of the whole review.
"""

from __future__ import annotations

import argparse
import random
import time

from reviewer.core.chunking import plan_chunks
from reviewer.core.context import CONTEXT_MODES, context_lines
from reviewer.core.diff import changed_line_count, parse_diff
from reviewer.core.prompt import PromptContext, prefix_tokens
from reviewer.core.render import context_size
from reviewer.core.tokens import estimate_from_size, input_budget
from reviewer.settings import DEFAULT_MODEL, Settings


def _python(rng: random.Random, functions: int) -> list[str]:
    out = ['"""A module."""', "", "import os", ""]
    for n in range(functions):
        if n % 6 == 0:
            out += ["", f"class Service{n}:", f'    """Service {n}."""', ""]
        indent = "    " if n % 6 else ""
        out += [f"{indent}def handle_{n}(self, request, limit={n}):" if indent else
                f"def handle_{n}(request, limit={n}):"]  # fmt: skip
        for i in range(rng.randint(8, 22)):
            out.append(f"{indent}    value_{i} = request.get('k{i}', {i}) + limit")
        out += [f"{indent}    return value_0", ""]
    return out


def _typescript(rng: random.Random, functions: int) -> list[str]:
    out = ['import { db } from "./db";', ""]
    for n in range(functions):
        if n % 5 == 0:
            out += [f"export class Store{n} {{", "  private cache = new Map<string, number>();", ""]
        out.append(f"  async load{n}(id: string, limit = {n}): Promise<number> {{")
        for i in range(rng.randint(8, 20)):
            out.append(f"    const v{i} = await db.get(`k{i}:${{id}}`) + limit;")
        out += ["    return v0;", "  }", ""]
        if n % 5 == 4:
            out += ["}", ""]
    if out[-2] != "}":
        out += ["}", ""]
    return out


def _go(rng: random.Random, functions: int) -> list[str]:
    out = ["package store", "", 'import "fmt"', ""]
    for n in range(functions):
        out.append(f"func (s *Store) Load{n}(id string, limit int) (int, error) {{")
        for i in range(rng.randint(8, 20)):
            out.append(f'\tv{i}, err := s.get(fmt.Sprintf("k{i}:%s", id), limit)')
        out += ["\treturn v0, err", "}", ""]
    return out


def _ruby(rng: random.Random, functions: int) -> list[str]:
    out = ["module Store"]
    for n in range(functions):
        out.append(f"  def load_{n}(id, limit = {n})")
        for i in range(rng.randint(8, 20)):
            out.append(f'    v{i} = fetch("k{i}:#{{id}}") + limit')
        out += ["    v0", "  end", ""]
    return [*out, "end"]


_LANGUAGES = [("py", _python)] * 6 + [("ts", _typescript)] * 2 + [("go", _go), ("rb", _ruby)]


def synthetic_pr(files: int, changes: int, seed: int = 7) -> tuple[str, dict[str, str]]:
    """A unified diff of `files` modified files and the head text of each."""
    rng = random.Random(seed)
    diff: list[str] = []
    heads: dict[str, str] = {}
    for f in range(files):
        ext, make = _LANGUAGES[f % len(_LANGUAGES)]
        old = make(rng, rng.randint(12, 30))
        new = list(old)
        body = [i for i, line in enumerate(old) if "value_" in line or " v" in line]
        picked = sorted(rng.sample(body, min(changes, len(body))))
        for i in picked:
            new[i] = new[i].replace("limit", "limit * 2", 1)
        path = f"src/part_{f:04d}.{ext}"
        heads[path] = "\n".join(new) + "\n"
        diff += [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}"]
        diff += _hunks(old, new, picked)
    return "\n".join(diff) + "\n", heads


def _hunks(old: list[str], new: list[str], changed: list[int], context: int = 3) -> list[str]:
    groups: list[list[int]] = []
    for i in changed:
        if groups and i - groups[-1][-1] <= 2 * context:
            groups[-1].append(i)
        else:
            groups.append([i])
    out = []
    for group in groups:
        start, end = max(0, group[0] - context), min(len(old), group[-1] + context + 1)
        lines = []
        for i in range(start, end):
            if i in group:
                lines += [f"-{old[i]}", f"+{new[i]}"]
            else:
                lines.append(f" {old[i]}")
        count = end - start
        out.append(f"@@ -{start + 1},{count} +{start + 1},{count} @@")
        out += lines
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--changes", type=int, default=4, help="one-line edits per file")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args(argv)

    text, heads = synthetic_pr(args.files, args.changes)
    files = parse_diff(text).files
    changed = changed_line_count(files)
    model = args.model
    settings = Settings()
    prefix = prefix_tokens(PromptContext(repo="octo/app"), model)
    budget = input_budget(
        model, system_tokens=prefix, output_reserve=settings.max_output_tokens,
        max_chunk_tokens=settings.max_chunk_tokens,
    )  # fmt: skip
    print(
        f"PR: {len(files)} files ({sum(len(t.splitlines()) for t in heads.values()):,} head "
        f"lines), {changed:,} changed lines; model {model}; chunk budget {budget:,} tokens"
    )
    print(
        f"{'context':>10} {'lines':>8} {'tokens':>9} {'tok/changed':>11} "
        f"{'chunks':>6} {'input tokens':>12} {'vs none':>7} {'time s':>6}"
    )
    baseline = None
    for mode in CONTEXT_MODES:
        start = time.perf_counter()
        extra = {
            f.path: lines
            for f in files
            if (lines := context_lines(f.path, heads[f.path], f.hunks, mode))
        }
        chunks = plan_chunks(files, budget_tokens=budget, model=model, context=extra)
        elapsed = time.perf_counter() - start
        shown = [p.context for c in chunks for p in c.parts if p.context]
        tokens = sum(estimate_from_size(*context_size(lines), model) for lines in shown)
        total = sum(c.estimated_input_tokens + prefix for c in chunks)
        baseline = baseline or total
        print(
            f"{mode:>10} {sum(map(len, shown)):>8,} {tokens:>9,} {tokens / changed:>11.1f} "
            f"{len(chunks):>6} {total:>12,} {total / baseline:>6.2f}x {elapsed:>6.2f}"
        )


if __name__ == "__main__":
    main()
