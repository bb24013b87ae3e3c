"""A review's spend in a process of its own, for the tests that need separate workers.

python -m tests.spend.worker budget URL PREFIX MONTHLY ROUNDS
    each round: ask the budget for one call, print "ok" or "refused", wait for a line
    on stdin, then (if it was let through) record the call as billed at its worst case.
python -m tests.spend.worker review URL BASE_URL
    review one chunk through the real SDK against the fake Messages API at BASE_URL
    (the test kills this process while the fake holds the call).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import Decimal

from reviewer.errors import BudgetExceeded
from reviewer.spend.budget import Limits, ReviewSpend
from reviewer.spend.ledger import Ledger
from reviewer.spend.pricing import PriceTable
from reviewer.spend.usage import CallRecord

MODEL = "claude-sonnet-4-6"  # $3 input, $15 output per million tokens
REPO = "octo/widgets"
# Each call: 1,000 input + 1,000 output tokens at most, billed at exactly that.
WORST_CASE = Decimal("0.018")


def run_rounds(spend: ReviewSpend, rounds: int, rendezvous: Callable[[bool], None]) -> int:
    """Ask for one call per round, meet the other reviews, then bill it; return calls made."""
    made = 0
    stopped = False
    for _ in range(rounds):
        allowed = False
        if not stopped:
            try:
                spend.before_call(model=MODEL, input_tokens=1_000, max_output_tokens=1_000)
                allowed = True
            except BudgetExceeded:
                stopped = True
        # Every review has asked before any call of this round is billed: all "in flight".
        rendezvous(allowed)
        if allowed:
            spend(
                CallRecord(
                    MODEL,
                    0,
                    made + 1,
                    "ok",
                    status_code=200,
                    input_tokens=1_000,
                    output_tokens=1_000,
                )
            )
            made += 1
    return made


def _budget(url: str, prefix: str, monthly: str, rounds: str) -> None:
    def rendezvous(allowed: bool) -> None:
        print("ok" if allowed else "refused", flush=True)
        sys.stdin.readline()

    with Ledger.open(url, table_prefix=prefix) as ledger:
        spend = ReviewSpend(
            ledger,
            PriceTable.load(),
            repo=REPO,
            pr_number=1,
            head_sha=None,
            trigger="auto",
            limits=Limits(monthly_usd=Decimal(monthly)),
        )
        made = run_rounds(spend, int(rounds), rendezvous)
    print(f"made {made}", flush=True)


def _review(url: str, base_url: str) -> None:
    from reviewer.claude.client import ChunkReviewer, make_client
    from reviewer.core.chunking import Chunk
    from reviewer.core.diff import FileStatus, Hunk
    from reviewer.core.lines import DiffLine, HunkLines
    from reviewer.core.prompt import PromptContext
    from reviewer.core.render import ChunkPart
    from reviewer.settings import Settings

    settings = Settings(
        anthropic_api_key="sk-ant-test-fake",
        anthropic_base_url=base_url,
        max_retries=0,
        request_timeout_s=120.0,
    )
    lines = tuple(DiffLine("added", f"x_{n} = {n}", None, n) for n in range(1, 6))
    hunk = Hunk(
        old_start=0, old_count=0, new_start=1, new_count=5, section="", lines=HunkLines.of(lines)
    )
    chunk = Chunk(0, (ChunkPart("a.py", FileStatus.ADDED, (hunk,)),), estimated_input_tokens=400)
    with Ledger.open(url) as ledger, make_client(settings) as client:
        spend = ReviewSpend(
            ledger, PriceTable.load(), repo=REPO, pr_number=2, head_sha=None, trigger="auto"
        )
        runner = ChunkReviewer(client, model=MODEL, max_output_tokens=4_000)
        print("calling", flush=True)
        runner.review(PromptContext(repo=REPO), [chunk], sink=spend, gate=spend)
    print("finished", flush=True)  # never reached: the test kills the process mid-call


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    {"budget": _budget, "review": _review}[mode](*args)
