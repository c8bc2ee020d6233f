"""The http source: plan pages without I/O, read one page per request."""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from hakiri.connectors._http.client import HttpRequest, HttpResponse, RetryingClient
from hakiri.connectors._http.links import PageRequest, next_by_link, next_link
from hakiri.connectors._http.secrets import SecretScope, scrub_table
from hakiri.connectors._http.select import MISSING, get_path, select_records
from hakiri.connectors._http.urls import build_url, display_url, query_value
from hakiri.connectors.http.config import HttpSourceConfig, LinkHeaderPagination
from hakiri.connectors.http.paginate import (
    PageResponse,
    document_paths,
    first_request,
    next_request,
)
from hakiri.core.closing import Closing
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import SourceError
from hakiri.core.ports import Host
from hakiri.core.records import Page, PageData, Plan, StreamInfo

if TYPE_CHECKING:
    from hakiri.connectors._http.decode import ArrowDecoder, DecodedPage

__all__ = ["HttpSource"]


def _page_number(key: str) -> int:
    match = re.fullmatch(r"page-(\d+)", key)
    return int(match.group(1)) if match else 1


def _stream_name(url: str) -> str:
    segments = [s for s in urlsplit(url).path.split("/") if s and "secret://" not in s]
    name = re.sub(r"[^a-z0-9_]+", "_", segments[-1].lower()).strip("_") if segments else ""
    if not name or not re.match(r"[a-z_]", name):
        name = f"_{name}" if name else "records"
    return name[:63]


