"""Requests per review: what one review of a pull request asks GitHub, endpoint by endpoint.

python -m bench.bench_requests

Two reviews of one PR through one set of services (as a worker runs them: the second is a
re-review that must see the first's review), each asked for by a `/review` command with its
own delivery id. GitHub is the test suite's `responses` fake (tests/fakes/github_api.py),
the model bench/fake_claude_server.py answering at once. Prints the requests each review
made, by method and path; the figure is how often the PR's reviews list was read.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import responses

import reviewer.github.client
from bench import figures
from bench.fake_claude_server import serve_in_subprocess
from reviewer.model import ReviewRequest
from reviewer.review.pipeline import run_review
from reviewer.services import open_services
from tests.fakes.github_api import FakeGitHub, file_item

REPO, NUMBER = "octo/app", 7
PATCH = "@@ -1,2 +1,3 @@\n import os\n-x = 1\n+x = 2\n+y = x\n"
REVIEWS = f"/repos/{REPO}/pulls/{NUMBER}/reviews"


def main() -> None:
    reviewer.github.client.WRITE_INTERVAL_S = 0.0  # no write throttling against a fake
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as rsps,
        serve_in_subprocess(0.0) as remote,
        tempfile.TemporaryDirectory(prefix="bench-requests-") as tmp,
    ):
        fake = FakeGitHub(rsps)
        fake.add_pull(REPO, NUMBER, files=[file_item("app.py", patch=PATCH)])
        settings = fake.settings(
            anthropic_api_key="sk-ant-bench-fake",
            anthropic_base_url=remote.url,
            data_dir=Path(tmp),
            max_retries=0,
        )
        per_review: list[Counter[str]] = []
        with open_services(settings) as services:
            for delivery in ("delivery-1", "delivery-2"):
                before = len(fake.calls)
                request = ReviewRequest(REPO, NUMBER, trigger="command", delivery_id=delivery)
                result = run_review(request, services)
                if result.status != "reviewed":
                    raise SystemExit(f"review {delivery}: {result.status} {result.reason}")
                per_review.append(Counter(f"{c.method} {c.path}" for c in fake.calls[before:]))
    endpoints = sorted(set().union(*per_review))
    width = max(len(e) for e in endpoints)
    print(f"{'request':<{width}}  {'review 1':>8}  {'review 2':>8}")
    for endpoint in endpoints:
        counts = [str(c[endpoint]) for c in per_review]
        print(f"{endpoint:<{width}}  {counts[0]:>8}  {counts[1]:>8}")
    print(f"{'total':<{width}}  {sum(per_review[0].values()):>8}  {sum(per_review[1].values()):>8}")
    reads = max(c[f"GET {REVIEWS}"] for c in per_review)
    print(f"reads of the reviews list per review: {reads} (goal: 1)")
    figures.record("reviews_reads", reads, str(reads))


if __name__ == "__main__":
    main()
