"""Errors of the reviewer, one tree; third-party exceptions are wrapped at the boundary."""

from __future__ import annotations


class ReviewerError(Exception):
    """Base of every error the reviewer raises on purpose.

    `message` is meant for the user: one line, no secrets, safe to print or post on a PR.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ReviewerError):
    """A setting or a configuration file is missing or wrong."""

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.path = path


class DiffParseError(ReviewerError):
    """The diff text is not a unified diff the parser can read."""

    exit_code = 2

    def __init__(self, message: str, *, line_number: int | None = None) -> None:
        super().__init__(message)
        self.line_number = line_number


class RemoteError(ReviewerError):
    """A call to a remote API failed; `retryable` marks a transient failure a job may retry."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable


class ClaudeError(RemoteError):
    """A call to the Messages API failed after the SDK's own retries."""


class GitHubError(RemoteError):
    """A GitHub REST call failed."""


class LedgerError(ReviewerError):
    """The spend ledger cannot be opened or written; `retryable` when the database is away.

    A review that cannot reserve its next call stops before making it; a job retries it.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class SchemaTooNewError(LedgerError):
    """The ledger database was migrated by a newer reviewer than this one."""

    exit_code = 2


class UnknownModelError(ConfigError):
    """A model id has no entry in the price table."""


class BudgetExceeded(ReviewerError):
    """A call would take a repository past one of its budgets."""

    def __init__(self, message: str, *, budget: str, limit: str, spent: str) -> None:
        super().__init__(message)
        self.budget = budget  # "monthly" or "review"
        self.limit = limit  # decimal strings, USD
        self.spent = spent
