"""The github source: one chain of ``Link`` pages per repository, read with the shared
HTTP client of ``hakiri.connectors._http`` (retries, rate limits, secrets) and its decoder
(Arrow, stable schema).

A page descriptor holds everything its read needs, so any worker can read it::

    {"repo": "octo/hello", "n": 2, "request": {"url": …, "params": {…}},
     "since": "2024-01-01T00:00:00Z", "watermark": "2024-03-02T10:00:00Z"}

``since`` is where the repository's read started (the pulls endpoint has no ``since``, so
the source filters and stops by it); ``watermark`` is the newest ``updated_at`` the chain
has seen so far, so that every page's cursor is at least its predecessor's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from hakiri.connectors._http.client import HttpRequest, HttpResponse, RetryingClient
from hakiri.connectors._http.links import next_by_link, next_link
from hakiri.connectors._http.retry import RateLimitConfig, RetryConfig
from hakiri.connectors._http.secrets import SecretScope
from hakiri.connectors._http.select import get_path, select_records
from hakiri.connectors._http.urls import build_url, display_url
from hakiri.connectors.github.config import GithubSourceConfig
from hakiri.connectors.github.errors import repository_error, transport_error
from hakiri.connectors.github.resources import RESOURCES, ResourceShape
from hakiri.core.closing import Closing
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import SourceError, SourceHttpError
from hakiri.core.ports import Host
from hakiri.core.records import Page, PageData, Plan, StreamInfo

if TYPE_CHECKING:
    import pyarrow as pa

    from hakiri.connectors._http.decode import ArrowDecoder

__all__ = ["GithubSource", "retry_config"]

_CURSOR_FIELD = "updated_at"
_API_VERSION = "2022-11-28"
_PULL_ONLY = ("pull_request", "draft")
"""Columns the issues endpoint gives pull requests only: all null once they are left out."""


def retry_config(config: GithubSourceConfig) -> RetryConfig:
    """The http client's policy for GitHub: the default retries, and waiting out the rate
    limit (``x-ratelimit-*``, ``Retry-After``) up to ``max_rate_limit_wait``."""
    return RetryConfig(rate_limit=RateLimitConfig(max_wait=config.max_rate_limit_wait))


class GithubSource(Closing):
    """Implements ``hakiri.core.ports.Source`` for one resource of some repositories."""

    def __init__(
        self, config: GithubSourceConfig, host: Host, *, client: RetryingClient | None = None
    ) -> None:
        self.config = config
        self._shape: ResourceShape = RESOURCES[config.resource]
        self._host = host
        self._client = client or RetryingClient(
            timeout=config.timeout, retry=retry_config(config), clock=host.clock
        )
        self._headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": _API_VERSION,
        }
        if config.token is not None:
            self._headers["Authorization"] = f"Bearer {config.token}"  # resolved per request
        self._arrow: ArrowDecoder | None = None

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._client.attempts

    def close(self) -> None:
        self._client.close()

    # -- plan -------------------------------------------------------------------------------

    def plan(self, cursor: JsonValue) -> Plan:
        """One first page per repository, each from its own watermark. No I/O.

        The pages of different repositories are independent: a scheduler may read them on
        different workers (sharding by repository).
        """
        shape = self._shape
        positions = cursor if isinstance(cursor, dict) else {}
        pages = []
        for repo in self.config.repos:
            since = None
            if shape.incremental:
                committed = positions.get(repo)
                since = committed if isinstance(committed, str) else self.config.since
            request = {
                "url": f"{self.config.base_url}/repos/{repo}/{shape.path}",
                "params": shape.params(self.config, since),
            }
            pages.append(_page(repo, 1, request, since, since))
        kind = CursorKind.MONOTONIC if shape.incremental else CursorKind.SNAPSHOT_ID
        count = len(self.config.repos)
        description = f"GET /repos/{{owner}}/{{repo}}/{shape.path} for {count} "
        description += "repository" if count == 1 else "repositories"
        if shape.incremental and positions:
            description += " (each since its watermark)"
        return Plan(pages, kind, description)

    # -- read -------------------------------------------------------------------------------

    def read(self, page: Page) -> PageData:
        """Request ``page``; its rows (with ``repository``), the next page, the cursor."""
        repo, number, request, since, watermark = _unpack(page)
        response = self._get(repo, request)
        table, newest = self._decode(response)
        stop = False
        if self._shape.incremental and not self._shape.server_since and since is not None:
            table, stop = _updated_since(table, since)
        if self._shape.name == "issues":
            table = _without_pulls(table)
        table = _with_repository(table, repo)
        cursor: JsonValue = None
        if self._shape.incremental:
            watermark = CursorKind.MONOTONIC.advance(watermark, newest)
            cursor = {repo: watermark} if watermark is not None else None
        next_pages = []
        following = None if stop else next_by_link(request, next_link(response))
        if following is not None:
            next_pages.append(_page(repo, number + 1, following, since, watermark))
        return PageData(table, next_pages, cursor, len(response.content))

    def _get(self, repo: str, request: dict[str, JsonValue]) -> HttpResponse:
        url, params = request["url"], request.get("params")
        assert isinstance(url, str)  # _unpack checked it
        scope = SecretScope(self._host.secrets)
        http_request = HttpRequest(
            method="GET",
            url=build_url(url, params if isinstance(params, dict) else {}),
            display=display_url(url),
            headers={name: scope.text(value) for name, value in self._headers.items()},
        )
        try:
            return self._client.send(http_request, redact=scope.redact)
        except SourceHttpError as exc:
            raise repository_error(exc, repo, self.config) from None
        except SourceError as exc:
            raise transport_error(exc, self.config) from None

    def _decode(self, response: HttpResponse) -> tuple[pa.Table, JsonValue]:
        """The page as Arrow and its newest ``updated_at``."""
        if self._arrow is None:
            from hakiri.connectors._http.decode import ArrowDecoder

            # One decoder for every repository: one schema, learnt once, for all pages.
            cursor_field = _CURSOR_FIELD if self._shape.incremental else None
            self._arrow = ArrowDecoder(None, (), cursor_field)
        decoded = self._arrow.decode(response.content)
        if decoded is not None:
            return decoded.table, decoded.cursor
        return self._decode_in_python(response)

    def _decode_in_python(self, response: HttpResponse) -> tuple[pa.Table, JsonValue]:
        """The path for a page Arrow's reader cannot take (a field changing type)."""
        from hakiri.core.batch import records_to_table

        try:
            document: Any = orjson.loads(response.content) if response.content.strip() else []
        except orjson.JSONDecodeError:
            raise SourceError(
                f"github: the response of {display_url(response.url)} is not JSON",
                hint="check base_url: it should be GitHub's REST API root",
            ) from None
        records = select_records(document, None)
        newest: JsonValue = None
        if self._shape.incremental:
            for record in records:
                value = get_path(record, _CURSOR_FIELD)
                if isinstance(value, str):
                    newest = CursorKind.MONOTONIC.advance(newest, value)
        return records_to_table(records), newest

    # -- discover ---------------------------------------------------------------------------

    def discover(self) -> list[StreamInfo]:
        """Every resource of the configured repositories, one stream each. No I/O."""
        repos = ", ".join(self.config.repos)
        return [
            StreamInfo(
                name=shape.name,
                schema=None,
                cursor_field=_CURSOR_FIELD if shape.incremental else None,
                primary_key=("id",),
                description=f"{shape.description} Repositories: {repos}.",
                options={"resource": shape.name},
            )
            for shape in RESOURCES.values()
        ]


