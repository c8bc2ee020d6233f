"""Options are validated up front, with one line naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from hakiri.connectors.http import HttpSourceConfig, connector
from hakiri.connectors.http.config import NoPagination, OffsetPagination
from hakiri.core.errors import ConfigError
from hakiri.testing.host import TestHost


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"url": "http://x/", "retries": 3}, "unknown option 'retries'"),
        (
            {"url": "http://x/", "pagination": {"kind": "link_header", "x": 1}},
            "'pagination.link_header.x'",
        ),
        ({"url": "http://x/", "pagination": {"kind": "cursor"}}, "'pagination'"),
        ({"url": "http://x/", "pagination": {"kind": "next_url"}}, "'pagination.next_url.path'"),
        ({}, "missing required option 'url'"),
        ({"url": "ftp://x/"}, "'url'"),
        ({"url": "http://x/", "method": "DELETE"}, "'method'"),
        ({"url": "http://x/", "body": {"a": 1}}, "body is sent only with method = 'POST'"),
        (
            {"url": "http://x/", "incremental": {"cursor_field": "updated_at"}},
            "'incremental.param'",
        ),
        ({"url": "http://x/", "retry": {"max_attempts": 0}}, "'retry.max_attempts'"),
    ],
)
def test_invalid_options_fail_with_one_line(
    options: dict[str, Any], expected: str, host: TestHost
) -> None:
    with pytest.raises(ConfigError) as caught:
        connector.create(options, host)
    assert expected in caught.value.message
    assert caught.value.message.startswith("http connector: ")
    assert "\n" not in caught.value.one_line()
    assert caught.value.code == "config_invalid"


def test_defaults(host: TestHost) -> None:
    config = HttpSourceConfig.model_validate({"url": "https://api.example.com/items"})
    assert config.method == "GET"
    assert isinstance(config.pagination, NoPagination)
    assert config.timeout == 30
    assert config.records is None and config.incremental is None
    offset = HttpSourceConfig.model_validate(
        {"url": "http://x/", "pagination": {"kind": "offset"}}
    ).pagination
    assert isinstance(offset, OffsetPagination)
    assert (offset.param, offset.limit_param, offset.limit) == ("offset", "limit", 100)
    assert HttpSourceConfig.model_validate({"url": "http://x/", "method": "post"}).method == "POST"


def test_the_spec_is_a_documented_json_schema() -> None:
    schema = connector.config_model.model_json_schema()
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["url"]
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"option {name!r} has no description"
    kinds = schema["properties"]["pagination"]["discriminator"]["mapping"]
    assert set(kinds) == {"none", "link_header", "next_url", "next_token", "page_number", "offset"}
