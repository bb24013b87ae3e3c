"""Tokens a thread's history costs an answer, capped: `python -m bench.bench_history`.

Builds threads of 10 to 160 turns (each about 400 tokens) and prints the history's tokens
before and after `reviewer.core.conversation.cap_history` under the default ceiling
(`conversation.max_history_tokens: 4000`, `conversation.recent_turns: 6`).
"""

from __future__ import annotations

import argparse

from reviewer.core.conversation import Turn, cap_history
from reviewer.core.tokens import estimate_tokens

MODEL = "claude-haiku-4-5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ceiling", type=int, default=4_000)
    parser.add_argument("--recent", type=int, default=6)
    parser.add_argument("--words", type=int, default=120, help="words per turn")
    args = parser.parse_args()
    print(f"{'turns':>6} {'raw tokens':>11} {'capped':>7} {'verbatim':>9} {'summarised':>11}")
    for turns in (10, 40, 160):
        thread = [
            Turn(
                "octocat" if i % 2 == 0 else "reviewer-bot",
                f"Turn {i}: " + " ".join(f"word{i}-{j}" for j in range(args.words)),
            )
            for i in range(turns)
        ]
        raw = estimate_tokens("\n\n".join(t.text for t in thread), MODEL)
        text = cap_history(thread, recent=args.recent, max_tokens=args.ceiling, model=MODEL)
        summarised = text.count("(summarised)")
        verbatim = text.count(" wrote:\n")
        capped = estimate_tokens(text, MODEL)
        print(f"{turns:>6} {raw:>11,} {capped:>7,} {verbatim:>9} {summarised:>11}")


if __name__ == "__main__":
    main()
