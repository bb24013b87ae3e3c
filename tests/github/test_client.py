"""The GitHub adapter against a fake GitHub at the requests layer, asserting exact bodies."""

from __future__ import annotations

import json

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reviewer.core.anchoring import FINGERPRINT_RE, InlineComment, ReviewDraft, fingerprint_marker
from reviewer.errors import ConfigError, GitHubError
from reviewer.github import payloads
from reviewer.github.client import GitHubClient, PullInfo, _retry_policy
from reviewer.settings import Settings
from tests.fakes.github_api import MARKER_KEY, FakeGitHub, commit, file_item, inline_comment
from tests.paths import WEBHOOKS

REPO = "octo/app"
HEAD = "a" * 40
NEW_HEAD = "d" * 40
REVIEWS = f"/repos/{REPO}/pulls/7/reviews"
FIXTURES = WEBHOOKS


def patch_of(lines: int) -> str:
    """A patch adding `lines` lines to a new file: RIGHT lines 1..lines are commentable."""
    return f"@@ -0,0 +1,{lines} @@\n" + "\n".join(f"+line {n}" for n in range(1, lines + 1))


def draft(*comments: InlineComment, body: str = "Two findings.") -> ReviewDraft:
    return ReviewDraft(commit_id=HEAD, body=body, comments=comments)


