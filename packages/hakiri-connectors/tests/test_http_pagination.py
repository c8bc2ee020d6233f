"""Every pagination kind reads every record exactly once, from a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hakiri.connectors.http import connector
from hakiri.core.cursor import CursorKind
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import TestHost
from hakiri.testing.sources import read_all

N = 23
PER_PAGE = 5

CASES: dict[str, dict[str, Any]] = {
    "link_header": {
        "params": {"style": "link", "per_page": PER_PAGE},
        "pagination": {"kind": "link_header"},
    },
    "next_url": {
        "params": {"style": "next_url", "per_page": PER_PAGE},
        "records": "data",
        "pagination": {"kind": "next_url", "path": "next"},
    },
    "next_url_relative": {
        "params": {"style": "next_url", "per_page": PER_PAGE, "next_relative": 1},
        "records": "data",
        "pagination": {"kind": "next_url", "path": "next"},
    },
    "next_token": {
        "params": {"style": "token", "per_page": PER_PAGE},
        "records": "items",
        "pagination": {"kind": "next_token", "path": "next_token", "param": "token"},
    },
    "page_number_total": {
        "params": {"style": "page", "per_page": PER_PAGE},
        "records": "results",
        "pagination": {"kind": "page_number", "total_pages_path": "total_pages"},
    },
    "page_number_size": {
        "params": {"style": "page"},
        "records": "results",
        "pagination": {"kind": "page_number", "size_param": "per_page", "size": PER_PAGE},
    },
    "page_number_until_empty": {
        "params": {"style": "page", "per_page": PER_PAGE},
        "records": "results",
        "pagination": {"kind": "page_number"},
    },
    "offset_total": {
        "params": {"style": "offset"},
        "records": "records",
        "pagination": {"kind": "offset", "limit": PER_PAGE, "total_path": "total"},
    },
    "offset_short_page": {
        "params": {"style": "offset"},
        "records": "records",
        "pagination": {"kind": "offset", "limit": PER_PAGE},
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reads_every_issue_exactly_once(case: str, host: TestHost) -> None:
    with DemoApi(issues=N) as api:
        options = {"url": f"{api.url}/issues", **CASES[case]}
        with connector.create(options, host) as source:
            result = read_all(source)
        issue_requests = api.requests_to("/issues")
    assert result.column("id") == list(range(1, N + 1))
    assert [page.key for page in result.pages][:3] == ["page-1", "page-2", "page-3"]
    assert len({page.key for page in result.pages}) == len(result.pages)
    # One request per page: nothing read twice, no page skipped.
    assert len(issue_requests) == len(result.pages)
    for page in result.pages:
        json.dumps(page.to_dict())  # page descriptors are JSON-serialisable
    assert result.plan.cursor_kind is CursorKind.OPAQUE_TOKEN
    assert result.cursor is None


def test_page_number_stops_past_total_even_when_pages_are_full(host: TestHost) -> None:
    # 20 issues in pages of 5: the fourth page is full, total_pages says it is the last.
    with DemoApi(issues=20) as api:
        options = {"url": f"{api.url}/issues", **CASES["page_number_total"]}
        with connector.create(options, host) as source:
            result = read_all(source)
        assert len(api.requests_to("/issues")) == 4
    assert result.column("id") == list(range(1, 21))


def test_no_pagination_reads_one_page(host: TestHost) -> None:
    with DemoApi(issues=N) as api:
        with connector.create({"url": f"{api.url}/issues?per_page=7"}, host) as source:
            result = read_all(source)
    assert result.column("id") == list(range(1, 8))
    assert len(result.pages) == 1


def test_plan_does_no_io_and_describes_the_request(host: TestHost) -> None:
    with DemoApi() as api:
        options = {"url": f"{api.url}/issues", "params": {"style": "token"}}
        with connector.create(options, host) as source:
            plan = source.plan(None)
        assert api.requests == []
    assert [page.key for page in plan.pages] == ["page-1"]
    assert plan.pages[0].params == {"url": f"{api.url}/issues", "params": {"style": "token"}}
    assert plan.description == f"GET {api.url}/issues"


def test_a_page_read_in_another_process_gives_the_same_result(host: TestHost) -> None:
    # Pages are pointers: a descriptor that went through JSON reads the same data.
    with DemoApi(issues=12) as api:
        options = {"url": f"{api.url}/issues", **CASES["next_token"]}
        with connector.create(options, host) as source:
            first = source.read(source.plan(None).pages[0])
            second = first.next_pages[0]
            revived = type(second).from_dict(json.loads(json.dumps(second.to_dict())))
            assert source.read(revived).table.equals(source.read(second).table)


def test_link_pages_are_fetched_one_ahead_but_one_at_a_time(
    demo_api: DemoApi, host: TestHost
) -> None:
    from hakiri.connectors.http.config import HttpSourceConfig
    from hakiri.connectors.http.source import HttpSource

    config = HttpSourceConfig.model_validate(
        {
            "url": f"{demo_api.url}/issues",
            "params": {"style": "link", "per_page": 10},
            "pagination": {"kind": "link_header"},
        }
    )
    with HttpSource(config, host) as source:
        first = source.read(source.plan(None).pages[0])
        # A first read (discover, a sample) sends exactly one request.
        assert len(demo_api.requests_to("/issues")) == 1
        second = source.read(first.next_pages[0])
        third = source.read(second.next_pages[0])
    pages = [int(r.param("page") or 1) for r in demo_api.requests_to("/issues")]
    # Page 4 was requested ahead while page 3 was decoded; nothing twice, nothing skipped.
    assert pages == [1, 2, 3, 4]
    ids = [t.column("id").to_pylist() for t in (first.table, second.table, third.table)]
    assert ids == [list(range(1, 11)), list(range(11, 21)), list(range(21, 31))]