def _page(
    repo: str, number: int, request: dict[str, JsonValue], since: str | None, watermark: Any
) -> Page:
    return Page(
        f"{repo}/page-{number}",
        {"repo": repo, "n": number, "request": request, "since": since, "watermark": watermark},
    )


def _unpack(page: Page) -> tuple[str, int, dict[str, JsonValue], str | None, JsonValue]:
    params = page.params
    repo, number, request = params.get("repo"), params.get("n"), params.get("request")
    since = params.get("since")
    if (
        not isinstance(repo, str)
        or not isinstance(number, int)
        or not isinstance(request, dict)
        or not isinstance(request.get("url"), str)
        or not (since is None or isinstance(since, str))
    ):
        raise SourceError(
            f"page {page.key!r} is not a page of the github source", hint="plan the run again"
        )
    return repo, number, request, since, params.get("watermark")


def _updated_since(table: pa.Table, since: str) -> tuple[pa.Table, bool]:
    """The rows updated at or after ``since``, and whether the page went past it (pages are
    newest first, so nothing after an older row is newer)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0 or _CURSOR_FIELD not in table.column_names:
        return table, False
    updated: Any = table.column(_CURSOR_FIELD)  # Any: the stubs lose compute's overloads
    if not pa.types.is_string(updated.type):
        return table, False  # not GitHub's timestamps: nothing to filter by
    keep: Any = pc.fill_null(pc.greater_equal(updated, pa.scalar(since, pa.string())), False)
    kept = int(pc.sum(keep).as_py() or 0)
    if kept == table.num_rows:
        return table, False
    return table.filter(keep), True


def _without_pulls(table: pa.Table) -> pa.Table:
    """The issues endpoint lists pull requests too, marked by ``pull_request``: drop them."""
    import pyarrow.compute as pc

    if "pull_request" not in table.column_names:
        return table
    table = table.filter(pc.is_null(table.column("pull_request")))
    return table.drop_columns([name for name in _PULL_ONLY if name in table.column_names])


def _with_repository(table: pa.Table, repo: str) -> pa.Table:
    """``table`` with a first column ``repository`` = ``repo`` (replacing any such field)."""
    import pyarrow as pa

    if table.num_columns == 0:
        return table  # an empty page: no columns to add one to
    if "repository" in table.column_names:
        table = table.drop_columns(["repository"])
    column = pa.array([repo] * table.num_rows, type=pa.string())
    return table.add_column(0, "repository", column)
