"""Post one review to a pull request: never twice, and no finding lost to a 422."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from reviewer.core import markers
from reviewer.core.anchoring import InlineComment, ReviewDraft
from reviewer.errors import GitHubError
from reviewer.github import payloads
from reviewer.github.probe import Paginate, Prober, Request, delete_probes
from reviewer.model import PublishResult

log = logging.getLogger(__name__)

REVIEW_POST_ATTEMPTS: Final = 3
AMBIGUOUS_WAIT_S: Final = 3.0


class ReviewPublisher:
    """Publish reviews to one pull request through the client's REST calls."""

    def __init__(
        self,
        request: Request,
        paginate: Paginate,
        sleep: Callable[[float], None],
        reviews_url: str,
        post_issue_comment: Callable[[str], object],
        max_probes: int,
        *,
        bot_login: Callable[[], str],
        marker_key: bytes,
        listed: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
        forget: Callable[[], None] | None = None,
    ) -> None:
        self._request, self._paginate, self._sleep = request, paginate, sleep
        self._reviews_url = reviews_url  # /repos/{o}/{r}/pulls/{n}/reviews
        self._post_issue_comment = post_issue_comment
        self._max_probes = max_probes
        self._bot_login = bot_login
        self._marker_key = marker_key
        # The reviews list as the review read it before publishing (`find`), and how to
        # drop it once publishing writes: after a write, only a fresh read is trusted.
        self._listed = listed
        self._forget = forget

    def publish(self, draft: ReviewDraft) -> PublishResult:
        """Post `draft` as one review, then its follow-ups (summary sections over the limit)."""
        if self._forget is not None:
            self._forget()
        try:
            result = self._publish(draft)
        finally:
            if self._forget is not None:
                self._forget()
        for text in draft.followups:
            self._post_issue_comment(text)
        if not draft.followups:
            return result
        return dataclasses.replace(
            result, overflow_comments=result.overflow_comments + len(draft.followups)
        )

    def _publish(self, draft: ReviewDraft) -> PublishResult:
        """Post `draft` as one review; on a 422, move the comments GitHub refuses to the body.

        GitHub rejects the whole review when one comment cannot be placed, without saying
        which. The comments are then tested in PENDING reviews (visible to their author only,
        no notification, deleted at once) by bisection: a comment moves to the body only when
        GitHub refused it alone, or when the probe budget ran out. Then one review is posted
        with the rest inline. Nothing is posted twice and no finding is lost.
        """
        posted = self._create_unless_422(draft)
        if isinstance(posted, PublishResult):
            return posted
        first_error = posted
        # A probe left by an interrupted run blocks every review ("one pending review per
        # pull request"): delete it and try once more before suspecting the comments.
        if delete_probes(self._request, self._paginate, self._reviews_url):
            posted = self._create_unless_422(draft)
            if isinstance(posted, PublishResult):
                return posted
            first_error = posted
        if not draft.comments or "pending review" in first_error.message:
            raise first_error
        log.warning("GitHub refused the review (%s); isolating the comments", first_error.message)
        prober = Prober(
            self._request, self._paginate, self._reviews_url, draft.commit_id, self._max_probes
        )
        bad = prober.refused(list(draft.comments))
        keep = [c for c in draft.comments if not any(c is b for b in bad)]
        result, overflow = self._post_with_moved(draft, keep, bad)
        if result is None:  # still refused: place nothing inline
            result, overflow = self._post_with_moved(draft, [], draft.comments)
            if result is None:
                raise first_error
        for text in overflow:
            self._post_issue_comment(text)
        return PublishResult(
            review_id=result.review_id,
            html_url=result.html_url,
            posted=result.posted,
            moved_to_body=result.moved_to_body,
            reused=result.reused,
            probes=prober.used,
            overflow_comments=len(overflow),
        )

    def _create_unless_422(self, draft: ReviewDraft) -> PublishResult | GitHubError:
        """Post the whole draft; a 422 is returned (to isolate its cause), not raised."""
        try:
            data, reused = self._create_review(draft)
        except GitHubError as exc:
            if exc.status_code != 422:
                raise
            return exc
        return _result(data, draft.comments, (), reused=reused)

    def _post_with_moved(
        self,
        draft: ReviewDraft,
        keep: Sequence[InlineComment],
        moved: Sequence[InlineComment],
    ) -> tuple[PublishResult | None, list[str]]:
        new_draft, overflow = payloads.with_moved_comments(draft, keep, moved)
        try:
            data, reused = self._create_review(new_draft)
        except GitHubError as exc:
            if exc.status_code == 422 and keep:
                return None, []
            raise
        return _result(data, tuple(keep), tuple(moved), reused=reused), overflow

    def _create_review(self, draft: ReviewDraft) -> tuple[dict[str, Any], bool]:
        """POST the review; after an ambiguous failure, look for it before posting again."""
        url = self._reviews_url
        body = payloads.review_body(draft, self._marker_key)
        key = payloads.review_key(draft)
        for attempt in range(1, REVIEW_POST_ATTEMPTS + 1):
            try:
                _, data = self._request("POST", url, body=body)
                return data, False
            except GitHubError as exc:
                if not exc.retryable:
                    raise
                # A 5xx or a timeout does not say whether GitHub created the review.
                log.warning("review POST failed (%s); checking whether it exists", exc.message)
                self._sleep(AMBIGUOUS_WAIT_S * attempt)
                found = self._find_raw(key=key, commit_id=draft.commit_id)
                if found is not None:
                    return found, True
                if attempt == REVIEW_POST_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def find(self, *, key: str, commit_id: str) -> PublishResult | None:
        """Our review of `commit_id` whose hidden marker carries `key`, if GitHub has it."""
        listed = self._listed() if self._listed is not None else None
        data = self._find_raw(key=key, commit_id=commit_id, listed=listed)
        return None if data is None else _result(data, (), (), reused=True)

    def _find_raw(
        self, *, key: str, commit_id: str, listed: Iterable[Mapping[str, Any]] | None = None
    ) -> dict[str, Any] | None:
        """The bot's own review whose marker carries `key` under a MAC that verifies.

        Looked for in `listed`, else in a fresh read of the reviews list.
        """
        bot = self._bot_login()
        reviews = listed if listed is not None else self._paginate(self._reviews_url)
        for review in reviews:
            if review.get("commit_id") != commit_id:
                continue
            if (review.get("user") or {}).get("login") != bot:
                continue
            body = review.get("body") or ""
            if key in markers.trusted_values(self._marker_key, markers.REVIEW, body):
                return dict(review)
        return None


def _result(
    data: Mapping[str, Any],
    posted: tuple[InlineComment, ...],
    moved: tuple[InlineComment, ...],
    *,
    reused: bool,
) -> PublishResult:
    return PublishResult(
        review_id=int(data["id"]),
        html_url=str(data.get("html_url", "")),
        posted=posted,
        moved_to_body=moved,
        reused=reused,
    )
