"""The evaluation use case: review every case of a dataset with each model, and score it."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from reviewer.core.evalcase import Case, parse_case
from reviewer.core.scoring import CaseScore, Summary, score_case, summarize
from reviewer.errors import ConfigError, RemoteError
from reviewer.model import ProgressFn, ReviewRequest, ReviewResult
from reviewer.review.pipeline import run_review
from reviewer.review.ports import ReviewServices

# The dataset shipped with the package: the one `reviewer eval` runs without --dataset.
BUILTIN_DATASET = Path(__file__).resolve().parent.parent / "data" / "eval" / "builtin"
MANIFEST_SUFFIX = ".yaml"
DIFF_SUFFIX = ".diff"

ReviewFn = Callable[[ReviewRequest, ReviewServices], ReviewResult]
Clock = Callable[[], float]
EvalMode = Literal["realtime", "batch"]
# The Message Batches API bills half of every rate (as spend.pricing.cost_of prices it).
BATCH_PRICE_FACTOR = Decimal("0.5")


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    cases: tuple[Case, ...]

    @property
    def repo(self) -> str:
        """The repository name its spend is recorded under in the ledger."""
        return f"eval/{self.name}"


def load_dataset(path: Path, pattern: str | None = None) -> Dataset:
    """Read every `<name>.yaml` with its `<name>.diff` under `path`, keeping names matching
    `pattern` (a glob on the case name); a case that does not check out is an error."""
    if not path.is_dir():
        raise ConfigError(f"{path}: not a dataset directory", path=str(path))
    cases = []
    for manifest in sorted(path.glob(f"*{MANIFEST_SUFFIX}")):
        name = manifest.name.removesuffix(MANIFEST_SUFFIX)
        if pattern is not None and not fnmatch.fnmatchcase(name, pattern):
            continue
        diff_path = manifest.with_suffix(DIFF_SUFFIX)
        try:
            manifest_text = manifest.read_text(encoding="utf-8")
            diff_text = diff_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"case {name}: cannot read {exc.filename}: {exc.strerror}") from exc
        cases.append(parse_case(name, manifest_text, diff_text))
    if not cases:
        wanted = f" matching {pattern!r}" if pattern else ""
        raise ConfigError(f"{path}: no case{wanted} (a case is NAME.yaml beside NAME.diff)")
    return Dataset(path.name, path, tuple(cases))


@dataclass(frozen=True)
class ModelEstimate:
    """What a dataset would cost with one model, from the dry-run plan of every case."""

    model: str
    mode: EvalMode
    cases: int
    calls: int
    input_tokens: int
    cost_usd: Decimal

    @property
    def cost_per_change(self) -> Decimal:
        return self.cost_usd / self.cases if self.cases else Decimal(0)


def estimate(
    dataset: Dataset,
    models: Sequence[str],
    services: ReviewServices,
    *,
    mode: EvalMode = "realtime",
    config_path: str | None = None,
    review: ReviewFn = run_review,
) -> list[ModelEstimate]:
    """Plan every case with every model as `reviewer review --dry-run` would: no key, no call.

    In batch mode the same plan costs half (the planner's estimate is a real-time one).
    """
    factor = BATCH_PRICE_FACTOR if mode == "batch" else Decimal(1)
    out = []
    for model in models:
        results = [
            review(_request(dataset, case, model, config_path, mode, dry_run=True), services)
            for case in dataset.cases
        ]
        out.append(
            ModelEstimate(
                model=model,
                mode=mode,
                cases=len(results),
                calls=sum(len(r.chunks) for r in results),
                input_tokens=sum(r.estimated_input_tokens for r in results),
                cost_usd=sum((r.estimated_cost_usd for r in results), Decimal(0)) * factor,
            )
        )
    return out


@dataclass(frozen=True)
class ModelReport:
    summary: Summary
    cases: tuple[CaseScore, ...]


def evaluate(
    dataset: Dataset,
    models: Sequence[str],
    services: ReviewServices,
    *,
    mode: EvalMode = "realtime",
    config_path: str | None = None,
    parallel: int = 1,
    progress: ProgressFn | None = None,
    review: ReviewFn = run_review,
    clock: Clock = time.monotonic,
) -> list[ModelReport]:
    """Review each case with each model, like `reviewer review --diff` (`--batch` in batch
    mode, waiting for each case's batch), and score the findings the review reports (inline
    and outside the diff) against the case's labels.

    `parallel` cases are reviewed at once (each with its own chunk concurrency); a model's
    wall time is from its first case's start to its last case's end.
    """
    say = progress or (lambda _message: None)
    total = len(dataset.cases)
    reports = []
    for model in models:

        def one(numbered: tuple[int, Case], model: str = model) -> CaseScore:
            number, case = numbered
            say(f"{model}: case {number}/{total} {case.name}")
            request = _request(dataset, case, model, config_path, mode, dry_run=False)
            return _score(case, request, services, review, clock)

        started = clock()
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            scores = tuple(pool.map(one, enumerate(dataset.cases, 1)))
        wall = clock() - started
        reports.append(ModelReport(summarize(model, mode, scores, seconds=wall), scores))
    return reports


def _score(
    case: Case, request: ReviewRequest, services: ReviewServices, review: ReviewFn, clock: Clock
) -> CaseScore:
    lang = case.language
    started = clock()
    try:
        result = review(request, services)
    except RemoteError as exc:  # this case failed; the others still tell something
        seconds, error = clock() - started, exc.message
        return score_case(case.name, case.labels, (), seconds=seconds, error=error, language=lang)
    return score_case(
        case.name,
        case.labels,
        result.findings,
        cost_usd=result.cost_usd,
        seconds=clock() - started,
        error=_problem(result),
        language=lang,
    )


def _request(
    dataset: Dataset,
    case: Case,
    model: str,
    config_path: str | None,
    mode: EvalMode,
    *,
    dry_run: bool,
) -> ReviewRequest:
    # The mode is always explicit: neither REVIEWER_REVIEW_MODE nor a config's review.mode
    # may turn a run labelled realtime into a batch one.
    return ReviewRequest(
        repo=dataset.repo,
        trigger="cli",
        diff_text=case.diff_text,
        dry_run=dry_run,
        post=False,
        model=model,
        config_path=config_path,
        mode=mode,
        wait=True,
    )


def _problem(result: ReviewResult) -> str | None:
    """Why a review did not cover its whole case, if it did not."""
    if result.status != "reviewed":
        return result.reason or result.status
    if result.budget_stop:
        return result.budget_stop
    bad = [c for c in result.chunks if c.status not in ("ok", "planned")]
    if bad:
        return "; ".join(f"chunk {c.index}: {c.error or c.status}" for c in bad)
    return None
