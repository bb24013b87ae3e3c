"""The evaluation use case, and the dataset shipped with the package."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from reviewer.core.evalcase import Case
from reviewer.core.lines import Side
from reviewer.errors import ClaudeError, ConfigError
from reviewer.model import ChunkReport, ReviewRequest, ReviewResult
from reviewer.review.evaluate import BUILTIN_DATASET, evaluate, load_dataset
from reviewer.review.ports import ReviewServices
from reviewer.services import Services
from reviewer.settings import Settings

SHIPPED = sorted(p.stem for p in BUILTIN_DATASET.glob("*.yaml"))


@pytest.fixture(scope="module")
def shipped() -> dict[str, Case]:
    return {c.name: c for c in load_dataset(BUILTIN_DATASET).cases}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_case_parses_and_its_labels_are_lines_of_its_diff(
    name: str, shipped: dict[str, Case]
) -> None:
    case = shipped[name]
    assert (BUILTIN_DATASET / f"{name}.diff").read_text() == case.diff_text
    for label in case.labels:
        for line in (label.line, label.end_line or label.line):
            assert (label.path, Side(label.side), line) in case.diff.commentable
        assert label.problem.strip()
    changed = sum(f.added + f.removed for f in case.diff.files)
    assert 10 <= changed <= 80, f"{name}: {changed} changed lines"
    assert name.startswith(("py-", "js-", "ts-", "go-", "java-", "rust-"))
    assert ("-clean-" in name) == case.clean


def test_the_shipped_dataset_is_large_and_varied(shipped: dict[str, Case]) -> None:
    assert set(SHIPPED) == set(shipped)
    buggy = [c for c in shipped.values() if not c.clean]
    clean = [c for c in shipped.values() if c.clean]
    assert len(buggy) >= 40 and len(clean) >= 15
    languages = Counter(c.language for c in buggy)
    assert len(languages) >= 4 and min(languages.values()) >= 4
    classes = Counter(label.problem for c in buggy for label in c.labels)
    assert len(classes) >= 10
    for problem in ("off-by-one", "missing await", "injection", "race", "resource leak",
                    "wrong error handling", "null dereference", "wrong comparison",
                    "integer overflow", "unchecked error"):  # fmt: skip
        assert classes[problem] >= 1, problem


def test_cases_glob_filters_by_name() -> None:
    dataset = load_dataset(BUILTIN_DATASET, "go-*")
    assert dataset.name == "builtin" and dataset.repo == "eval/builtin"
    assert dataset.cases and all(c.name.startswith("go-") for c in dataset.cases)


def test_a_glob_matching_nothing_or_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no case matching 'cobol-\\*'"):
        load_dataset(BUILTIN_DATASET, "cobol-*")
    with pytest.raises(ConfigError, match="not a dataset directory"):
        load_dataset(tmp_path / "missing")


def test_a_manifest_without_its_diff_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "py-x.yaml").write_text("language: python\ndescription: d\nlabels: []\n")
    with pytest.raises(ConfigError, match=r"case py-x: cannot read .*py-x\.diff"):
        load_dataset(tmp_path)


class ScriptedReview:
    """Stands in for run_review: one result (or error) per case, and a clock it advances."""

    def __init__(self, outcomes: dict[str, ReviewResult | Exception]) -> None:
        self.outcomes = outcomes
        self.requests: list[ReviewRequest] = []
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def __call__(self, request: ReviewRequest, services: ReviewServices) -> ReviewResult:
        self.requests.append(request)
        self.now += 2.5
        name = next(n for n in self.outcomes if f"{n}.py" in (request.diff_text or ""))
        outcome = self.outcomes[name]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _dataset(tmp_path: Path, names: list[str]) -> Path:
    for name in names:
        lines = "".join(f"+line {i}\n" for i in range(1, 13))
        (tmp_path / f"{name}.diff").write_text(
            f"diff --git a/{name}.py b/{name}.py\nnew file mode 100644\n--- /dev/null\n"
            f"+++ b/{name}.py\n@@ -0,0 +1,12 @@\n{lines}"
        )
        labels = "[]" if name.startswith("clean") else f"[{{path: {name}.py, line: 5, class: c}}]"
        (tmp_path / f"{name}.yaml").write_text(
            f"language: python\ndescription: d\nlabels: {labels}\n"
        )
    return tmp_path


def test_evaluate_asks_like_a_local_review_and_keeps_going_after_a_failed_case(
    tmp_path: Path,
) -> None:
    dataset = load_dataset(_dataset(tmp_path, ["down", "refused", "clean"]))
    review = ScriptedReview({
        "down": ClaudeError("overloaded", retryable=True),
        "refused": ReviewResult(status="reviewed", cost_usd=Decimal("0.5"), chunks=(
            ChunkReport(0, ("refused.py",), 10, "refused", "refusal", "cyber"),)),
        "clean": ReviewResult(status="reviewed", cost_usd=Decimal("0.25")),
    })  # fmt: skip
    [report] = evaluate(
        dataset, ["claude-haiku-4-5"], Services(Settings()), review=review, clock=review.clock
    )
    request = review.requests[0]
    assert (request.repo, request.model, request.trigger) == (
        "eval/" + tmp_path.name, "claude-haiku-4-5", "cli",
    )  # fmt: skip
    assert not request.post and not request.dry_run and request.pr_number is None
    assert request.mode == "realtime"  # explicit: no operator or repository mode applies
    errors = {c.case: c.error for c in report.cases}
    assert errors == {"down": "overloaded", "refused": "chunk 0: cyber", "clean": None}
    s = report.summary
    assert (s.errors, s.found, s.labels, s.cost_usd, s.seconds) == (2, 0, 2, Decimal("0.75"), 7.5)
    assert s.mode == "realtime"