@pytest.fixture
def pr(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_pull(
        REPO,
        7,
        files=[
            file_item("src/app.py", patch=patch_of(20)),
            file_item("src/old.py", patch="@@ -1,3 +1,2 @@\n keep\n-gone\n keep too"),
        ],
    )
    return fake_github


# -- fetch ---------------------------------------------------------------------------------


def test_pull_info_reads_a_real_pull_request_payload() -> None:
    data = json.loads((FIXTURES / "pull_request.opened.json").read_text())["pull_request"]
    info = PullInfo.from_api(data)
    assert info.number == 2
    assert info.head_sha == data["head"]["sha"] and info.base_sha == data["base"]["sha"]
    assert (info.base_ref, info.head_ref) == ("master", "changes")
    assert info.head_repo_full_name == "Codertocat/Hello-World"
    assert (info.state, info.draft, info.merged) == ("open", False, False)
    assert (info.author, info.author_is_bot) == ("Codertocat", False)


def test_files_are_fetched_over_several_pages(fake_github: FakeGitHub) -> None:
    files = [file_item(f"pkg/m{n:03}.py", patch=patch_of(2)) for n in range(250)]
    fake_github.add_pull(REPO, 7, files=files)

    diff, notes = fake_github.client().get_pull_files_diff(REPO, 7)

    assert [f.path for f in diff.files] == [f"pkg/m{n:03}.py" for n in range(250)]
    assert notes == []
    pages = [c.query for c in fake_github.calls if c.path.endswith("/files")]
    assert pages == [
        {"per_page": "100"},
        {"per_page": "100", "page": "2"},
        {"per_page": "100", "page": "3"},
    ]


def test_a_file_without_patch_is_kept_with_a_reason(fake_github: FakeGitHub) -> None:
    fake_github.add_pull(
        REPO,
        7,
        files=[
            file_item("logo.png", status="added"),
            file_item("a.py", patch=patch_of(3)),
        ],
    )
    diff, _ = fake_github.client().get_pull_files_diff(REPO, 7)
    png = diff.file("logo.png")
    assert png is not None and png.hunks == () and png.note
    assert diff.file("a.py") is not None and diff.file("a.py").added == 3  # type: ignore[union-attr]


def test_more_than_3000_files_says_how_many_were_not_fetched(fake_github: FakeGitHub) -> None:
    files = [file_item(f"f{n}.txt", patch=patch_of(1)) for n in range(3000)]
    fake_github.add_pull(REPO, 7, files=files, changed_files=3012)

    diff, notes = fake_github.client().get_pull_files_diff(REPO, 7)

    assert len(diff.files) == 3000
    assert notes == ["GitHub lists at most 3,000 files; 12 were not fetched"]


def test_file_text_at_a_ref(fake_github: FakeGitHub) -> None:
    fake_github.add_content(REPO, ".github/reviewer.yml", "b" * 40, "auto: false\n")
    gh = fake_github.client()
    assert gh.get_file_text(REPO, ".github/reviewer.yml", "b" * 40) == "auto: false\n"
    assert gh.get_file_text(REPO, ".github/reviewer.yml", "c" * 40) is None
    assert fake_github.calls[0].query == {"ref": "b" * 40}


# -- incremental ---------------------------------------------------------------------------


def test_incremental_diff_after_a_push_is_only_the_new_commits(pr: FakeGitHub) -> None:
    new_file = file_item("src/new.py", patch=patch_of(4), status="added")
    pr.push(REPO, 7, NEW_HEAD, [*pr.repo(REPO).pulls[7].files, new_file])
    pr.add_compare(REPO, HEAD, NEW_HEAD, commits=[commit(NEW_HEAD, (HEAD,))], files=[new_file])
    gh = pr.client()

    diff = gh.get_incremental_diff(REPO, gh.get_pull(REPO, 7), HEAD)

    assert diff is not None and [f.path for f in diff.files] == ["src/new.py"]
    assert pr.calls[-1].path == f"/repos/{REPO}/compare/{HEAD}...{NEW_HEAD}"


@pytest.mark.parametrize("status", ["diverged", "behind"])
def test_force_push_falls_back_to_the_whole_pr(pr: FakeGitHub, status: str) -> None:
    pr.push(REPO, 7, NEW_HEAD, pr.repo(REPO).pulls[7].files)
    pr.add_compare(REPO, HEAD, NEW_HEAD, status=status)
    gh = pr.client()
    assert gh.get_incremental_diff(REPO, gh.get_pull(REPO, 7), HEAD) is None


def test_a_vanished_old_head_falls_back_to_the_whole_pr(pr: FakeGitHub) -> None:
    pr.push(REPO, 7, NEW_HEAD, pr.repo(REPO).pulls[7].files)  # no compare: GitHub says 404
    gh = pr.client()
    assert gh.get_incremental_diff(REPO, gh.get_pull(REPO, 7), HEAD) is None


def test_merging_the_base_in_falls_back_to_the_whole_pr(pr: FakeGitHub) -> None:
    pr.push(REPO, 7, NEW_HEAD, pr.repo(REPO).pulls[7].files)
    merge = commit(NEW_HEAD, (HEAD, "f" * 40))  # "Update branch": base changes come along
    pr.add_compare(
        REPO, HEAD, NEW_HEAD, commits=[merge], files=[file_item("x.py", patch=patch_of(1))]
    )
    gh = pr.client()
    assert gh.get_incremental_diff(REPO, gh.get_pull(REPO, 7), HEAD) is None


def test_unchanged_head_has_nothing_new(pr: FakeGitHub) -> None:
    gh = pr.client()
    diff = gh.get_incremental_diff(REPO, gh.get_pull(REPO, 7), HEAD)
    assert diff is not None and diff.files == ()


def test_head_moved(pr: FakeGitHub) -> None:
    gh = pr.client()
    assert gh.head_moved(REPO, 7, HEAD) is False
    pr.push(REPO, 7, NEW_HEAD, [])
    assert gh.head_moved(REPO, 7, HEAD) is True
    assert pr.writes() == []


# -- publish -------------------------------------------------------------------------------


def test_one_review_with_exact_body(pr: FakeGitHub) -> None:
    added = inline_comment("src/app.py", 3)
    removed = inline_comment("src/old.py", 2, side="LEFT")
    ranged = inline_comment("src/app.py", 9, start_line=6)
    d = draft(added, removed, ranged)

    result = pr.client().publisher(REPO, 7, MARKER_KEY).publish(d)

    assert pr.bodies("POST", REVIEWS) == [payloads.review_body(d, MARKER_KEY)]
    assert pr.bodies("POST", REVIEWS)[0]["comments"][2] == {
        "path": "src/app.py",
        "body": ranged.body,
        "line": 9,
        "side": "RIGHT",
        "start_line": 6,
        "start_side": "RIGHT",
    }
    [review] = pr.reviews(REPO, 7)
    assert review["state"] == "COMMENTED" and review["commit_id"] == HEAD
    assert (result.review_id, result.html_url) == (review["id"], review["html_url"])
    assert result.posted == (added, removed, ranged) and result.moved_to_body == ()
    assert not result.reused


def test_422_on_one_comment_of_ten_posts_nine_inline_and_one_in_the_body(pr: FakeGitHub) -> None:
    comments = [inline_comment("src/app.py", n) for n in range(1, 11)]
    pr.reject_line(REPO, 7, "src/app.py", 7)
    d = draft(*comments)

    result = pr.client().publisher(REPO, 7, MARKER_KEY).publish(d)

    [review] = pr.reviews(REPO, 7)  # one review; every probe was deleted
    bad, good = comments[6], comments[:6] + comments[7:]
    assert review["state"] == "COMMENTED"
    assert [c["line"] for c in review["comments"]] == [1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert "could not be placed inline" in review["body"]
    assert FINGERPRINT_RE.findall(review["body"]) == [bad.fingerprint]
    assert result.posted == tuple(good) and result.moved_to_body == (bad,)

    submitted = [b for b in pr.bodies("POST", REVIEWS) if "event" in b]
    expected, _ = payloads.with_moved_comments(d, good, [bad])
    assert submitted == [
        payloads.review_body(d, MARKER_KEY),
        payloads.review_body(expected, MARKER_KEY),
    ]
    probes = [b for b in pr.bodies("POST", REVIEWS) if "event" not in b]
    assert probes and all(b["body"] == payloads.PROBE_MARKER for b in probes)
    assert len(probes) == result.probes <= 6
    deleted = [c for c in pr.calls if c.method == "DELETE"]
    created_pending = len(probes) - sum(
        1 for b in probes if any(c["line"] == 7 for c in b["comments"])
    )
    assert len(deleted) == created_pending


def test_isolation_respects_the_probe_budget_and_loses_nothing(pr: FakeGitHub) -> None:
    comments = [inline_comment("src/app.py", n) for n in range(1, 9)]
    pr.reject_line(REPO, 7, "src/app.py", 2)
    gh = GitHubClient(
        pr.client()._gh, bot_login="reviewer-bot", sleep=pr.sleeps.append, max_probes=1
    )

    result = gh.publisher(REPO, 7, MARKER_KEY).publish(draft(*comments))

    assert result.probes == 1
    assert set(result.posted) | set(result.moved_to_body) == set(comments)
    assert comments[1] in result.moved_to_body
    assert len([r for r in pr.reviews(REPO, 7) if r["state"] != "PENDING"]) == 1


def test_a_422_not_caused_by_comments_is_raised(pr: FakeGitHub) -> None:
    d = ReviewDraft(commit_id="9" * 40, body="x", comments=())  # unknown commit
    with pytest.raises(GitHubError) as info:
        pr.client().publisher(REPO, 7, MARKER_KEY).publish(d)
    assert info.value.status_code == 422 and "No commit found" in info.value.message
    assert pr.reviews(REPO, 7) == []


def test_a_probe_left_by_a_crashed_run_is_deleted_first(pr: FakeGitHub) -> None:
    gh = pr.client()
    pr.reviews(REPO, 7).append(
        {"id": 5, "user": {"login": "reviewer-bot"}, "body": payloads.PROBE_MARKER,
         "state": "PENDING", "commit_id": HEAD, "html_url": "", "comments": []}
    )  # fmt: skip
    result = gh.publisher(REPO, 7, MARKER_KEY).publish(draft(inline_comment("src/app.py", 1)))
    assert [r["state"] for r in pr.reviews(REPO, 7)] == ["COMMENTED"]
    assert result.moved_to_body == () and result.probes == 0


def test_someone_elses_pending_review_is_left_alone(pr: FakeGitHub) -> None:
    pr.reviews(REPO, 7).append(
        {"id": 5, "user": {"login": "reviewer-bot"}, "body": "my own notes",
         "state": "PENDING", "commit_id": HEAD, "html_url": "", "comments": []}
    )  # fmt: skip
    with pytest.raises(GitHubError, match="one pending review"):
        pr.client().publisher(REPO, 7, MARKER_KEY).publish(draft(inline_comment("src/app.py", 1)))
    assert [c.method for c in pr.writes()] == ["POST"]


def test_secondary_rate_limit_with_retry_after_waits_then_posts_once(pr: FakeGitHub) -> None:
    pr.rate_limit_next("POST", r"/reviews$", retry_after=30)
    d = draft(inline_comment("src/app.py", 1))

    pr.client().publisher(REPO, 7, MARKER_KEY).publish(d)

    assert pr.sleeps == [30.0]
    assert (
        pr.bodies("POST", REVIEWS) == [payloads.review_body(d, MARKER_KEY)] * 2
    )  # refused, then created
    assert len(pr.reviews(REPO, 7)) == 1


def test_secondary_rate_limit_without_retry_after_waits_a_minute(pr: FakeGitHub) -> None:
    pr.rate_limit_next("POST", r"/reviews$", retry_after=None, status=429)
    pr.client().publisher(REPO, 7, MARKER_KEY).publish(draft())
    assert pr.sleeps == [60.0]
    assert len(pr.reviews(REPO, 7)) == 1


def test_rate_limit_retries_are_capped(pr: FakeGitHub) -> None:
    for _ in range(5):
        pr.rate_limit_next("POST", r"/comments$", retry_after=10)
    with pytest.raises(GitHubError) as info:
        pr.client().post_issue_comment(REPO, 7, "hello")
    assert info.value.retryable and info.value.status_code == 403
    assert pr.sleeps == [10.0, 10.0, 10.0]


def test_502_after_github_created_the_review_posts_no_duplicate(pr: FakeGitHub) -> None:
    pr.fail_next("POST", r"/reviews$", 502, perform=True)
    d = draft(inline_comment("src/app.py", 1))

    result = pr.client().publisher(REPO, 7, MARKER_KEY).publish(d)

    [review] = pr.reviews(REPO, 7)
    assert pr.bodies("POST", REVIEWS) == [payloads.review_body(d, MARKER_KEY)]  # never re-sent
    assert result.reused and result.review_id == review["id"]
    # Who the bot is (its review alone counts), then its reviews.
    assert [(c.method, c.path) for c in pr.calls] == [
        ("POST", REVIEWS),
        ("GET", "/user"),
        ("GET", REVIEWS),
    ]
    assert pr.sleeps == [3.0]  # GitHub may finish creating it just after answering 502


def test_review_post_that_keeps_failing_is_checked_every_time(pr: FakeGitHub) -> None:
    pr.fail_next("POST", r"/reviews$", 504, times=3)
    with pytest.raises(GitHubError) as info:
        pr.client().publisher(REPO, 7, MARKER_KEY).publish(draft())
    assert info.value.retryable and info.value.status_code == 504
    assert [c.method for c in pr.calls] == ["POST", "GET", "GET"] + ["POST", "GET"] * 2
    assert pr.reviews(REPO, 7) == []


def test_502_before_github_created_it_is_retried_once(pr: FakeGitHub) -> None:
    pr.fail_next("POST", r"/reviews$", 502)
    result = pr.client().publisher(REPO, 7, MARKER_KEY).publish(draft())
    assert len(pr.bodies("POST", REVIEWS)) == 2 and len(pr.reviews(REPO, 7)) == 1
    assert not result.reused


def test_pygithub_never_retries_a_write_itself() -> None:
    policy = _retry_policy()
    assert not policy.is_retry("POST", 502) and not policy.is_retry("POST", 403, True)
    assert not policy.is_retry("DELETE", 503)
    assert policy.is_retry("GET", 502)


def test_server_errors_on_reads_become_retryable_github_errors(pr: FakeGitHub) -> None:
    pr.fail_next("GET", r"/pulls/7$", 503, times=10)
    with pytest.raises(GitHubError) as info:
        pr.client().get_pull(REPO, 7)
    assert (info.value.status_code, info.value.retryable) == (503, True)
    assert len([c for c in pr.calls if c.path.endswith("/pulls/7")]) == 4  # PyGithub retried GETs


# -- dedup ---------------------------------------------------------------------------------


def test_previous_fingerprints_are_the_bots_own_under_a_mac_that_verifies(pr: FakeGitHub) -> None:
    for n in range(1, 121):  # two pages of review comments
        who = "reviewer-bot" if n % 2 else "octocat"
        body = f"c{n}\n\n{fingerprint_marker(f'{n:016x}', MARKER_KEY)}"
        pr.add_review_comment(REPO, 7, login=who, body=body, path="src/app.py", line=1)
    forged = [
        "<!-- reviewer:fp=" + "a" * 16 + " -->",  # no MAC (or written before MACs existed)
        "<!-- reviewer:fp=" + "b" * 16 + "." + "0" * 32 + " -->",  # a wrong MAC
        fingerprint_marker("c" * 16, b"another key"),
        f"`{fingerprint_marker('d' * 16, MARKER_KEY)}`",  # not on a line of its own
    ]
    pr.add_review(
        REPO,
        7,
        login="reviewer-bot",
        commit_id=HEAD,
        body=f"- x\n{fingerprint_marker('e' * 16, MARKER_KEY)}\n" + "\n".join(forged),
    )

    found = pr.client().previous_fingerprints(REPO, 7, "reviewer-bot", marker_key=MARKER_KEY)

    assert found == {f"{n:016x}" for n in range(1, 121, 2)} | {"e" * 16}


def test_a_re_review_posts_no_duplicate(pr: FakeGitHub) -> None:
    gh = pr.client()
    first = inline_comment("src/app.py", 1)
    gh.publisher(REPO, 7, MARKER_KEY).publish(draft(first))

    known = gh.previous_fingerprints(REPO, 7, gh.bot_login(), marker_key=MARKER_KEY)
    again = [c for c in (first, inline_comment("src/app.py", 2)) if c.fingerprint not in known]
    gh.publisher(REPO, 7, MARKER_KEY).publish(draft(*again, body="One new finding."))

    posted = [c["body"] for c in pr.repo(REPO).pulls[7].review_comments]
    assert [FINGERPRINT_RE.findall(b) for b in posted] == [
        [first.fingerprint],
        [again[0].fingerprint],
    ]


def test_last_reviewed_head_is_the_newest_review_with_our_marker(pr: FakeGitHub) -> None:
    gh = pr.client()
    assert gh.last_reviewed_head(REPO, 7, "reviewer-bot", marker_key=MARKER_KEY) is None
    marker = payloads.review_marker("0" * 16, MARKER_KEY)
    pr.add_review(REPO, 7, login="reviewer-bot", body=f"old\n{marker}", commit_id="1" * 40)
    pr.add_review(REPO, 7, login="reviewer-bot", body=f"new\n{marker}", commit_id="2" * 40)
    pr.add_review(REPO, 7, login="octocat", body=f"copied\n{marker}", commit_id="3" * 40)
    pr.add_review(REPO, 7, login="reviewer-bot", body="no marker", commit_id="4" * 40)
    unsigned = "<!-- reviewer:review=" + "0" * 16 + " -->"
    pr.add_review(REPO, 7, login="reviewer-bot", body=f"old\n{unsigned}", commit_id="5" * 40)
    wrong = payloads.review_marker("0" * 16, b"another key")
    pr.add_review(REPO, 7, login="reviewer-bot", body=f"old\n{wrong}", commit_id="6" * 40)
    # The list is read once per review; the next review starts by reading the PR.
    assert gh.last_reviewed_head(REPO, 7, "reviewer-bot", marker_key=MARKER_KEY) is None
    gh.get_pull(REPO, 7)
    assert gh.last_reviewed_head(REPO, 7, "reviewer-bot", marker_key=MARKER_KEY) == "2" * 40


# -- identity and commands -----------------------------------------------------------------


def test_an_actions_token_that_cannot_read_the_user_asks_graphql_viewer(
    fake_github: FakeGitHub,
) -> None:
    fake_github.viewer_bot = "github-actions[bot]"
    assert fake_github.client().bot_login() == "github-actions[bot]"
    assert [c.path for c in fake_github.calls] == ["/user", "/graphql"]


def test_a_token_nobody_can_name_is_an_error_not_a_guess(fake_github: FakeGitHub) -> None:
    fake_github.fail_next("GET", r"^/user$", 403, message="Resource not accessible by integration")
    fake_github.fail_next("POST", r"^/graphql$", 403, message="Resource not accessible")
    with pytest.raises(GitHubError, match="REVIEWER_BOT_LOGIN"):
        fake_github.client().bot_login()


def test_bot_login_for_a_token_is_the_user_and_is_cached(fake_github: FakeGitHub) -> None:
    gh = fake_github.client()
    assert gh.bot_login() == gh.bot_login() == "reviewer-bot"
    assert [c.path for c in fake_github.calls] == ["/user"]
    assert fake_github.client(bot_login="named-bot").bot_login() == "named-bot"


@pytest.mark.parametrize(
    ("login", "permission", "is_bot", "allowed"),
    [
        ("alice", "admin", False, True),
        ("bob", "write", False, True),
        ("carol", "read", False, False),
        ("dave", None, False, False),  # not a collaborator: GitHub answers 404
        ("dependabot[bot]", "write", True, False),
        ("reviewer-bot", "admin", False, False),  # the bot itself
    ],
)
def test_may_trigger(
    fake_github: FakeGitHub, login: str, permission: str | None, is_bot: bool, allowed: bool
) -> None:
    if permission:
        fake_github.set_permission(REPO, login, permission)
    fake_github.repo(REPO)
    gh = fake_github.client(bot_login="reviewer-bot")
    assert gh.may_trigger(REPO, login, is_bot=is_bot) is allowed
    asked = [c.path for c in fake_github.calls]
    assert asked == (
        []
        if is_bot or login == "reviewer-bot"
        else [f"/repos/{REPO}/collaborators/{login}/permission"]
    )


def test_permission_values(fake_github: FakeGitHub) -> None:
    fake_github.set_permission(REPO, "bob", "write")
    gh = fake_github.client()
    assert gh.permission(REPO, "bob") == "write"
    assert gh.permission(REPO, "nobody") == "none"


def test_reaction_and_issue_comment_bodies(pr: FakeGitHub) -> None:
    gh = pr.client()
    gh.add_reaction(REPO, 555, "eyes")
    url = gh.post_issue_comment(REPO, 7, "Sorry, only collaborators with write access.")
    assert pr.bodies("POST", f"/repos/{REPO}/issues/comments/555/reactions") == [
        {"content": "eyes"}
    ]
    assert pr.bodies("POST", f"/repos/{REPO}/issues/7/comments") == [
        {"body": "Sorry, only collaborators with write access."}
    ]
    assert url.startswith(f"https://github.com/{REPO}/pull/7#issuecomment-")


# -- clients from settings -----------------------------------------------------------------


def test_no_credentials_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no GitHub credentials"):
        GitHubClient.from_settings(Settings.from_env({}))
    app_only = Settings.from_env({}, github_app_id="1", github_private_key="k")
    with pytest.raises(ConfigError, match="installation id"):
        GitHubClient.from_settings(app_only)


def test_github_app_installation_token_and_bot_login(fake_github: FakeGitHub) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    fake_github.add_pull(REPO, 7)
    settings = fake_github.settings(github_token=None, github_app_id="4242", github_private_key=pem)

    gh = GitHubClient.from_settings(settings, installation_id=42)
    assert gh.get_pull(REPO, 7).number == 7
    assert gh.bot_login() == "claude-reviewer[bot]"

    token_call, pull_call, app_call = fake_github.calls
    assert (token_call.method, token_call.path) == ("POST", "/app/installations/42/access_tokens")
    claims = jwt.decode(
        token_call.authorization.removeprefix("Bearer "),
        key.public_key(),
        algorithms=["RS256"],
    )
    assert claims["iss"] == "4242"
    assert pull_call.authorization == "token ghs_installation42"
    assert app_call.path == "/app" and app_call.authorization.startswith("Bearer ")


def test_enterprise_base_url_and_pagination_under_its_prefix() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeGitHub(rsps, base_url="https://github.test/api/v3")
        fake.add_pull(REPO, 7, files=[file_item(f"f{n}.py", patch=patch_of(1)) for n in range(150)])
        gh = GitHubClient.from_settings(fake.settings(), sleep=fake.sleeps.append)
        diff, _ = gh.get_pull_files_diff(REPO, 7)
    assert len(diff.files) == 150
    assert [c.path for c in fake.calls] == [f"/repos/{REPO}/pulls/7/files"] * 2


def test_summary_followups_are_posted_after_the_one_review(pr: FakeGitHub) -> None:
    gh = pr.client()
    result = gh.publisher(REPO, 7, MARKER_KEY).publish(
        ReviewDraft(commit_id=HEAD, body="Summary.", comments=(), followups=("A", "B"))
    )
    writes = [(c.method, c.path) for c in pr.writes()]
    assert writes == [
        ("POST", f"/repos/{REPO}/pulls/7/reviews"),
        ("POST", f"/repos/{REPO}/issues/7/comments"),
        ("POST", f"/repos/{REPO}/issues/7/comments"),
    ]
    assert [b["body"] for b in pr.bodies("POST", f"/repos/{REPO}/issues/7/comments")] == ["A", "B"]
    assert result.overflow_comments == 2


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, 0.0), (0.5, 0.5), (0.0, 0.0)],  # None: WRITE_INTERVAL_S, which the fixture zeroes
)
def test_writes_are_spaced_by_the_operators_interval(
    pr: FakeGitHub, monkeypatch: pytest.MonkeyPatch, setting: float | None, expected: float
) -> None:
    """REVIEWER_GITHUB_WRITE_INTERVAL_S spaces content-creating requests (PyGithub sleeps)."""
    import github.Requester

    slept: list[float] = []
    monkeypatch.setattr(github.Requester.time, "sleep", slept.append)
    client = pr.client(github_write_interval_s=setting)
    client.post_issue_comment(REPO, 7, "one")
    client.post_issue_comment(REPO, 7, "two")
    waits = [s for s in slept if s > 0]
    assert (max(waits) if waits else 0.0) == pytest.approx(expected, abs=0.1)


def test_a_negative_write_interval_is_refused() -> None:
    with pytest.raises(ConfigError, match="GITHUB_WRITE_INTERVAL_S"):
        Settings.from_env({"REVIEWER_GITHUB_WRITE_INTERVAL_S": "-1"})
