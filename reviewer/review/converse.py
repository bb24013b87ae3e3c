"""What answering a person shares (a reply in a thread, `/ask`): rules, who may ask, spend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from reviewer.config.effective import EffectiveConfig, resolve
from reviewer.config.repo import load_repo_config
from reviewer.config.schema import CONFIG_PATH
from reviewer.core.anchoring import sanitize
from reviewer.core.conversation import SYSTEM_PROMPT
from reviewer.core.threads import same_login
from reviewer.errors import BudgetExceeded, ConfigError
from reviewer.model import ConversationResult, PullInfo
from reviewer.review.ports import PullRequests, ReviewServices
from reviewer.spend.usage import CallRecord

BUDGET_NOTE = "I could not answer: the budget for this repository stopped the call."
FAILED_NOTE = "I could not answer this time ({reason})."


@dataclass(frozen=True)
class Asked:
    """A person's question, checked: the rules that apply and the model to answer with."""

    pull: PullInfo
    config: EffectiveConfig
    model: str


def check_asker(
    services: ReviewServices, gh: PullRequests, repo: str, number: int, login: str, is_bot: bool
) -> Asked | ConversationResult:
    """The rules (from the base branch) and the model, or why nothing is answered.

    Bots and the bot itself are ignored; only write access (or the PR's author, when the
    repository allows it) leads to paid work. Nothing here depends on what the person wrote.
    """
    if is_bot or login.endswith("[bot]") or same_login(login, gh.bot_login()):
        return ConversationResult("ignored", "written by a bot")
    pull = gh.get_pull(repo, number)
    if pull.state != "open":
        return ConversationResult("ignored", "the pull request is closed")
    # The base branch's file, never the head's: a PR must not choose who may ask, or the budget.
    path = services.settings.config_path or CONFIG_PATH
    try:
        repo_config = load_repo_config(gh.get_file_text(repo, path, pull.base_sha), source=path)
    except ConfigError as exc:
        return ConversationResult("failed", exc.message)
    config = resolve(services.settings, repo_config, {})
    options = config.config.conversation
    if not options.enabled:
        return ConversationResult("ignored", "conversation is off for this repository")
    author = options.allow_author and same_login(login, pull.author) and not pull.author_is_bot
    if not author and not gh.may_trigger(repo, login, is_bot=is_bot):
        return ConversationResult("ignored", f"{login} may not ask (no write access)")
    model = config.model if options.model == "review" else options.model
    services.prices.price(model)  # an unknown model: a ConfigError, before any spend
    return Asked(pull, config, model)


class Conversation:
    """The spend of one answer (`kind` conversation or ask), gated and ledgered per call."""

    def __init__(self, services: ReviewServices, asked: Asked, repo: str, *, kind: str) -> None:
        budget = asked.config.config.budget
        self.book = services.spend_book(
            repo=repo,
            pr_number=asked.pull.number,
            head_sha=asked.pull.head_sha,
            trigger="command",
            monthly_usd=budget.monthly_usd,
            review_usd=budget.per_review_usd,
            kind=kind,
        )
        self.answerer = services.answerer(asked.model)
        self.calls = 0

    def sink(self, record: CallRecord) -> None:
        self.calls += 1
        self.book(record)

    def ask(self, prompt: str, *, chunk_index: int = 0) -> str:
        """The model's answer; BudgetExceeded or a ClaudeError-free failure text otherwise."""
        answer = self.answerer.answer(
            system=SYSTEM_PROMPT,
            prompt=prompt,
            sink=self.sink,
            gate=self.book,
            chunk_index=chunk_index,
        )
        if answer.error or not answer.text:
            raise AnswerFailed(answer.error or "an empty answer")
        return answer.text

    @property
    def cost(self) -> Decimal:
        return self.book.total


class AnswerFailed(Exception):
    """The model gave no usable answer; the message says why, for the PR."""


def render_answer(text: str, *, notes: Sequence[str] = ()) -> str:
    """The model's answer made inert (no mentions, no hidden markers), with notes after it."""
    body = sanitize(text.strip())
    return "\n\n".join([body, *(f"_{note}_" for note in notes)])


def failure_text(exc: Exception) -> str:
    if isinstance(exc, BudgetExceeded):
        return BUDGET_NOTE
    return FAILED_NOTE.format(reason=str(exc) or type(exc).__name__)