class HttpSource(Closing):
    """A paginated JSON REST API (implements ``hakiri.core.ports.Source``)."""

    def __init__(
        self, config: HttpSourceConfig, host: Host, *, client: RetryingClient | None = None
    ) -> None:
        self.config = config
        self._host = host
        self._client = client or RetryingClient(
            timeout=config.timeout, retry=config.retry, clock=host.clock
        )
        self._arrow: ArrowDecoder | None = None
        # One response fetched ahead (header-driven pagination only): decoding a page and
        # waiting for the next overlap, while requests still go one at a time.
        self._pool: ThreadPoolExecutor | None = None
        self._reads = 0
        self._ahead: tuple[Page, Future[tuple[HttpRequest, SecretScope, HttpResponse]]] | None = (
            None
        )

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._client.attempts

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._ahead = None
        self._client.close()

    def _cursor_kind(self) -> CursorKind:
        return CursorKind.MONOTONIC if self.config.incremental else CursorKind.OPAQUE_TOKEN

    def plan(self, cursor: JsonValue) -> Plan:
        """The first page, starting after ``cursor``; reading it reveals the next. No I/O."""
        config = self.config
        params: dict[str, JsonValue] = dict(config.params)
        description = f"{config.method} {display_url(config.url)}"
        incremental = config.incremental
        if incremental is not None:
            start = cursor if cursor is not None else incremental.initial
            if start is not None:
                params[incremental.param] = start
                description += f" ({incremental.param}={query_value(start)})"
        request = first_request(config.pagination, config.url, params)
        return Plan([Page("page-1", request)], self._cursor_kind(), description)

    def read(self, page: Page) -> PageData:
        """Request ``page``; return its records, the next page and the cursor reached."""
        current: PageRequest = dict(page.params)
        request, scope, response = self._response_for(page, current)
        size = len(response.content)
        # A server may echo what it was sent (an Authorization header, an api_key): such
        # values become their secret:// references before anything reads the body.
        scrubber = scope.scrubber()
        if scrubber:
            response = replace(response, content=scrubber.scrub(response.content))
        header_next = self._header_next(current, response)
        self._reads += 1
        if header_next is not None and self._reads > 1:
            # The next page is known from the headers alone: start fetching it now, so the
            # request is on the wire while this page is decoded. Not on a first read, which
            # may be all a caller wants (discover, a sample).
            self._lookahead(self._stored_page(page, header_next, scope))
        decoded = self._decoder().decode(response.content)
        if decoded is None:
            decoded = self._decode_in_python(page, response, request, scope)
        following = (
            header_next
            if isinstance(self.config.pagination, LinkHeaderPagination)
            else next_request(
                self.config.pagination,
                current,
                PageResponse(
                    url=response.url,
                    document=decoded.document,
                    record_count=decoded.table.num_rows,
                    next_link=next_link(response),
                ),
            )
        )
        next_pages = []
        if following is not None:
            next_pages.append(self._stored_page(page, following, scope))
        return PageData(
            table=scrub_table(decoded.table, scrubber) if scrubber else decoded.table,
            next_pages=next_pages,
            cursor=decoded.cursor,
            bytes_read=size,
        )

    def _request(self, page: Page, current: PageRequest) -> tuple[HttpRequest, SecretScope]:
        url = current.get("url")
        if not isinstance(url, str):
            raise SourceError(
                f"page {page.key!r} is not a page of the http source (no 'url')",
                hint="plan the run again",
            )
        raw_params = current.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        scope = SecretScope(self._host.secrets)
        request = HttpRequest(
            method=self.config.method,
            url=build_url(scope.text(url), {k: scope.json(v) for k, v in params.items()}),
            display=display_url(url),
            headers={name: scope.text(value) for name, value in self.config.headers.items()},
            body=scope.json(self.config.body),
        )
        return request, scope

    def _fetch(self, page: Page) -> tuple[HttpRequest, SecretScope, HttpResponse]:
        request, scope = self._request(page, dict(page.params))
        return request, scope, self._client.send(request, redact=scope.redact)

    def _response_for(
        self, page: Page, current: PageRequest
    ) -> tuple[HttpRequest, SecretScope, HttpResponse]:
        """The response of ``page``: the one fetched ahead if it is this page, else a new
        request. Requests stay strictly one after another either way."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead_page, future = ahead
            if ahead_page == page:
                return future.result()  # re-raises the fetch's error, at this page's turn
            wait([future])  # a page we will not use: let it finish before the next request
        request, scope = self._request(page, current)
        return request, scope, self._client.send(request, redact=scope.redact)

    def _header_next(self, current: PageRequest, response: HttpResponse) -> PageRequest | None:
        """The next page's request when the headers alone say it (``Link: rel=next``)."""
        if not isinstance(self.config.pagination, LinkHeaderPagination):
            return None
        return next_by_link(current, next_link(response))

    def _stored_page(self, page: Page, request: PageRequest, scope: SecretScope) -> Page:
        # The server built these URLs from what we sent: turn secret values back into
        # references before they become a page descriptor (which is stored).
        return Page(f"page-{_page_number(page.key) + 1}", scope.to_refs_json(request))

    def _lookahead(self, page: Page) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hakiri-http")
        self._ahead = (page, self._pool.submit(self._fetch, page))

    def _decoder(self) -> ArrowDecoder:
        if self._arrow is None:
            from hakiri.connectors._http.decode import ArrowDecoder

            incremental = self.config.incremental
            self._arrow = ArrowDecoder(
                self.config.records,
                document_paths(self.config.pagination),
                incremental.cursor_field if incremental else None,
            )
        return self._arrow

    def _decode_in_python(
        self, page: Page, response: HttpResponse, request: HttpRequest, scope: SecretScope
    ) -> DecodedPage:
        """The path for any response shape: a Python object per record, then Arrow."""
        from hakiri.connectors._http.decode import DecodedPage
        from hakiri.core.batch import records_to_table

        document = self._parse(response, request, scope)
        records = select_records(document, self.config.records)
        try:
            table = records_to_table(records)
        except Exception as exc:  # pyarrow's errors; not imported at module level
            raise SourceError(
                scope.redact(
                    f"records of {page.key} from {request.display} cannot form a table: {exc}"
                ),
                hint="point source.records at an array of objects",
            ) from None
        return DecodedPage(table, document, self._max_cursor(records))

    def _parse(self, response: HttpResponse, request: HttpRequest, scope: SecretScope) -> Any:
        if not response.content.strip():
            return None
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            kind = response.headers.get("Content-Type", "no content type")
            snippet = " ".join(response.text[:80].split())
            raise SourceError(
                scope.redact(
                    f"the response of {request.method} {request.display} is not JSON "
                    f"({kind}): {snippet!r}"
                ),
                hint="check source.url: it should answer with JSON",
            ) from None

    def _max_cursor(self, records: list[dict[str, Any]]) -> JsonValue:
        incremental = self.config.incremental
        if incremental is None:
            return None
        newest: JsonValue = None
        for record in records:
            value = get_path(record, incremental.cursor_field)
            if value is MISSING or value is None:
                continue
            newest = CursorKind.MONOTONIC.advance(newest, value)
        return newest

    def discover(self) -> list[StreamInfo]:
        """Read the first page and report its schema (one stream)."""
        from hakiri.core.schema import Schema

        first = self.plan(None).pages[0]
        data = self.read(first)
        schema = Schema.from_arrow(data.table.schema) if data.table.num_columns else None
        incremental = self.config.incremental
        return [
            StreamInfo(
                name=_stream_name(self.config.url),
                schema=schema,
                cursor_field=incremental.cursor_field if incremental else None,
                description=f"{self.config.method} {display_url(self.config.url)}",
            )
        ]
