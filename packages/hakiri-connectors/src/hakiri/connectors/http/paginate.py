"""Pagination strategies: the request of the first page, and of the page after a response.

Requests are the page requests of ``hakiri.connectors._http.links``; a strategy that
follows a URL the server gave carries the current parameters over the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from hakiri.connectors._http.links import PageRequest, follow, request_params
from hakiri.connectors._http.select import MISSING, get_path
from hakiri.connectors.http.config import (
    LinkHeaderPagination,
    NextTokenPagination,
    NextUrlPagination,
    NoPagination,
    OffsetPagination,
    PageNumberPagination,
    Pagination,
)
from hakiri.core.cursor import JsonValue

__all__ = ["PageResponse", "document_paths", "first_request", "next_request"]


@dataclass(frozen=True, slots=True)
class PageResponse:
    """What pagination needs to know about a response."""

    url: str
    """The URL the response came from (after redirects), to resolve relative links."""
    document: Any
    record_count: int
    next_link: str | None = None
    """The ``rel="next"`` target of the ``Link`` header, absolute."""


def document_paths(pagination: Pagination) -> tuple[str, ...]:
    """The paths into a response body this pagination reads (the rest of the body can go
    straight to Arrow)."""
    if isinstance(pagination, NextUrlPagination | NextTokenPagination):
        return (pagination.path,)
    if isinstance(pagination, PageNumberPagination) and pagination.total_pages_path:
        return (pagination.total_pages_path,)
    if isinstance(pagination, OffsetPagination) and pagination.total_path:
        return (pagination.total_path,)
    return ()


def first_request(pagination: Pagination, url: str, params: dict[str, JsonValue]) -> PageRequest:
    """The request of the first page."""
    params = dict(params)
    if isinstance(pagination, PageNumberPagination):
        params[pagination.param] = pagination.start
        if pagination.size_param and pagination.size:
            params[pagination.size_param] = pagination.size
    elif isinstance(pagination, OffsetPagination):
        params[pagination.param] = 0
        params[pagination.limit_param] = pagination.limit
    return {"url": url, "params": params}


def next_request(
    pagination: Pagination, current: PageRequest, response: PageResponse
) -> PageRequest | None:
    """The request of the page after ``current``, or None when ``current`` was the last."""
    following = _next(pagination, current, response)
    # A server that keeps pointing at the same page would make a run loop forever.
    return None if following == current else following


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _next(
    pagination: Pagination, current: PageRequest, response: PageResponse
) -> PageRequest | None:
    if isinstance(pagination, NoPagination):
        return None
    if isinstance(pagination, LinkHeaderPagination):
        return follow(response.next_link, current) if response.next_link else None
    if isinstance(pagination, NextUrlPagination):
        target = get_path(response.document, pagination.path)
        if not isinstance(target, str) or not target.strip():
            return None
        return follow(urljoin(response.url, target.strip()), current)
    if isinstance(pagination, NextTokenPagination):
        token = get_path(response.document, pagination.path)
        if token is MISSING or token is None or token == "" or isinstance(token, dict | list):
            return None
        return {
            "url": current["url"],
            "params": {**request_params(current), pagination.param: token},
        }
    if isinstance(pagination, PageNumberPagination):
        return _next_page_number(pagination, current, response)
    return _next_offset(pagination, current, response)


def _next_page_number(
    pagination: PageNumberPagination, current: PageRequest, response: PageResponse
) -> PageRequest | None:
    if response.record_count == 0:
        return None
    params = request_params(current)
    page = int(_number(params.get(pagination.param)) or pagination.start)
    total_pages = (
        _number(get_path(response.document, pagination.total_pages_path))
        if pagination.total_pages_path
        else None
    )
    if total_pages is not None:
        # The count is authoritative: a server may cap the page size below ours.
        if page >= pagination.start + total_pages - 1:
            return None
    elif pagination.size and response.record_count < pagination.size:
        return None
    return {"url": current["url"], "params": {**params, pagination.param: page + 1}}


def _next_offset(
    pagination: OffsetPagination, current: PageRequest, response: PageResponse
) -> PageRequest | None:
    if response.record_count == 0:
        return None
    params = request_params(current)
    offset = int(_number(params.get(pagination.param)) or 0) + response.record_count
    total = (
        _number(get_path(response.document, pagination.total_path))
        if pagination.total_path
        else None
    )
    if total is not None:
        if offset >= total:
            return None
    elif response.record_count < pagination.limit:
        return None
    return {"url": current["url"], "params": {**params, pagination.param: offset}}
