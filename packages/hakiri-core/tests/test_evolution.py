"""``reconcile``: every kind of change under every policy, nested types and null columns."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from hakiri.core.errors import SchemaFrozen, SchemaIncompatible, SchemaRejected
from hakiri.core.evolution import (
    INCOMPATIBLE,
    NEW_COLUMN,
    WIDENING,
    common_type,
    conform_table,
    decide,
    fits,
    reconcile,
    variant_column,
)
from hakiri.core.records import SchemaAction, SchemaChange, SchemaPolicy

EVOLVE, FREEZE = SchemaPolicy.EVOLVE, SchemaPolicy.FREEZE
DISCARD, VARIANT = SchemaPolicy.DISCARD_ROW, SchemaPolicy.VARIANT

TABLE = pa.schema([("id", pa.int64()), ("name", pa.string()), ("score", pa.int64())])


def batch(**columns: Any) -> pa.Table:
    return pa.table({name: pa.array(values[0], values[1]) for name, values in columns.items()})


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def only(changes: tuple[SchemaChange, ...]) -> SchemaChange:
    assert len(changes) == 1, changes
    return changes[0]


# -- nothing changed ------------------------------------------------------------------------


@pytest.mark.parametrize("policy", list(SchemaPolicy))
def test_a_batch_of_the_tables_schema_passes_unchanged(policy: SchemaPolicy) -> None:
    data = batch(id=([1], pa.int64()), name=(["a"], pa.string()), score=([3], pa.int64()))
    result = reconcile(TABLE, data, policy)
    assert result.changes == () and result.discarded_rows == 0
    assert result.table.equals(data) and result.schema.equals(TABLE)


@pytest.mark.parametrize("policy", list(SchemaPolicy))
def test_a_new_table_takes_the_first_batchs_schema(policy: SchemaPolicy) -> None:
    data = batch(id=([1], pa.int64()), tag=(["x"], pa.string()))
    result = reconcile(None, data, policy)
    assert result.changes == () and result.table.equals(data)
    assert result.schema.equals(data.schema)


@pytest.mark.parametrize("policy", list(SchemaPolicy))
def test_missing_columns_are_null_and_reordered_under_every_policy(policy: SchemaPolicy) -> None:
    data = batch(score=([5, 6], pa.int64()), id=([1, 2], pa.int64()))
    result = reconcile(TABLE, data, policy)
    assert result.changes == ()
    assert result.schema.equals(TABLE)
    assert rows(result.table) == [
        {"id": 1, "name": None, "score": 5},
        {"id": 2, "name": None, "score": 6},
    ]


@pytest.mark.parametrize("policy", list(SchemaPolicy))
def test_narrower_types_fit_without_a_decision(policy: SchemaPolicy) -> None:
    table = pa.schema(
        [
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("s", pa.large_string()),
            ("t", pa.timestamp("us", "UTC")),
            ("l", pa.list_(pa.int64())),
            ("st", pa.struct([("a", pa.int64()), ("b", pa.string())])),
        ]
    )
    data = pa.table(
        {
            "i": pa.array([1], pa.int16()),
            "f": pa.array([2], pa.int32()),
            "s": pa.array(["x"], pa.string()),
            "t": pa.array([1], pa.timestamp("s", "UTC")),
            "l": pa.array([[1, 2]], pa.list_(pa.int8())),
            "st": pa.array([{"a": 1}], pa.struct([("a", pa.int32())])),
        }
    )
    result = reconcile(table, data, policy)
    assert result.changes == ()
    assert result.schema.equals(table)
    assert result.table.schema.equals(table)
    assert rows(result.table)[0]["f"] == 2.0
    assert rows(result.table)[0]["st"] == {"a": 1, "b": None}


@pytest.mark.parametrize("policy", list(SchemaPolicy))
def test_a_column_null_on_every_row_is_no_change_for_an_existing_column(
    policy: SchemaPolicy,
) -> None:
    data = batch(id=([1], pa.int64()), score=([None], pa.string()))
    result = reconcile(TABLE, data, policy)
    assert result.changes == ()
    assert result.schema.equals(TABLE)
    assert rows(result.table) == [{"id": 1, "name": None, "score": None}]


# -- new columns ----------------------------------------------------------------------------

NEW = batch(id=([1, 2, 3], pa.int64()), tag=(["x", None, "z"], pa.string()))


@pytest.mark.parametrize("policy", [EVOLVE, VARIANT])
def test_a_new_column_is_added_under_evolve_and_variant(policy: SchemaPolicy) -> None:
    result = reconcile(TABLE, NEW, policy)
    assert result.schema.names == ["id", "name", "score", "tag"]
    assert result.schema.field("tag").nullable
    change = only(result.changes)
    assert (change.action, change.change, change.column) == ("added", NEW_COLUMN, "tag")
    assert (change.before, change.after, change.rows, change.policy) == (None, "string", 2, policy)
    assert [r["tag"] for r in rows(result.table)] == ["x", None, "z"]


def test_a_new_column_is_refused_under_freeze() -> None:
    with pytest.raises(SchemaFrozen) as info:
        reconcile(TABLE, NEW, FREEZE, table="shapes")
    error = info.value
    assert error.code == "schema_frozen"
    assert "'shapes'" in error.message and "'tag'" in error.message and "freeze" in error.message
    assert "schema_policy" in (error.hint or "")
    change = only(error.changes)
    assert (change.action, change.change, change.column, change.after) == (
        "rejected",
        NEW_COLUMN,
        "tag",
        "string",
    )


def test_a_new_column_drops_the_rows_that_fill_it_under_discard_row() -> None:
    result = reconcile(TABLE, NEW, DISCARD)
    assert result.schema.equals(TABLE)
    assert rows(result.table) == [{"id": 2, "name": None, "score": None}]
    assert result.discarded_rows == 2
    change = only(result.changes)
    assert (change.action, change.change, change.column, change.rows) == (
        "discarded",
        NEW_COLUMN,
        "tag",
        2,
    )


@pytest.mark.parametrize("policy", [FREEZE, DISCARD])
def test_a_new_column_without_values_is_left_out_under_freeze_and_discard_row(
    policy: SchemaPolicy,
) -> None:
    data = batch(id=([1], pa.int64()), tag=([None], pa.null()))
    result = reconcile(TABLE, data, policy)
    assert result.changes == () and result.discarded_rows == 0
    assert result.schema.equals(TABLE)


@pytest.mark.parametrize("policy", [EVOLVE, VARIANT])
def test_a_new_column_without_values_is_added_as_null_under_evolve_and_variant(
    policy: SchemaPolicy,
) -> None:
    data = batch(id=([1], pa.int64()), tag=([None], pa.null()))
    result = reconcile(TABLE, data, policy)
    assert result.schema.field("tag").type == pa.null()
    change = only(result.changes)
    assert (change.action, change.after, change.rows) == ("added", "null", 0)


# -- widening -------------------------------------------------------------------------------

WIDER = batch(id=([1, 2, 3], pa.int64()), score=([1.5, 2.0, None], pa.float64()))


@pytest.mark.parametrize("policy", [EVOLVE, VARIANT])
def test_a_widening_widens_the_table_under_evolve_and_variant(policy: SchemaPolicy) -> None:
    result = reconcile(TABLE, WIDER, policy)
    assert result.schema.field("score").type == pa.float64()
    assert [r["score"] for r in rows(result.table)] == [1.5, 2.0, None]
    change = only(result.changes)
    assert (change.action, change.change, change.before, change.after, change.rows) == (
        "widened",
        WIDENING,
        "int64",
        "double",
        2,
    )


def test_a_widening_is_refused_under_freeze() -> None:
    with pytest.raises(SchemaFrozen) as info:
        reconcile(TABLE, WIDER, FREEZE, table="shapes")
    assert "int64 → double" in info.value.message
    assert only(info.value.changes).change == WIDENING


def test_a_widening_keeps_only_values_that_fit_under_discard_row() -> None:
    result = reconcile(TABLE, WIDER, DISCARD)
    assert result.schema.equals(TABLE)
    # 2.0 fits int64 exactly, a null always does, 1.5 does not.
    assert rows(result.table) == [
        {"id": 2, "name": None, "score": 2},
        {"id": 3, "name": None, "score": None},
    ]
    change = only(result.changes)
    assert (change.action, change.change, change.rows, change.after) == (
        "discarded",
        WIDENING,
        1,
        "double",
    )
    assert result.discarded_rows == 1


def test_discard_row_records_nothing_when_every_value_fits() -> None:
    data = batch(id=([1], pa.int64()), score=([3.0], pa.float64()))
    result = reconcile(TABLE, data, DISCARD)
    assert result.changes == () and rows(result.table)[0]["score"] == 3


# -- incompatible changes --------------------------------------------------------------------

TEXT = batch(id=([1, 2, 3, 4], pa.int64()), score=(["high", "7", None, "low"], pa.string()))


def test_an_incompatible_change_is_refused_under_evolve_with_a_hint_to_variant() -> None:
    with pytest.raises(SchemaIncompatible) as info:
        reconcile(TABLE, TEXT, EVOLVE, table="shapes")
    error = info.value
    assert error.code == "schema_incompatible"
    assert "'score'" in error.message and "int64 → string" in error.message
    assert 'schema_policy = "variant"' in (error.hint or "")
    assert "score__variant" in (error.hint or "")
    assert error.details["column"] == "score"
    assert only(error.changes).action == SchemaAction.REJECTED


def test_an_incompatible_change_is_refused_under_freeze() -> None:
    with pytest.raises(SchemaFrozen) as info:
        reconcile(TABLE, TEXT, FREEZE)
    assert only(info.value.changes).change == INCOMPATIBLE


def test_an_incompatible_change_drops_rows_that_do_not_cast_under_discard_row() -> None:
    result = reconcile(TABLE, TEXT, DISCARD)
    assert result.schema.equals(TABLE)
    assert rows(result.table) == [
        {"id": 2, "name": None, "score": 7},
        {"id": 3, "name": None, "score": None},
    ]
    change = only(result.changes)
    assert (change.action, change.change, change.rows) == ("discarded", INCOMPATIBLE, 2)


def test_an_incompatible_change_goes_to_the_variant_column_under_variant() -> None:
    result = reconcile(TABLE, TEXT, VARIANT)
    assert result.schema.names == ["id", "name", "score", "score__variant"]
    assert result.schema.field("score").type == pa.int64()
    assert result.schema.field("score__variant").type == pa.string()
    assert [(r["score"], r["score__variant"]) for r in rows(result.table)] == [
        (None, '"high"'),
        (7, None),  # values that cast exactly stay typed
        (None, None),
        (None, '"low"'),
    ]
    change = only(result.changes)
    assert (change.action, change.change, change.rows, change.variant_column) == (
        "variant",
        INCOMPATIBLE,
        2,
        "score__variant",
    )
    assert change.to_dict()["variant_column"] == "score__variant"


def test_variant_reuses_an_existing_variant_column_and_leaves_it_null_when_all_fit() -> None:
    table = TABLE.append(pa.field("score__variant", pa.string()))
    first = reconcile(table, TEXT, VARIANT)
    assert first.schema.equals(table)
    fitting = batch(id=([9], pa.int64()), score=(["12"], pa.string()))
    second = reconcile(table, fitting, VARIANT)
    assert second.changes == ()
    assert rows(second.table) == [{"id": 9, "name": None, "score": 12, "score__variant": None}]


def test_variant_refuses_a_variant_column_that_is_not_text() -> None:
    table = TABLE.append(pa.field("score__variant", pa.int64()))
    with pytest.raises(SchemaIncompatible, match="score__variant"):
        reconcile(table, TEXT, VARIANT)


def test_variant_values_are_json_whatever_their_type() -> None:
    table = pa.schema([("id", pa.int64()), ("when", pa.float64())])
    data = pa.table(
        {
            "id": [1, 2],
            "when": pa.array(
                [{"at": "2026-01-01", "n": [1, 2]}, None],
                pa.struct([("at", pa.string()), ("n", pa.list_(pa.int64()))]),
            ),
        }
    )
    result = reconcile(table, data, VARIANT)
    values = [r["when__variant"] for r in rows(result.table)]
    assert json.loads(values[0]) == {"at": "2026-01-01", "n": [1, 2]}
    assert values[1] is None


def test_every_refused_column_is_reported() -> None:
    data = batch(id=([1], pa.int64()), score=(["x"], pa.string()), tag=(["t"], pa.string()))
    with pytest.raises(SchemaFrozen) as info:
        reconcile(TABLE, data, FREEZE)
    assert [c.column for c in info.value.changes] == ["score", "tag"]
    assert "and 1 more" in info.value.message


def test_decisions_and_errors_are_json_ready() -> None:
    with pytest.raises(SchemaRejected) as info:
        reconcile(TABLE, TEXT, EVOLVE, table="shapes")
    out = info.value.to_dict()
    assert out["details"] == {
        "table": "shapes",
        "policy": "evolve",
        "column": "score",
        "before": "int64",
        "after": "string",
    }
    payload = only(info.value.changes).payload({"version": 1, "fingerprint": "f"}, None)
    assert json.loads(json.dumps(payload)) == payload
    assert payload["before_schema"] == {"version": 1, "fingerprint": "f"}


# -- nested types ---------------------------------------------------------------------------

STRUCT = pa.schema([("id", pa.int64()), ("user", pa.struct([("login", pa.string())]))])
GROWN = pa.table(
    {
        "id": [1, 2],
        "user": pa.array(
            [{"login": "a", "age": 3}, {"login": "b", "age": None}],
            pa.struct([("login", pa.string()), ("age", pa.int64())]),
        ),
    }
)


@pytest.mark.parametrize("policy", [EVOLVE, VARIANT])
def test_a_struct_gaining_a_field_widens_under_evolve_and_variant(policy: SchemaPolicy) -> None:
    result = reconcile(STRUCT, GROWN, policy)
    user = result.schema.field("user").type
    assert [user.field(i).name for i in range(user.num_fields)] == ["login", "age"]
    change = only(result.changes)
    assert (change.action, change.before) == ("widened", "struct<login: string>")
    assert change.after == "struct<login: string, age: int64>"
    assert rows(result.table)[0]["user"] == {"login": "a", "age": 3}


def test_a_struct_gaining_a_field_is_refused_under_freeze() -> None:
    with pytest.raises(SchemaFrozen):
        reconcile(STRUCT, GROWN, FREEZE)


def test_a_struct_gaining_a_field_keeps_rows_where_it_is_null_under_discard_row() -> None:
    result = reconcile(STRUCT, GROWN, DISCARD)
    assert result.schema.equals(STRUCT)
    assert rows(result.table) == [{"id": 2, "user": {"login": "b"}}]
    assert only(result.changes).rows == 1


def test_a_nested_incompatible_field_follows_the_policy() -> None:
    kind = pa.struct([("login", pa.list_(pa.int64()))])
    data = pa.table({"id": [1, 2], "user": pa.array([{"login": [5]}, {"login": None}], kind)})
    with pytest.raises(SchemaIncompatible):
        reconcile(STRUCT, data, EVOLVE)
    discarded = reconcile(STRUCT, data, DISCARD)
    assert rows(discarded.table) == [{"id": 2, "user": {"login": None}}]
    kept = reconcile(STRUCT, data, VARIANT)
    assert [r["user__variant"] for r in rows(kept.table)] == ['{"login": [5]}', None]
    assert [r["user"] for r in rows(kept.table)] == [None, {"login": None}]


@pytest.mark.parametrize("policy", [EVOLVE, VARIANT])
def test_a_list_element_widens(policy: SchemaPolicy) -> None:
    table = pa.schema([("id", pa.int64()), ("xs", pa.list_(pa.int32()))])
    data = pa.table({"id": [1], "xs": pa.array([[1.5, 2.0]], pa.list_(pa.float64()))})
    result = reconcile(table, data, policy)
    assert result.schema.field("xs").type == pa.list_(pa.float64())
    assert only(result.changes).action == "widened"


def test_a_list_element_that_does_not_fit_drops_the_row_under_discard_row() -> None:
    table = pa.schema([("id", pa.int64()), ("xs", pa.list_(pa.int64()))])
    data = pa.table({"id": [1, 2], "xs": pa.array([[1.5], [2.0, 3.0]], pa.list_(pa.float64()))})
    result = reconcile(table, data, DISCARD)
    assert rows(result.table) == [{"id": 2, "xs": [2, 3]}]


# -- null-typed table columns ----------------------------------------------------------------

NULL_TABLE = pa.schema([("id", pa.int64()), ("note", pa.null())])
NOTED = batch(id=([1], pa.int64()), note=(["hi"], pa.string()))


@pytest.mark.parametrize("policy", [EVOLVE, VARIANT])
def test_a_null_column_takes_its_first_real_type(policy: SchemaPolicy) -> None:
    result = reconcile(NULL_TABLE, NOTED, policy)
    assert result.schema.field("note").type == pa.string()
    assert only(result.changes).before == "null"


def test_a_null_column_gaining_a_type_is_refused_under_freeze() -> None:
    with pytest.raises(SchemaFrozen):
        reconcile(NULL_TABLE, NOTED, FREEZE)


def test_a_null_column_keeps_only_rows_without_a_value_under_discard_row() -> None:
    result = reconcile(NULL_TABLE, NOTED, DISCARD)
    assert result.table.num_rows == 0 and result.discarded_rows == 1


# -- a run that creates its table -------------------------------------------------------------


@pytest.mark.parametrize("policy", [FREEZE, DISCARD])
def test_while_creating_a_table_growth_is_accepted_under_every_policy(
    policy: SchemaPolicy,
) -> None:
    grown = reconcile(TABLE, NEW, policy, creating=True)
    assert only(grown.changes).action == "added" and grown.discarded_rows == 0
    widened = reconcile(TABLE, WIDER, policy, creating=True)
    assert only(widened.changes).action == "widened"


def test_while_creating_a_table_incompatible_changes_still_follow_the_policy() -> None:
    with pytest.raises(SchemaIncompatible):
        reconcile(TABLE, TEXT, EVOLVE, creating=True)
    assert reconcile(TABLE, TEXT, DISCARD, creating=True).discarded_rows == 2


# -- the decision table and type rules --------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (EVOLVE, ("added", "widened", "rejected")),
        (FREEZE, ("rejected", "rejected", "rejected")),
        (DISCARD, ("discarded", "discarded", "discarded")),
        (VARIANT, ("added", "widened", "variant")),
    ],
)
def test_the_decision_table(policy: SchemaPolicy, expected: tuple[str, str, str]) -> None:
    got = tuple(decide(policy, change) for change in (NEW_COLUMN, WIDENING, INCOMPATIBLE))
    assert got == expected


@pytest.mark.parametrize(
    ("table", "batch_type", "expected"),
    [
        (pa.int32(), pa.int64(), pa.int64()),
        (pa.int64(), pa.int8(), pa.int64()),
        (pa.int32(), pa.uint32(), pa.int64()),
        (pa.int64(), pa.uint64(), None),
        (pa.uint8(), pa.int16(), pa.int16()),
        (pa.int64(), pa.float64(), pa.float64()),
        (pa.float64(), pa.int64(), pa.float64()),
        (pa.float32(), pa.float64(), pa.float64()),
        (pa.null(), pa.string(), pa.string()),
        (pa.string(), pa.null(), pa.string()),
        (pa.string(), pa.large_string(), pa.large_string()),
        (pa.large_string(), pa.string(), pa.large_string()),
        (pa.binary(), pa.large_binary(), pa.large_binary()),
        (pa.timestamp("s"), pa.timestamp("ms"), pa.timestamp("ms")),
        (pa.timestamp("us", "UTC"), pa.timestamp("ns", "UTC"), pa.timestamp("ns", "UTC")),
        (pa.timestamp("us", "UTC"), pa.timestamp("us"), None),
        (pa.date32(), pa.date64(), pa.date64()),
        (pa.decimal128(5, 2), pa.decimal128(10, 2), pa.decimal128(10, 2)),
        (pa.decimal128(5, 2), pa.decimal128(5, 4), pa.decimal128(7, 4)),
        (pa.decimal128(38, 0), pa.decimal128(38, 10), pa.decimal256(48, 10)),
        (pa.float64(), pa.string(), None),
        (pa.int64(), pa.string(), None),
        (pa.string(), pa.int64(), None),
        (pa.bool_(), pa.int64(), None),
        (pa.list_(pa.int32()), pa.large_list(pa.int64()), pa.large_list(pa.int64())),
        (pa.list_(pa.int64()), pa.list_(pa.string()), None),
        (pa.string(), pa.dictionary(pa.int32(), pa.string()), pa.string()),
    ],
)
def test_common_types(
    table: pa.DataType, batch_type: pa.DataType, expected: pa.DataType | None
) -> None:
    result = common_type(table, batch_type)
    if expected is None:
        assert result is None
    else:
        assert result is not None and result.equals(expected), result


def test_fits_is_exact_per_value() -> None:
    values = pa.array([3.0, 3.5, None, float(2**70)], pa.float64())
    assert fits(values, pa.int64()).to_pylist() == [True, False, True, False]
    text = pa.chunked_array([["7", "x"], ["07", None]])
    assert fits(text, pa.int64()).to_pylist() == [True, False, False, True]
    assert fits(pa.array([0, 1, 5]), pa.bool_()).to_pylist() == [True, True, False]


def test_conform_table_orders_casts_and_fills() -> None:
    target = pa.schema([("a", pa.float64()), ("b", pa.string()), ("c", pa.int64())])
    data = pa.table({"c": [1], "a": pa.array([2], pa.int64())})
    out = conform_table(data, target)
    assert out.schema.equals(target)
    assert rows(out) == [{"a": 2.0, "b": None, "c": 1}]
    assert conform_table(out, target) is out


def test_integers_widen_to_float_even_past_double_precision() -> None:
    table = pa.schema([("n", pa.float64())])
    result = reconcile(table, pa.table({"n": [2**53 + 1]}), EVOLVE)
    assert result.changes == () and rows(result.table) == [{"n": float(2**53)}]


def test_the_variant_column_name() -> None:
    assert variant_column("score") == "score__variant"
