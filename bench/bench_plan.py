"""Plan a large synthetic diff: parse, filter and chunk time, peak memory, chunk count.

python -m bench.bench_plan [--files 2000] [--lines 200000] [--repeat 5]

Wall time on a shared machine moves by a fifth between runs. For a figure that does not,
count instructions: `--only unidiff|plan|none` runs one of them once and nothing else, so
`valgrind --tool=callgrind --callgrind-out-file=/dev/null python -m bench.bench_plan
--files 500 --lines 50000 --only X` for each X gives (X - none) / (unidiff - none).
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from unidiff.patch import PatchSet

from bench import figures
from reviewer.core.chunking import plan_chunks
from reviewer.core.diff import parse_diff
from reviewer.core.filters import select_files
from reviewer.core.prompt import PromptContext, prefix_tokens
from reviewer.core.render import ChunkPart, render_part
from reviewer.core.tokens import estimate_tokens, input_budget
from reviewer.settings import DEFAULT_MODEL, Settings


def synthetic_diff(files: int, changed_lines: int) -> str:
    """A git-style diff: `files` modified Python files sharing `changed_lines` changes.

    Each file has hunks of 5 removed and 5 added lines between 3 lines of context.
    """
    per_file = max(changed_lines // files, 10)
    hunks = per_file // 10
    out: list[str] = []
    for f in range(files):
        path = f"pkg/module_{f:05d}.py"
        out += [f"diff --git a/{path} b/{path}", "index 1111111..2222222 100644",
                f"--- a/{path}", f"+++ b/{path}"]  # fmt: skip
        old = new = 1
        for h in range(hunks):
            out.append(f"@@ -{old},11 +{new},11 @@ def function_{h}():")
            out += [f"     context_line_{h}_{i} = compute({i})" for i in range(3)]
            out += [f"-    value_{h}_{i} = old_call(arg_{i}, limit={i * 7})" for i in range(5)]
            out += [
                f"+    value_{h}_{i} = new_call(arg_{i}, limit={i * 7}, retries=3)"
                for i in range(5)
            ]
            out += [f"     trailing_{h}_{i} = finish({i})" for i in range(3)]
            old += 40
            new += 40
    return "\n".join(out) + "\n"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=("unidiff", "plan", "none"), help="run one, once")
    args = parser.parse_args()

    text = synthetic_diff(args.files, args.lines)
    settings = Settings.from_env({})
    model = DEFAULT_MODEL
    context = PromptContext(repo="bench/repo", title="A large change")
    budget = input_budget(
        model,
        system_tokens=prefix_tokens(context, model),
        output_reserve=settings.max_output_tokens,
        max_chunk_tokens=settings.max_chunk_tokens,
    )

    def plan() -> tuple[Any, ...]:
        diff = parse_diff(text)
        files = [d.file for d in select_files(diff) if d.reviewed]
        return diff, files, plan_chunks(files, budget_tokens=budget, model=model)

    if args.only is not None:
        runs_once: dict[str, Callable[[], Any]] = {
            "unidiff": lambda: PatchSet(text), "plan": plan, "none": lambda: None,
        }  # fmt: skip
        runs_once[args.only]()
        return

    # Interleaved rounds (unidiff, parse, plan, unidiff, ...), so that a busy machine slows
    # all three alike; each run starts with nothing of the previous one alive and after a
    # collection, so neither is charged for the other's garbage. Medians of `repeat` rounds.
    walls: dict[str, list[float]] = {"unidiff": [], "parse": [], "plan": []}
    runs: dict[str, Callable[[], Any]] = {
        "unidiff": lambda: PatchSet(text), "parse": lambda: parse_diff(text), "plan": plan,
    }  # fmt: skip
    for _ in range(args.repeat):
        for name, run in runs.items():
            gc.collect()
            walls[name].append(timed(run, 1)[0])
    diff, files, chunks = plan()
    t_unidiff, t_parse, t_plan = (statistics.median(walls[k]) for k in ("unidiff", "parse", "plan"))
    tracemalloc.start()
    plan()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    changed = sum(f.added + f.removed for f in diff.files)
    total_tokens = sum(chunk.estimated_input_tokens for chunk in chunks)
    whole_files = sum(
        estimate_tokens(render_part(ChunkPart(f.path, f.status, f.hunks, f.old_path)), model)
        for f in files
    )
    lower = math.ceil(whole_files / budget)
    print(f"diff: {len(diff.files):,} files, {changed:,} changed lines, {len(text) / 1e6:.1f} MB")
    print(f"unidiff PatchSet parse:      {t_unidiff:7.2f} s (median of {args.repeat})")
    print(f"reviewer parse_diff:         {t_parse:7.2f} s  ({t_parse / t_unidiff:.2f}x unidiff)")
    print(f"plan (parse+filter+chunk):   {t_plan:7.2f} s  ({t_plan / t_unidiff:.2f}x unidiff)")
    print(f"peak traced memory of plan:  {peak / 2**20:7.1f} MiB")
    if args.files == 2000 and args.lines == 200_000:
        ratio = t_plan / t_unidiff
        figures.record("plan_ratio", ratio, f"{ratio:.2f}")
    print(
        f"chunk budget {budget:,} tokens; chunks {len(chunks):,}; lower bound "
        f"ceil({whole_files:,} / {budget:,}) = {lower:,} ({len(chunks) / lower:.3f}x)"
    )
    print(f"estimated input tokens in chunks: {total_tokens:,}")


if __name__ == "__main__":
    main()
