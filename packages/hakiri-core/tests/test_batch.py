from __future__ import annotations

import pyarrow as pa

from hakiri.core.batch import Batch, concat_batches, records_to_table
from hakiri.core.schema import Schema


def test_columns_are_the_union_of_all_records() -> None:
    table = records_to_table([{"a": 1}, {"b": "x"}, {"a": 2, "c": {"d": True}}])
    assert table.column_names == ["a", "b", "c"]
    assert table.column("a").to_pylist() == [1, None, 2]
    assert table.column("c").to_pylist() == [None, None, {"d": True}]


def test_nested_values_stay_structs_and_lists() -> None:
    table = records_to_table([{"user": {"login": "a"}, "labels": [{"name": "bug"}]}])
    assert pa.types.is_struct(table.schema.field("user").type)
    assert pa.types.is_list(table.schema.field("labels").type)


def test_conflicting_types_fall_back_to_json_text() -> None:
    table = records_to_table([{"v": 1, "ok": 1}, {"v": {"x": 1}, "ok": 2}])
    assert table.schema.field("v").type == pa.string()
    assert table.column("v").to_pylist() == ["1", '{"x": 1}']
    assert table.column("ok").to_pylist() == [1, 2]


def test_empty_objects_are_dropped_at_every_depth() -> None:
    table = records_to_table([{"args": {}, "n": 1, "deep": {"e": {}, "k": 1}}])
    assert table.column_names == ["n", "deep"]
    assert table.column("deep").to_pylist() == [{"k": 1}]


def test_empty_page_and_batch_helpers() -> None:
    assert records_to_table([]).num_rows == 0
    batch = Batch.from_records([{"a": 1}, {"a": 2}])
    assert batch.num_rows == 2
    assert batch.schema.names == ["a"]


def test_concat_unifies_new_columns_and_nested_fields() -> None:
    one = records_to_table([{"a": 1, "s": {"x": 1}}])
    two = records_to_table([{"a": 2, "b": "n", "s": {"y": "z"}}])
    table = concat_batches([one, two])
    assert table.column_names == ["a", "s", "b"]
    assert table.column("s").to_pylist() == [{"x": 1, "y": None}, {"x": None, "y": "z"}]


def test_schema_round_trip_and_fingerprint() -> None:
    arrow = records_to_table([{"a": 1, "s": {"x": [1.5]}}]).schema
    schema = Schema.from_arrow(arrow)
    assert schema.to_arrow() == arrow
    again = Schema.from_dict(schema.to_dict())
    assert again == schema and again.fingerprint == schema.fingerprint
    assert [f.type for f in schema.fields] == ["int64", "struct<x: list<item: double>>"]
