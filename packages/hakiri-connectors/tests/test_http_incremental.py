"""Incremental reads: the committed cursor is sent as ``param``; the server filters."""

from __future__ import annotations

import pytest

from hakiri.connectors.http import connector
from hakiri.core.cursor import CursorKind
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import TestHost
from hakiri.testing.sources import read_all


def _options(url: str, **incremental: object) -> dict[str, object]:
    return {
        "url": f"{url}/issues",
        "params": {"style": "link", "per_page": 10},
        "pagination": {"kind": "link_header"},
        "incremental": {"cursor_field": "updated_at", "param": "since", **incremental},
    }


@pytest.mark.parametrize("kind", ["link_header", "offset"])
def test_second_run_starts_from_the_max_seen(kind: str, host: TestHost) -> None:
    with DemoApi(issues=25) as api:
        options = _options(api.url)
        if kind == "offset":
            options["params"] = {"style": "offset"}
            options["records"] = "records"
            options["pagination"] = {"kind": "offset", "limit": 10, "total_path": "total"}
        with connector.create(options, host) as source:
            first = read_all(source)
            assert first.plan.cursor_kind is CursorKind.MONOTONIC
            assert first.column("id") == list(range(1, 26))
            assert all(r.param("since") is None for r in api.requests)
            newest = max(first.column("updated_at"))
            assert first.cursor == newest

            api.add_issues(4)
            api.clear_requests()
            second = read_all(source, first.cursor)
        assert second.plan.description.endswith(f"(since={newest})")
        assert second.plan.pages[0].params["params"]["since"] == newest  # type: ignore[index]
        assert all(r.param("since") == newest for r in api.requests_to("/issues"))
    # ``since`` is inclusive (like GitHub): the newest record of the first run comes again.
    assert second.column("id") == [25, 26, 27, 28, 29]
    assert second.cursor == max(second.column("updated_at")) > newest


def test_initial_is_used_before_any_cursor(host: TestHost) -> None:
    with DemoApi(issues=30) as api:
        options = _options(api.url, initial="2024-01-02T00:00:00Z")
        with connector.create(options, host) as source:
            result = read_all(source)
        assert api.requests[0].param("since") == "2024-01-02T00:00:00Z"
    # Issue n is updated at 2024-01-01T00:30Z + (n - 1) hours.
    assert result.column("id")[0] == 25
    assert result.column("id")[-1] == 30


def test_an_empty_page_keeps_the_cursor(host: TestHost) -> None:
    with DemoApi(issues=3) as api:
        with connector.create(_options(api.url), host) as source:
            result = read_all(source, "2030-01-01T00:00:00Z")
    assert result.rows == []
    assert result.data[0].cursor is None
    assert result.cursor == "2030-01-01T00:00:00Z"
