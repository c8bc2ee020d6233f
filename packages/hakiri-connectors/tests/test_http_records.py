"""Record selection, POST bodies, the httpbin echo, redirects and discover."""

from __future__ import annotations

import pytest

from hakiri.connectors.http import connector
from hakiri.core.errors import SourceError
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import TestHost
from hakiri.testing.sources import read_all


def test_an_object_response_is_one_record(demo_api: DemoApi, host: TestHost) -> None:
    options = {"url": f"{demo_api.url}/anything", "params": {"q": "hakiri", "n": 3}}
    with connector.create(options, host) as source:
        result = read_all(source)
    (row,) = result.rows
    assert row["args"] == {"q": "hakiri", "n": "3"}
    assert row["method"] == "GET"
    assert row["url"] == f"{demo_api.url}/anything?q=hakiri&n=3"


def test_nested_selector_with_a_post_body(demo_api: DemoApi, host: TestHost) -> None:
    options = {
        "url": f"{demo_api.url}/anything/search",
        "method": "POST",
        "body": {"query": {"items": [{"id": 1, "tag": "a"}, {"id": 2, "tag": "b"}]}},
        "records": "json.query.items",
    }
    with connector.create(options, host) as source:
        result = read_all(source)
    assert result.rows == [{"id": 1, "tag": "a"}, {"id": 2, "tag": "b"}]
    (request,) = demo_api.requests
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"


def test_scalar_elements_become_value_rows(demo_api: DemoApi, host: TestHost) -> None:
    options = {
        "url": f"{demo_api.url}/anything",
        "method": "POST",
        "body": {"numbers": [1, 2, 3]},
        "records": "json.numbers",
    }
    with connector.create(options, host) as source:
        assert read_all(source).rows == [{"value": 1}, {"value": 2}, {"value": 3}]


def test_a_missing_selector_path_is_named(demo_api: DemoApi, host: TestHost) -> None:
    options = {"url": f"{demo_api.url}/anything", "records": "json.items"}
    with connector.create(options, host) as source, pytest.raises(SourceError) as caught:
        read_all(source)
    assert "'json.items'" in caught.value.message
    assert caught.value.code == "source_error"


def test_a_null_selection_is_no_records(demo_api: DemoApi, host: TestHost) -> None:
    # /anything answers "json": null to a GET without a body.
    options = {"url": f"{demo_api.url}/anything", "records": "json"}
    with connector.create(options, host) as source:
        result = read_all(source)
    assert result.rows == []


def test_a_response_that_is_not_json(demo_api: DemoApi, host: TestHost) -> None:
    with connector.create({"url": f"{demo_api.url}/html"}, host) as source:
        with pytest.raises(SourceError, match="not JSON") as caught:
            read_all(source)
    assert f"{demo_api.url}/html" in caught.value.message
    assert "\n" not in caught.value.one_line()


def test_redirects_are_followed(demo_api: DemoApi, host: TestHost) -> None:
    options = {
        "url": f"{demo_api.url}/redirect-to",
        "params": {"url": "/anything?moved=yes", "status_code": 301},
        "records": "args",
    }
    with connector.create(options, host) as source:
        assert read_all(source).rows == [{"moved": "yes"}]


def test_discover_reports_the_schema(host: TestHost) -> None:
    with DemoApi(issues=8) as api:
        options = {
            "url": f"{api.url}/issues",
            "params": {"style": "token", "per_page": 3},
            "records": "items",
            "pagination": {"kind": "next_token", "path": "next_token", "param": "token"},
            "incremental": {"cursor_field": "updated_at", "param": "since"},
        }
        with connector.create(options, host) as source:
            (stream,) = source.discover()
        assert len(api.requests) == 1  # the first page only
    assert stream.name == "issues"
    assert stream.cursor_field == "updated_at"
    assert stream.schema is not None
    assert stream.schema.names[:4] == ["id", "number", "title", "state"]
    assert {"user", "labels", "updated_at"} <= set(stream.schema.names)
    types = {field.name: field.type for field in stream.schema.fields}
    assert types["id"] == "int64"
