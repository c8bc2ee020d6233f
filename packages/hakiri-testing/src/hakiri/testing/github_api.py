"""A local GitHub-compatible REST API: issues, pull requests, issue comments and releases.

In-process::

    with GithubApi(token="ghp_test") as api:
        api.add_repo("octo/hello")
        api.add_issue("octo/hello", "First", created_at="2024-01-01T00:00:00Z")
        # GET {api.url}/repos/octo/hello/issues?state=all&sort=updated&direction=asc

As a process (serves until SIGTERM or SIGINT)::

    python -m hakiri.testing.github_api --port 8766 --repo octo/hello --issues 50

Endpoints, with GitHub's parameters and defaults: ``/repos/{owner}/{repo}/issues`` (``state``,
``since``, ``sort``, ``direction``; pull requests included, marked by ``pull_request``),
``/repos/{owner}/{repo}/pulls`` (``state``, ``sort``, ``direction``; no ``since``),
``/repos/{owner}/{repo}/issues/comments`` (``since``, ``sort``, ``direction``) and
``/repos/{owner}/{repo}/releases``, each also under ``/repositories/{id}/…`` as GitHub's own
``Link`` URLs are. Every list pages with ``per_page`` (at most 100) and ``page`` and says so
in a ``Link`` header (``next``, ``last``, ``first``, ``prev``).

Every response carries ``x-ratelimit-*`` headers from a real quota (``set_quota``) that
refuses with 403 once used up, until its reset. Tests can also force a rate-limited 403
(``rate_limit_next``), a 429 with ``Retry-After`` (``retry_after_next``) or any failure
(``fail_next``), require a token (``token=``), and read the request log (``requests``,
``authorizations``).
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson

from hakiri.testing._server import (
    HttpRequest,
    ThreadedHttpServer,
    TrackedHandler,
    serve_until_signalled,
    take_next,
)

__all__ = ["GithubApi", "GithubRequest", "main"]

Timestamp = str | datetime
"""An ISO-8601 text (``2024-01-01T00:00:00Z``) or a datetime (naive means UTC)."""

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
_DOCS = "https://docs.github.com/rest"
_ROUTE = re.compile(
    r"^/(?:repos/(?P<owner>[^/]+)/(?P<name>[^/]+)|repositories/(?P<id>\d+))"
    r"/(?P<resource>issues/comments|issues|pulls|releases)/?$"
)


def _stamp(value: Timestamp) -> str:
    """GitHub's timestamp format: UTC, whole seconds, ``Z``."""
    when = value if isinstance(value, datetime) else _parse_time(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class GithubRequest(HttpRequest):
    """One request the server received, and how it answered."""

    at: float
    """When it arrived, as Unix time on the server's clock."""
    status: int
    """The status it was answered with."""


@dataclass(slots=True)
class _Issue:
    id: int
    number: int
    title: str
    state: str
    user: str
    labels: list[str]
    created_at: str
    updated_at: str
    closed_at: str | None
    body: str | None
    comments: int
    pull_id: int | None = None
    """Set for a pull request: its id on ``/pulls`` (the issue has its own)."""
    merged_at: str | None = None


@dataclass(slots=True)
class _Comment:
    id: int
    issue_number: int
    user: str
    body: str
    created_at: str
    updated_at: str


@dataclass(slots=True)
class _Release:
    id: int
    tag_name: str
    name: str | None
    body: str | None
    created_at: str
    published_at: str | None
    draft: bool
    prerelease: bool
    author: str


@dataclass(slots=True)
class _Repo:
    id: int
    full_name: str
    issues: dict[int, _Issue] = field(default_factory=dict)
    comments: dict[int, _Comment] = field(default_factory=dict)
    releases: dict[int, _Release] = field(default_factory=dict)
    next_number: int = 1


@dataclass(slots=True)
class _Forced:
    status: int
    remaining: int
    headers: dict[str, str]
    message: str


class _BadRequest(ValueError):
    """A parameter GitHub would refuse with 422."""


class GithubApi(ThreadedHttpServer[GithubRequest]):
    """The server, running on a background thread. ``port=0`` picks a free port.

    ``token``: when set, every request must send ``Authorization: Bearer <token>`` (or
    ``token <token>``), else it gets GitHub's 401 ``Bad credentials``. ``start`` is the
    time the first default timestamp is taken from; each later default is one second on.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        rate_limit: int = 5000,
        start: Timestamp = DEFAULT_START,
    ) -> None:
        super().__init__(host=host, port=port, handler=_Handler, thread_name="github-api")
        self._token = token
        self._repos: dict[str, _Repo] = {}
        self._ids = 1000  # ids are global across repos and kinds, as on GitHub
        self._clock = _parse_time(_stamp(start))
        self._users: dict[str, int] = {}
        self._labels: dict[str, int] = {}
        self._forced: list[_Forced] = []
        self._limit = rate_limit
        self._remaining = rate_limit
        self._reset_at = 0  # Unix seconds; 0: a new window opens with the first request

    # -- data ------------------------------------------------------------------------------

    def add_repo(self, full_name: str) -> None:
        """Create repository ``owner/name`` (empty); nothing happens if it exists."""
        if not re.fullmatch(r"[^/\s]+/[^/\s]+", full_name):
            raise ValueError(f"a repository is 'owner/name', got {full_name!r}")
        with self._lock:
            if full_name not in self._repos:
                self._repos[full_name] = _Repo(self._next_id(), full_name)

    @property
    def repos(self) -> list[str]:
        with self._lock:
            return list(self._repos)

    def clear(self, repo: str | None = None) -> None:
        """Remove every issue, pull request, comment and release of ``repo`` (of every
        repository when None); numbering starts again at 1."""
        with self._lock:
            for one in [self._repo(repo)] if repo else list(self._repos.values()):
                one.issues.clear()
                one.comments.clear()
                one.releases.clear()
                one.next_number = 1

    def add_issue(
        self,
        repo: str,
        title: str,
        *,
        number: int | None = None,
        created_at: Timestamp | None = None,
        updated_at: Timestamp | None = None,
        state: str = "open",
        closed_at: Timestamp | None = None,
        user: str = "octocat",
        labels: Iterable[str] = (),
        body: str | None = None,
        comments: int = 0,
    ) -> dict[str, Any]:
        """Add an issue; returns it as the API shows it. Timestamps default to the server's
        next tick; ``updated_at`` defaults to ``created_at``."""
        return self._add(
            repo, title, False, number, created_at, updated_at, state, closed_at,
            user, labels, body, comments,
        )  # fmt: skip

    def add_issues(self, repo: str, count: int, *, title: str = "Issue") -> list[dict[str, Any]]:
        """Add ``count`` issues titled ``"{title} N"``, each a tick after the previous."""
        return [self.add_issue(repo, f"{title} {i + 1}") for i in range(count)]

    def add_pull(
        self,
        repo: str,
        title: str,
        *,
        number: int | None = None,
        created_at: Timestamp | None = None,
        updated_at: Timestamp | None = None,
        state: str = "open",
        closed_at: Timestamp | None = None,
        user: str = "octocat",
        labels: Iterable[str] = (),
        body: str | None = None,
    ) -> dict[str, Any]:
        """Add a pull request (an issue with ``pull_request``); returns it as ``/pulls``
        shows it."""
        added = self._add(
            repo, title, True, number, created_at, updated_at, state, closed_at,
            user, labels, body, 0,
        )  # fmt: skip
        with self._lock:
            issue = self._issue(repo, added["number"])
            return _pull_json(self._repo(repo), issue, self.url, self._users, self._labels)

    def update_issue(
        self,
        repo: str,
        number: int,
        *,
        updated_at: Timestamp | None = None,
        **changes: Any,
    ) -> dict[str, Any]:
        """Change an issue or pull request (``title``, ``state``, ``body``, ``labels``,
        ``comments``, ``closed_at``) and move its ``updated_at`` (default: next tick)."""
        allowed = {"title", "state", "body", "labels", "comments", "closed_at"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}; only {sorted(allowed)}")
        with self._lock:
            issue = self._issue(repo, number)
            stamp = self._when(updated_at)
            for name, value in changes.items():
                if name == "labels":
                    value = list(value)
                    self._register_labels(value)
                elif name == "closed_at" and value is not None:
                    value = _stamp(value)
                setattr(issue, name, value)
            if changes.get("state") == "closed" and "closed_at" not in changes:
                issue.closed_at = stamp
            elif changes.get("state") == "open":
                issue.closed_at = None
            issue.updated_at = stamp
            return _issue_json(self._repo(repo), issue, self.url, self._users, self._labels)

    def add_comment(
        self,
        repo: str,
        issue_number: int,
        body: str,
        *,
        created_at: Timestamp | None = None,
        updated_at: Timestamp | None = None,
        user: str = "octocat",
    ) -> dict[str, Any]:
        """Add a comment to an issue or pull request; returns it as the API shows it."""
        with self._lock:
            target = self._repo(repo)
            issue = self._issue(repo, issue_number)
            created, updated = self._created_updated(created_at, updated_at)
            self._user_id(user)
            comment = _Comment(self._next_id(), issue_number, user, body, created, updated)
            target.comments[comment.id] = comment
            issue.comments += 1
            return _comment_json(target, comment, self.url, self._users)

    def update_comment(
        self, repo: str, comment_id: int, body: str, *, updated_at: Timestamp | None = None
    ) -> dict[str, Any]:
        """Edit a comment's body and move its ``updated_at`` (default: next tick)."""
        with self._lock:
            target = self._repo(repo)
            comment = target.comments.get(comment_id)
            if comment is None:
                raise KeyError(f"{repo} has no comment {comment_id}")
            comment.body = body
            comment.updated_at = self._when(updated_at)
            return _comment_json(target, comment, self.url, self._users)

    def add_release(
        self,
        repo: str,
        tag_name: str,
        *,
        name: str | None = None,
        body: str | None = None,
        created_at: Timestamp | None = None,
        published_at: Timestamp | None = None,
        draft: bool = False,
        prerelease: bool = False,
        author: str = "octocat",
    ) -> dict[str, Any]:
        """Add a release; returns it as the API shows it."""
        with self._lock:
            target = self._repo(repo)
            created = self._when(created_at)
            published = None if draft else (_stamp(published_at) if published_at else created)
            self._user_id(author)
            release = _Release(
                self._next_id(), tag_name, name if name is not None else tag_name, body,
                created, published, draft, prerelease, author,
            )  # fmt: skip
            target.releases[release.id] = release
            return _release_json(target, release, self.url, self._users)

    # -- controls --------------------------------------------------------------------------

    def require_token(self, token: str | None) -> None:
        """Accept only requests that send ``token`` (None: accept any, as for public repos)."""
        with self._lock:
            self._token = token

    def set_quota(self, remaining: int, *, reset_in: float = 3600.0) -> int:
        """Leave ``remaining`` requests in the current window, which resets in ``reset_in``
        seconds; once used up, requests get 403 (rate limit exceeded) until the reset.
        Returns the reset (Unix seconds)."""
        with self._lock:
            self._remaining = max(0, remaining)
            self._reset_at = math.ceil(time.time() + reset_in)
            return self._reset_at

    def rate_limit_next(
        self,
        times: int = 1,
        *,
        reset_in: float = 1.0,
        status: int = 403,
        extra_headers: dict[str, str] | None = None,
    ) -> int:
        """Answer the next ``times`` API requests with ``status``, ``x-ratelimit-remaining:
        0`` and a reset ``reset_in`` seconds from now (plus ``extra_headers``, for APIs
        that say it differently); returns that reset (Unix seconds)."""
        reset = math.ceil(time.time() + reset_in)
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
        headers.update(extra_headers or {})
        message = "API rate limit exceeded for user ID 1."
        with self._lock:
            self._forced.append(_Forced(status, times, headers, message))
        return reset

    def retry_after_next(self, times: int = 1, *, seconds: int = 1, status: int = 429) -> None:
        """Answer the next ``times`` API requests with ``status`` and ``Retry-After``
        (GitHub's secondary rate limit)."""
        message = "You have exceeded a secondary rate limit. Please wait a few minutes."
        with self._lock:
            self._forced.append(_Forced(status, times, {"retry-after": str(seconds)}, message))

    def fail_next(self, status: int, times: int = 1, *, message: str = "Server Error") -> None:
        """Answer the next ``times`` API requests with ``status`` and ``message``."""
        with self._lock:
            self._forced.append(_Forced(status, times, {}, message))

    # -- observation -----------------------------------------------------------------------

    @property
    def authorizations(self) -> list[str | None]:
        """The ``Authorization`` header of every request, None where none was sent."""
        return [r.headers.get("authorization") for r in self.requests]

    # -- internals (the caller holds the lock where it matters) ----------------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _tick(self) -> str:
        self._clock += timedelta(seconds=1)
        return _stamp(self._clock)

    def _when(self, value: Timestamp | None) -> str:
        """``value`` in GitHub's format, or the next tick; later defaults come after it."""
        if value is None:
            return self._tick()
        stamp = _stamp(value)
        self._clock = max(self._clock, _parse_time(stamp))
        return stamp

    def _created_updated(
        self, created_at: Timestamp | None, updated_at: Timestamp | None
    ) -> tuple[str, str]:
        """Creation and update stamps (``_when``); the update defaults to the creation."""
        created = self._when(created_at)
        return created, self._when(updated_at) if updated_at is not None else created

    def _repo(self, repo: str | None) -> _Repo:
        found = self._repos.get(repo or "")
        if found is None:
            raise KeyError(f"no repository {repo!r}; add_repo() it first")
        return found

    def _issue(self, repo: str, number: int) -> _Issue:
        issue = self._repo(repo).issues.get(number)
        if issue is None:
            raise KeyError(f"{repo} has no issue {number}")
        return issue

    def _user_id(self, login: str) -> int:
        if login not in self._users:
            self._users[login] = 1 + len(self._users)
        return self._users[login]

    def _register_labels(self, names: Iterable[str]) -> None:
        for name in names:
            self._labels.setdefault(name, 9000 + len(self._labels))

    def _add(
        self,
        repo: str,
        title: str,
        pull: bool,
        number: int | None,
        created_at: Timestamp | None,
        updated_at: Timestamp | None,
        state: str,
        closed_at: Timestamp | None,
        user: str,
        labels: Iterable[str],
        body: str | None,
        comments: int,
    ) -> dict[str, Any]:
        if state not in ("open", "closed"):
            raise ValueError(f"state is 'open' or 'closed', got {state!r}")
        with self._lock:
            target = self._repo(repo)
            number = target.next_number if number is None else number
            if number in target.issues:
                raise ValueError(f"{repo} already has issue {number}")
            target.next_number = max(target.next_number, number + 1)
            created, updated = self._created_updated(created_at, updated_at)
            closed = _stamp(closed_at) if closed_at else (updated if state == "closed" else None)
            names = list(labels)
            self._register_labels(names)
            self._user_id(user)
            issue = _Issue(
                self._next_id(), number, title, state, user, names, created, updated,
                closed, body, comments,
            )  # fmt: skip
            if pull:
                issue.pull_id = self._next_id()
            target.issues[number] = issue
            return _issue_json(target, issue, self.url, self._users, self._labels)

    # -- used by the handler ---------------------------------------------------------------

    def _admit(self, authorization: str | None) -> tuple[int, dict[str, str], str | None]:
        """Count a request against the quota: (status, rate-limit headers, error message);
        the message is None when the request may be served."""
        now = time.time()
        with self._lock:
            if now >= self._reset_at:
                self._remaining = self._limit
                self._reset_at = math.ceil(now + 3600)
            headers = {
                "x-ratelimit-limit": str(self._limit),
                "x-ratelimit-remaining": str(self._remaining),
                "x-ratelimit-reset": str(self._reset_at),
                "x-ratelimit-used": str(self._limit - self._remaining),
                "x-ratelimit-resource": "core",
            }
            forced = take_next(self._forced)
            if forced is not None:
                return forced.status, {**headers, **forced.headers}, forced.message
            if self._token is not None and authorization not in (
                f"Bearer {self._token}",
                f"token {self._token}",
            ):
                return 401, headers, "Bad credentials"
            if self._remaining == 0:
                return 403, headers, "API rate limit exceeded for user ID 1."
            self._remaining -= 1
            headers["x-ratelimit-remaining"] = str(self._remaining)
            headers["x-ratelimit-used"] = str(self._limit - self._remaining)
            return 200, headers, None

    def _list(
        self, repo_key: str | int, resource: str, query: dict[str, list[str]], base: str
    ) -> tuple[str, list[dict[str, Any]]] | None:
        """(canonical repository path, every item the query selects, in order), or None
        for an unknown repository."""
        with self._lock:
            if isinstance(repo_key, int):
                repo = next((r for r in self._repos.values() if r.id == repo_key), None)
            else:
                repo = self._repos.get(repo_key)
            if repo is None:
                return None
            users, labels = self._users, self._labels
            if resource == "issues":
                issues = _select_issues(repo.issues.values(), query, since=True)
                items = [_issue_json(repo, i, base, users, labels) for i in issues]
            elif resource == "pulls":
                pulls = [i for i in repo.issues.values() if i.pull_id is not None]
                selected = _select_issues(pulls, query, since=False)
                items = [_pull_json(repo, i, base, users, labels) for i in selected]
            elif resource == "issues/comments":
                items = [_comment_json(repo, c, base, users) for c in _select_comments(repo, query)]
            else:
                releases = sorted(
                    repo.releases.values(), key=lambda r: (r.created_at, r.id), reverse=True
                )
                items = [_release_json(repo, r, base, users) for r in releases]
            return f"/repositories/{repo.id}/{resource}", items


# -- selection ---------------------------------------------------------------------------------


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _choice(query: dict[str, list[str]], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _single(query, name) or default
    if value not in allowed:
        raise _BadRequest(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _since(query: dict[str, list[str]]) -> str | None:
    text = _single(query, "since")
    if not text:
        return None
    try:
        return _stamp(text)
    except ValueError:
        raise _BadRequest(f"since must be an ISO 8601 timestamp, got {text!r}") from None


def _select_issues(
    issues: Iterable[_Issue], query: dict[str, list[str]], *, since: bool
) -> list[_Issue]:
    state = _choice(query, "state", ("open", "closed", "all"), "open")
    if since:
        sort = _choice(query, "sort", ("created", "updated", "comments"), "created")
        direction = _choice(query, "direction", ("asc", "desc"), "desc")
    else:
        sort = _choice(
            query, "sort", ("created", "updated", "popularity", "long-running"), "created"
        )
        # GitHub: desc when sorting by creation (the default), asc otherwise.
        direction = _choice(
            query, "direction", ("asc", "desc"), "desc" if sort == "created" else "asc"
        )
    selected = [i for i in issues if state == "all" or i.state == state]
    threshold = _since(query) if since else None
    if threshold is not None:
        selected = [i for i in selected if i.updated_at >= threshold]  # inclusive, as GitHub
    if sort == "updated":
        selected.sort(key=lambda i: (i.updated_at, i.number))
    elif sort == "comments":
        selected.sort(key=lambda i: (i.comments, i.number))
    else:
        selected.sort(key=lambda i: (i.created_at, i.number))
    if direction == "desc":
        selected.reverse()
    return selected


def _select_comments(repo: _Repo, query: dict[str, list[str]]) -> list[_Comment]:
    sort = _single(query, "sort")
    if sort is not None and sort not in ("created", "updated"):
        raise _BadRequest(f"sort must be one of created, updated, got {sort!r}")
    threshold = _since(query)
    selected = [c for c in repo.comments.values() if threshold is None or c.updated_at >= threshold]
    if sort is None:
        return sorted(selected, key=lambda c: c.id)  # GitHub: ascending id; direction ignored
    direction = _choice(query, "direction", ("asc", "desc"), "desc")
    field_name = "updated_at" if sort == "updated" else "created_at"
    selected.sort(key=lambda c: (getattr(c, field_name), c.id), reverse=direction == "desc")
    return selected


# -- JSON shapes -------------------------------------------------------------------------------


def _user_json(login: str, users: dict[str, int]) -> dict[str, Any]:
    user_id = users.get(login, 0)
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": "User",
        "site_admin": False,
    }


def _labels_json(repo: _Repo, names: list[str], base: str, labels: dict[str, int]) -> list[Any]:
    return [
        {
            "id": labels.get(name, 0),
            "node_id": f"LA_{labels.get(name, 0)}",
            "url": f"{base}/repos/{repo.full_name}/labels/{name}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
        }
        for name in names
    ]


def _pull_urls(repo: _Repo, number: int) -> dict[str, str]:
    """A pull request's web links, as both ``/pulls`` and an issue's ``pull_request`` show."""
    html = f"https://github.com/{repo.full_name}/pull/{number}"
    return {"html_url": html, "diff_url": f"{html}.diff", "patch_url": f"{html}.patch"}


def _issue_json(
    repo: _Repo, issue: _Issue, base: str, users: dict[str, int], labels: dict[str, int]
) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    n = issue.number
    kind = "pull" if issue.pull_id is not None else "issues"
    out: dict[str, Any] = {
        "url": f"{api}/issues/{n}",
        "repository_url": api,
        "comments_url": f"{api}/issues/{n}/comments",
        "html_url": f"https://github.com/{repo.full_name}/{kind}/{n}",
        "id": issue.id,
        "node_id": f"I_{issue.id}",
        "number": n,
        "title": issue.title,
        "user": _user_json(issue.user, users),
        "labels": _labels_json(repo, issue.labels, base, labels),
        "state": issue.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": issue.comments,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "author_association": "OWNER",
        "body": issue.body,
        "state_reason": "completed" if issue.state == "closed" else None,
    }
    if issue.pull_id is not None:
        out["draft"] = False
        out["pull_request"] = {
            "url": f"{api}/pulls/{n}",
            **_pull_urls(repo, n),
            "merged_at": issue.merged_at,
        }
    return out


def _pull_json(
    repo: _Repo, issue: _Issue, base: str, users: dict[str, int], labels: dict[str, int]
) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    n = issue.number
    sha = f"{issue.pull_id or 0:040x}"
    return {
        "url": f"{api}/pulls/{n}",
        "id": issue.pull_id,
        "node_id": f"PR_{issue.pull_id}",
        **_pull_urls(repo, n),
        "issue_url": f"{api}/issues/{n}",
        "number": n,
        "state": issue.state,
        "locked": False,
        "title": issue.title,
        "user": _user_json(issue.user, users),
        "body": issue.body,
        "labels": _labels_json(repo, issue.labels, base, labels),
        "milestone": None,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "merged_at": issue.merged_at,
        "draft": False,
        "head": {
            "label": f"{repo.full_name.split('/')[0]}:feature-{n}",
            "ref": f"feature-{n}",
            "sha": sha,
        },
        "base": {"label": f"{repo.full_name.split('/')[0]}:main", "ref": "main", "sha": "0" * 40},
        "author_association": "OWNER",
    }


def _comment_json(
    repo: _Repo, comment: _Comment, base: str, users: dict[str, int]
) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    return {
        "url": f"{api}/issues/comments/{comment.id}",
        "html_url": (
            f"https://github.com/{repo.full_name}/issues/{comment.issue_number}"
            f"#issuecomment-{comment.id}"
        ),
        "issue_url": f"{api}/issues/{comment.issue_number}",
        "id": comment.id,
        "node_id": f"IC_{comment.id}",
        "user": _user_json(comment.user, users),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
        "author_association": "OWNER",
        "body": comment.body,
    }


def _release_json(
    repo: _Repo, release: _Release, base: str, users: dict[str, int]
) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    return {
        "url": f"{api}/releases/{release.id}",
        "html_url": f"https://github.com/{repo.full_name}/releases/tag/{release.tag_name}",
        "tarball_url": f"{api}/tarball/{release.tag_name}",
        "zipball_url": f"{api}/zipball/{release.tag_name}",
        "id": release.id,
        "node_id": f"RE_{release.id}",
        "tag_name": release.tag_name,
        "target_commitish": "main",
        "name": release.name,
        "draft": release.draft,
        "prerelease": release.prerelease,
        "created_at": release.created_at,
        "published_at": release.published_at,
        "author": _user_json(release.author, users),
        "body": release.body,
    }


# -- HTTP --------------------------------------------------------------------------------------


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    text = _single(query, name)
    try:
        return int(text) if text else default
    except ValueError:
        return default  # GitHub ignores a page size or number it cannot read


def _page_of(
    items: list[dict[str, Any]], query: dict[str, list[str]], url: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The requested page and its ``Link`` header (None when there is a single page)."""
    per_page = min(100, max(1, _int_param(query, "per_page", 30)))
    page = max(1, _int_param(query, "page", 1))
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]

    def link(number: int, rel: str) -> str:
        params = [(k, v) for k, values in query.items() if k != "page" for v in values]
        params.append(("page", str(number)))
        return f'<{url}?{urlencode(params)}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(min(page - 1, last), "prev")]
    return chunk, ", ".join(links) or None


class _Handler(TrackedHandler[GithubApi]):
    server_version = "HakiriGithubApi/0.1"

    def do_GET(self) -> None:
        api = self.server.api
        at = time.time()
        path, query, headers = self._target()
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        status, payload, response_headers = self._answer(
            api, path, query, headers.get("authorization")
        )
        # Logged before the answer leaves: a client that has its response sees it logged.
        api._log(GithubRequest(self.command, path, query, headers, at, status))
        self._send(status, payload, response_headers)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _answer(
        self, api: GithubApi, path: str, query: dict[str, list[str]], authorization: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, headers) of the answer."""
        status, headers, message = api._admit(authorization)
        if message is not None:
            return status, {"message": message, "documentation_url": _DOCS}, headers
        not_found = {"message": "Not Found", "documentation_url": _DOCS}
        route = _ROUTE.match(path)
        if route is None or self.command != "GET":
            return 404, not_found, headers
        base = self._base_url()
        repo_key: str | int = (
            int(route["id"]) if route["id"] else f"{route['owner']}/{route['name']}"
        )
        try:
            listed = api._list(repo_key, route["resource"], query, base)
        except _BadRequest as exc:
            body = {
                "message": "Validation Failed",
                "errors": [str(exc)],
                "documentation_url": _DOCS,
            }
            return 422, body, headers
        if listed is None:
            return 404, not_found, headers
        canonical, items = listed
        page, link = _page_of(items, query, f"{base}{canonical}")
        if link is not None:
            headers["Link"] = link
        return 200, page, headers

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        body = orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-github-api-version-selected", "2022-11-28")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a GitHub-compatible API with some issues until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m hakiri.testing.github_api",
        description="Serve a local GitHub-compatible REST API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--repo", action="append", help="owner/name to serve (repeatable; default octo/hello)"
    )
    parser.add_argument("--issues", type=int, default=50, help="issues per repository")
    parser.add_argument("--token", default=None, help="require this token")
    args = parser.parse_args(argv)
    api = GithubApi(host=args.host, port=args.port, token=args.token)
    for repo in args.repo or ["octo/hello"]:
        api.add_repo(repo)
        for issue in api.add_issues(repo, args.issues):
            if issue["number"] % 5 == 0:
                api.add_comment(repo, issue["number"], f"A comment on #{issue['number']}")
        api.add_pull(repo, "A pull request")
        api.add_release(repo, "v1.0.0")
    return serve_until_signalled(api, "GitHub-compatible API")


if __name__ == "__main__":
    raise SystemExit(main())
