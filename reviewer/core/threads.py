"""Review threads as GraphQL lists them, and logins compared across GitHub's APIs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ThreadComment:
    """One comment of a review thread, as GraphQL lists it (REST ids as ints)."""

    comment_id: int  # `fullDatabaseId`: the REST id (`databaseId` is deprecated, 32-bit)
    node_id: str
    author: str  # normalised: lower case, without the `[bot]` suffix
    author_is_bot: bool
    body: str
    minimized: bool = False


@dataclass(frozen=True)
class ReviewThread:
    """A review thread on a pull request: resolution, and its comments oldest first."""

    thread_id: str  # GraphQL node id, for resolveReviewThread
    is_resolved: bool
    is_outdated: bool
    path: str
    line: int | None
    comments: tuple[ThreadComment, ...]
    resolved_by: str | None = None  # normalised login, when resolved

    @property
    def first(self) -> ThreadComment | None:
        return self.comments[0] if self.comments else None

    @property
    def last(self) -> ThreadComment | None:
        return self.comments[-1] if self.comments else None


def same_login(a: str | None, b: str | None) -> bool:
    """Whether two logins name one account, whichever API spelled them.

    REST shows an App's bot as `name[bot]`; GraphQL's `author { login }` on a Bot drops the
    suffix, while `viewer { login }` with an installation token keeps it.
    """
    return a is not None and b is not None and normal_login(a) == normal_login(b)


def normal_login(login: str) -> str:
    """`Name[bot]` and `name` → `name`: logins are case-insensitive on GitHub."""
    login = login.strip().lower()
    return login[: -len("[bot]")] if login.endswith("[bot]") else login
