"""The columnar decoder: JSON bytes → Arrow with one schema per run, strings kept."""

from __future__ import annotations

import orjson
import pyarrow as pa

from hakiri.connectors._http.decode import ArrowDecoder


def _body(value: object) -> bytes:
    return orjson.dumps(value)


def test_array_of_objects_with_nesting() -> None:
    decoder = ArrowDecoder(None)
    page = decoder.decode(
        _body(
            [
                {
                    "id": 1,
                    "user": {"login": "a"},
                    "labels": [{"name": "bug"}],
                    "at": "2024-01-01T00:00:00Z",
                },
                {"id": 2, "user": {"login": "b"}, "labels": [], "at": "2024-01-02T00:00:00Z"},
            ]
        )
    )
    assert page is not None
    table = page.table
    assert table.column("id").to_pylist() == [1, 2]
    assert pa.types.is_struct(table.schema.field("user").type)
    assert pa.types.is_list(table.schema.field("labels").type)
    # ISO-8601 text stays text: the same field must not flip between timestamp and string.
    assert table.schema.field("at").type == pa.string()
    assert table.column("at").to_pylist() == ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"]


def test_one_schema_across_pages_and_new_fields_are_kept() -> None:
    decoder = ArrowDecoder(None)
    first = decoder.decode(_body([{"id": 1, "m": None, "u": {"a": 1}}]))
    second = decoder.decode(
        _body([{"id": 2, "m": {"t": "x"}, "u": {"a": 2, "b": "new"}, "z": 1.5}])
    )
    third = decoder.decode(_body([{"id": 3}]))
    assert first is not None and second is not None and third is not None
    assert second.table.column("u").to_pylist() == [{"a": 2, "b": "new"}]
    assert second.table.column("m").to_pylist() == [{"t": "x"}]
    # Later pages keep every column learnt so far (absent values are null).
    assert third.table.schema == second.table.schema
    assert third.table.column("z").to_pylist() == [None]


def test_records_path_and_pagination_values() -> None:
    decoder = ArrowDecoder("data.items", ("links.next", "total"))
    page = decoder.decode(
        _body({"data": {"items": [{"id": 1}, {"id": 2}]}, "links": {"next": "/p2"}, "total": 9})
    )
    assert page is not None
    assert page.table.column("id").to_pylist() == [1, 2]
    assert page.document == {"links": {"next": "/p2"}, "total": 9}
    last = decoder.decode(_body({"data": {"items": []}, "links": {"next": None}, "total": 9}))
    assert last is not None and last.table.num_rows == 0
    assert last.document["links"]["next"] is None


def test_single_object_response_is_one_record() -> None:
    page = ArrowDecoder(None).decode(_body({"args": {}, "method": "GET", "n": 1}))
    assert page is not None
    assert page.table.column_names == ["method", "n"]  # the empty object is dropped


def test_cursor_is_the_largest_value_of_the_page() -> None:
    decoder = ArrowDecoder(None, cursor_field="meta.updated")
    page = decoder.decode(
        _body([{"meta": {"updated": "2024-01-03"}}, {"meta": {"updated": "2024-01-05"}}])
    )
    assert page is not None and page.cursor == "2024-01-05"


def test_shapes_it_cannot_take_return_none() -> None:
    decoder = ArrowDecoder(None)
    assert decoder.decode(b"<html>") is None
    assert decoder.decode(_body([1, 2, 3])) is None  # records that are not objects
    assert decoder.decode(_body([{"v": 1}, {"v": "x"}])) is None  # type changes in a page
    assert ArrowDecoder("data").decode(_body([{"id": 1}])) is None  # a path into an array


def test_a_type_change_on_a_later_page_falls_back_for_that_page_only() -> None:
    decoder = ArrowDecoder(None)
    assert decoder.decode(_body([{"v": 1}])) is not None
    assert decoder.decode(_body([{"v": "text"}])) is None
    again = decoder.decode(_body([{"v": 2}]))
    assert again is not None and again.table.column("v").type == pa.int64()


def test_a_records_path_the_response_lacks_goes_to_the_python_path() -> None:
    assert ArrowDecoder("items").decode(_body({"data": [{"id": 1}]})) is None
