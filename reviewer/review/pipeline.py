"""The review use case: request → target → plan → Claude → anchors → one published review."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from reviewer.config.effective import resolve
from reviewer.config.repo import load_repo_config
from reviewer.config.schema import RepoConfig
from reviewer.core.chunking import plan_chunks
from reviewer.core.diff import changed_line_count, parse_diff
from reviewer.core.filters import FileDecision, select_files
from reviewer.core.models import model_spec
from reviewer.core.prompt import PromptContext, prefix_tokens
from reviewer.core.render import context_size
from reviewer.core.reports import ChunkReport
from reviewer.core.summary import plural
from reviewer.core.tokens import estimate_from_size, input_budget
from reviewer.errors import ConfigError
from reviewer.model import (
    Plan,
    ProgressFn,
    ReviewRequest,
    ReviewResult,
    ReviewTarget,
)
from reviewer.review import history
from reviewer.review.batch_mode import choose_mode, run_batch
from reviewer.review.check_run import with_check_run
from reviewer.review.checkout import read_context, read_guidance, worktree_reader
from reviewer.review.fetch import fetch_target
from reviewer.review.finish import context_report, file_reports, finish_review, posting_key
from reviewer.review.model_run import call_model
from reviewer.review.ports import PullRequests, ReviewServices
from reviewer.spend.pricing import estimate_cost

# Findings for one chunk rarely need more; the dry-run estimate assumes this many output tokens.
ESTIMATED_OUTPUT_TOKENS_PER_CHUNK = 1_000


def run_review(
    request: ReviewRequest,
    services: ReviewServices,
    *,
    progress: ProgressFn | None = None,
) -> ReviewResult:
    """Review what `request` names and return what happened; post to GitHub unless dry-run.

    Transient failures (GitHub 5xx, Anthropic overload after the SDK's own retries) raise a
    ReviewerError whose `retryable` is true, before anything was posted; everything else ends
    in a ReviewResult.
    """
    say = progress or (lambda _message: None)
    prepared = prepare(request, services, say)
    if isinstance(prepared, ReviewResult):
        return prepared
    target, gh = prepared

    def review() -> ReviewResult:
        return _review(request, services, target, gh, say)

    return with_check_run(request, services.settings, target, gh, review, say)


def prepare(
    request: ReviewRequest, services: ReviewServices, say: ProgressFn
) -> tuple[ReviewTarget, PullRequests | None] | ReviewResult:
    """What is under review (a local diff, or the pull request fetched), or why not."""
    if request.diff_text is not None and request.pr_number is None:
        target = ReviewTarget(
            repo=request.repo,
            diff=parse_diff(request.diff_text),
            repo_config=_local_repo_config(request.config_path),
        )
        if request.checkout is not None:
            _local_files(target, request.checkout, services)
        return target, None
    if request.pr_number is None:
        raise ConfigError("a review needs a diff or a pull request number")
    gh = services.pull_requests(request.installation_id)
    fetched = fetch_target(request, services.settings, gh, say, marker_key=services.marker_key)
    if isinstance(fetched, ReviewResult):
        return fetched
    return fetched, gh


def _local_files(target: ReviewTarget, checkout: str, services: ReviewServices) -> None:
    """A local diff's context and guidance come from the working tree, as it is now."""
    read = worktree_reader(checkout)
    guidance = resolve(services.settings, target.repo_config, {}).config.guidance
    target.guidance, applied = read_guidance(
        read, guidance.files, guidance.max_bytes, source="the working tree"
    )
    if applied:
        target.notes.append(applied)
    target.read_head = read


def _local_repo_config(path: str | None) -> RepoConfig | None:
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", path=path) from exc
    return load_repo_config(text, source=path)


def plan_review(request: ReviewRequest, services: ReviewServices, target: ReviewTarget) -> Plan:
    """Everything short of calling the model: config, filters, model choice, chunks, estimate."""
    settings = services.settings
    overrides: dict[str, Any] = {"model.default": request.model} if request.model else {}
    if request.context:
        overrides["review.context"] = request.context
    config = resolve(settings, target.repo_config, overrides)
    paths = config.config.paths
    decisions = select_files(target.diff, include=paths.include, exclude=paths.exclude)
    files = [d.file for d in decisions if d.reviewed]
    model = config.choose_model([f.path for f in files], changed_line_count(files))
    price = services.prices.price(model)  # unknown model: error, no spend
    context = PromptContext(
        repo=target.repo,
        title=target.title,
        description=target.description,
        instructions=config.config.instructions,
        path_instructions=tuple((rule.path, rule.instructions) for rule in paths.instructions),
        guidance=target.guidance,
        language=config.config.output.language or "",
    )
    if len(files) > 1:
        context = dataclasses.replace(context, files=tuple(f.path for f in files))
    prefix = prefix_tokens(context, model)
    try:
        budget = input_budget(
            model,
            system_tokens=prefix,
            output_reserve=model_spec(model).output_tokens(settings.max_output_tokens),
            max_chunk_tokens=settings.max_chunk_tokens,
        )
    except ValueError as exc:  # the prompt and the output reserve leave no room
        raise ConfigError(str(exc), key="max_output_tokens") from exc
    extra = read_context(files, config.config.review.context, target.read_head)
    too_long: dict[str, str] = {}
    chunks = plan_chunks(files, budget_tokens=budget, model=model, context=extra, too_long=too_long)
    if too_long:  # skipped with the reason, so the rest is still reviewed
        decisions = tuple(
            FileDecision(d.file, False, too_long[d.file.path]) if d.file.path in too_long else d
            for d in decisions
        )
    if len(chunks) < 2 and context.files:
        # One request holds every file: the list would repeat them, uncached.
        context = dataclasses.replace(context, files=())
        prefix = prefix_tokens(context, model)
    input_tokens = sum(c.estimated_input_tokens + prefix for c in chunks)
    cost = estimate_cost(
        price,
        input_tokens=input_tokens,
        output_tokens=ESTIMATED_OUTPUT_TOKENS_PER_CHUNK * len(chunks),
    )
    context_tokens = sum(
        estimate_from_size(*context_size(part.context), model)
        for chunk in chunks
        for part in chunk.parts
    )
    return Plan(
        model, config, decisions, chunks, context, prefix, input_tokens, cost,
        context_tokens=context_tokens, changed_lines=changed_line_count(files),
    )  # fmt: skip


def _review(
    request: ReviewRequest,
    services: ReviewServices,
    target: ReviewTarget,
    gh: PullRequests | None,
    say: ProgressFn,
) -> ReviewResult:
    plan = plan_review(request, services, target)
    files = file_reports(plan.decisions)
    say(
        f"{sum(f.reviewed for f in files)} of {plural(len(files), 'file')} to review in "
        f"{plural(len(plan.chunks), 'chunk')} with {plan.model}"
    )
    base = ReviewResult(
        status="dry_run",
        model=plan.model,
        head_sha=target.head_sha,
        files=files,
        chunks=tuple(
            ChunkReport(c.index, c.files, c.estimated_input_tokens + plan.prefix_tokens)
            for c in plan.chunks
        ),
        estimated_input_tokens=plan.estimated_input_tokens,
        estimated_cost_usd=plan.estimated_cost_usd,
        extra={"notes": list(target.notes), "context": context_report(plan)},
    )
    if request.dry_run:
        return base
    if choose_mode(request, services.settings, plan, target) == "batch":
        return run_batch(request, services, target, plan, gh, say)
    follow = history.follow_up(request, services, target, gh, plan.config.config.conversation)
    run = call_model(request, services, target, plan, say)
    return finish_review(
        request, target, plan, run, gh, say, marker_key=posting_key(services, gh), follow=follow
    )
