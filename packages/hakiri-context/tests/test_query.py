"""The query layer over a real store: committed files only, read-only, bounded."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from hakiri.context import ContextStore, open_store
from hakiri.context.errors import QuerySyntaxError, UnknownName
from hakiri.context.parquet import write_parquet
from hakiri.context.testing import StoreBuilder
from hakiri.core.errors import (
    MissingDependency,
    QueryError,
    QueryRefused,
    QueryTimeout,
    StoreError,
    UnknownTable,
)
from hakiri.core.records import WriteDisposition

APPEND, REPLACE, MERGE = WriteDisposition.APPEND, WriteDisposition.REPLACE, WriteDisposition.MERGE


def rows(**columns: list[object]) -> pa.Table:
    return pa.table(columns)


@pytest.fixture
def issues(store: StoreBuilder) -> StoreBuilder:
    store.publish("issues", rows(id=[1, 2], state=["open", "closed"]))
    store.publish("issues", rows(id=[3], state=["open"]))
    return store


@pytest.fixture
def ctx(issues: StoreBuilder) -> Iterator[ContextStore]:
    with open_store(issues.root) as opened:
        yield opened


def values(store: ContextStore, sql: str) -> list[tuple[object, ...]]:
    table = store.to_arrow(sql)
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


# -- what the views show ---------------------------------------------------------------------


def test_views_show_committed_files_only(issues: StoreBuilder) -> None:
    context = issues.root / "context" / "issues"
    write_parquet(
        rows(id=[99], state=["stray"]), issues.files.objects, "context/issues/stray.parquet"
    )
    staged = issues.stage("issues", rows(id=[100], state=["staged"]))
    with open_store(issues.root) as store:
        assert values(store, "select id from issues order by id") == [(1,), (2,), (3,)]
        # Not even by path: only published files can be opened at all.
        for path in (context / "stray.parquet", issues.root / staged.path):
            with pytest.raises(QueryRefused):
                store.query(f"select * from read_parquet('{path}')")
        with pytest.raises(QueryRefused):
            store.query(f"select * from glob('{context}/*')")


def test_replace_shows_the_new_generation_only_once_finalized(store: StoreBuilder) -> None:
    store.publish("users", rows(id=[1, 2]), write=REPLACE)
    store.publish("users", rows(id=[10]), write=REPLACE, finalize=False)
    with open_store(store.root) as ctx:
        assert values(ctx, "select id from users order by id") == [(1,), (2,)]
        store.publish("users", rows(id=[20]), write=REPLACE, finalize=True)
        # The views are a snapshot until refreshed.
        assert values(ctx, "select id from users order by id") == [(1,), (2,)]
        ctx.refresh()
        assert values(ctx, "select id from users order by id") == [(10,), (20,)]


def test_a_table_without_visible_files_is_empty_but_has_its_columns(
    store: StoreBuilder,
) -> None:
    store.publish("users", rows(id=[1], name=["a"]), write=REPLACE, finalize=False)
    with open_store(store.root) as ctx:
        result = ctx.query("select * from users")
        assert result.num_rows == 0
        assert result.columns == ["id", "name"]
        assert result.table.schema.field("id").type == pa.int64()


def test_merge_keeps_the_newest_row_per_key(store: StoreBuilder) -> None:
    store.publish(
        "items",
        rows(id=[1, 2, 1], v=["a", "b", "a-later-in-file"]),
        write=MERGE,
        primary_key=("id",),
    )
    store.publish("items", rows(id=[2, 3], v=["b-newer", "c"]), write=MERGE, primary_key=("id",))
    store.publish("items", rows(id=[3], v=["c-newest"]), write=MERGE, primary_key=("id",))
    with open_store(store.root) as ctx:
        assert values(ctx, "select id, v from items order by id") == [
            (1, "a-later-in-file"),
            (2, "b-newer"),
            (3, "c-newest"),
        ]
        assert ctx.query("select * from items").columns == ["id", "v"]


def test_merge_works_when_data_has_columns_named_like_duckdbs_virtual_ones(
    store: StoreBuilder,
) -> None:
    pk = ("id",)
    store.publish("odd", rows(id=[1, 2], file_index=[9, 9]), write=MERGE, primary_key=pk)
    store.publish("odd", rows(id=[1], file_index=[0]), write=MERGE, primary_key=pk)
    with open_store(store.root) as ctx:
        assert values(ctx, "select id, file_index from odd order by id") == [(1, 0), (2, 9)]
        assert ctx.query("select * from odd").columns == ["id", "file_index"]


def test_files_with_different_columns_read_as_one_table(store: StoreBuilder) -> None:
    store.publish("events", rows(id=[1]))
    store.publish("events", rows(id=[2], extra=["x"]))
    with open_store(store.root) as ctx:
        assert values(ctx, "select id, extra from events order by id") == [(1, None), (2, "x")]


def test_a_table_with_a_missing_file_fails_alone(issues: StoreBuilder) -> None:
    issues.publish("other", rows(n=[1]))
    first = issues.root / "context" / "issues" / "r1-0001.parquet"
    first.unlink()
    with open_store(issues.root) as ctx:
        assert values(ctx, "select n from other") == [(1,)]
        with pytest.raises(StoreError, match="'issues' cannot be read"):
            ctx.query("select * from issues")


# -- what is refused --------------------------------------------------------------------------

REFUSED = [
    "COPY (select 1) TO '{context}/x.csv'",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "INSERT INTO issues VALUES (4, 'open')",
    "ATTACH 'x.db'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET x=1",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "PRAGMA version",
    "CALL pragma_version()",
    "EXPORT DATABASE '{context}/dump'",
    "select 1; select 2",
    "select 1; COPY (select 1) TO '{context}/y.csv'",
    "select * from read_csv('/etc/passwd')",
    "select * from read_text('/etc/hostname')",
    "select * from read_blob('/etc/hostname')",
    "select * from read_parquet('https://example.com/x.parquet')",
    "EXPLAIN ANALYZE COPY (select 1) TO '{context}/z.csv'",
    "explain (analyze) create table t as select 1",
    # EXPLAIN ANALYZE runs what it explains: refused even for a SELECT.
    "explain analyze select count(*) from issues",
    "explain /* ) */ (format json, analyze) select 1",
    "",
    "  ;  -- nothing",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_anything_but_one_read_only_select_is_refused(
    sql: str, issues: StoreBuilder, ctx: ContextStore
) -> None:
    before = sorted(p.relative_to(issues.root) for p in issues.root.rglob("*"))
    context = issues.root / "context"
    with pytest.raises(QueryError) as info:
        ctx.query(sql.format(context=context))
    assert isinstance(info.value, QueryRefused), info.value.one_line()
    assert "\n" not in info.value.one_line()
    assert sorted(p.relative_to(issues.root) for p in issues.root.rglob("*")) == before
    # The connection is still locked down and still answers.
    assert values(ctx, "select count(*) from issues") == [(3,)]


def test_a_select_that_writes_fails_and_writes_nothing(ctx: ContextStore) -> None:
    # DuckDB 2.0 parses a data-modifying WITH as a SELECT; the views cannot take rows.
    with pytest.raises(QueryError):
        ctx.query("with x as (insert into issues values (4, 'x') returning *) select * from x")
    assert values(ctx, "select count(*) from issues") == [(3,)]


def test_refusals_say_what_is_allowed_and_what_was_seen(ctx: ContextStore) -> None:
    with pytest.raises(QueryRefused, match="only one read-only SELECT.*not COPY"):
        ctx.query("copy (select 1) to 'x.csv'")
    with pytest.raises(QueryRefused, match="not INSTALL"):
        ctx.query("install httpfs")
    with pytest.raises(QueryRefused, match="not 2 statements"):
        ctx.query("select 1; select 2")
    with pytest.raises(QueryRefused, match="can only read the context store"):
        ctx.query("select * from read_csv('/etc/passwd')")


def test_reads_of_every_kind_are_allowed(ctx: ContextStore) -> None:
    assert ctx.query("explain select * from issues").num_rows >= 1
    assert ctx.query("explain (format json) select count(*) from issues").num_rows >= 1
    assert ctx.query("describe issues").num_rows == 2
    assert ctx.query("show tables").to_pylist() == [{"name": "issues"}]
    assert values(ctx, "with o as (from issues where state = 'open') select count(*) from o") == [
        (2,)
    ]
    assert values(ctx, "select 1 as x;") == [(1,)]


def test_duckdb_errors_become_query_errors_with_one_line(ctx: ContextStore) -> None:
    with pytest.raises(QuerySyntaxError, match="syntax error"):
        ctx.query("selec 1")
    with pytest.raises(UnknownName) as info:
        ctx.query("select * from pulls")
    assert "issues" in (info.value.hint or "")
    with pytest.raises(UnknownName):
        ctx.query("select nope from issues")
    with pytest.raises(QueryError):
        ctx.query("select 1 / 'x'")


# -- limits -----------------------------------------------------------------------------------


def test_rows_beyond_the_limit_are_cut_and_reported(store: StoreBuilder) -> None:
    store.publish("big", rows(n=list(range(2500))))
    with open_store(store.root) as ctx:
        cut = ctx.query("select n from big order by n", limit=1000)
        assert (cut.num_rows, cut.truncated) == (1000, True)
        assert cut.table.column("n").to_pylist() == list(range(1000))
        exact = ctx.query("select n from big", limit=2500)
        assert (exact.num_rows, exact.truncated) == (2500, False)
        assert ctx.query("select n from big", limit=0).truncated is True
        assert ctx.to_arrow("select n from big").num_rows == 2500


def test_a_slow_query_is_cancelled_at_the_timeout(ctx: ContextStore) -> None:
    slow = "select count(*) from range(1000000000) a(x), range(1000) b(y) where (a.x * b.y) % 7 = 3"
    with pytest.raises(QueryTimeout) as info:
        ctx.query(slow, timeout=0.2)
    assert info.value.one_line() == (
        "query stopped after 0.2 s — narrow the query or raise the timeout "
        "(--timeout; `timeout` over MCP/HTTP; [query] timeout in hakiri.toml)"
    )
    assert values(ctx, "select count(*) from issues") == [(3,)]


# -- the library API --------------------------------------------------------------------------


def test_results_convert_to_python_arrow_and_polars(ctx: ContextStore) -> None:
    result = ctx.query("select id, state from issues order by id")
    assert result.to_pylist()[0] == {"id": 1, "state": "open"}
    assert result.elapsed >= 0
    frame = ctx.to_polars("select state, count(*) as n from issues group by state order by 1")
    assert frame.to_dicts() == [{"state": "closed", "n": 1}, {"state": "open", "n": 2}]
    relation = ctx.sql("select id from issues where state = 'open' order by id")
    assert relation.fetchall() == [(1,), (3,)]
    with pytest.raises(QueryRefused):
        ctx.sql("create table t as select 1")


def test_tables_and_schemas_come_from_the_catalog(store: StoreBuilder) -> None:
    store.publish("events", rows(id=[1]))
    store.publish("events", rows(id=[2], extra=["x"]))
    with open_store(store.root) as ctx:
        assert [t.name for t in ctx.tables()] == ["events"]
        described = ctx.schema("events")
        assert described.schema is not None and described.schema.names == ["id", "extra"]
        assert [v.version for v in described.versions] == [1, 2]
        assert [e.payload["added"] for e in described.events] == [["id"], ["extra"]]
        as_dict = described.to_dict()
        assert as_dict["columns"][1] == {"name": "extra", "type": "string", "nullable": True}
        assert as_dict["events"][1]["payload"]["from"] == 1
        with pytest.raises(UnknownTable):
            ctx.schema("nope")


def test_without_duckdb_queries_name_the_extra_but_the_catalog_still_reads(
    ctx: ContextStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(MissingDependency) as info:
        ctx.query("select 1")
    assert "hakiri-context[duckdb]" in info.value.one_line()
    assert [t.name for t in ctx.tables()] == ["issues"]


def test_without_polars_to_polars_names_the_extra(
    ctx: ContextStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(MissingDependency, match="Polars"):
        ctx.to_polars("select 1")


def test_opening_a_store_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no context store"):
        open_store(tmp_path)
    (tmp_path / "hakiri.toml").write_text('[project]\nname = "demo"\n')
    with pytest.raises(StoreError, match="yet — run `hakiri run PIPELINE` first"):
        open_store(tmp_path)
    assert not (tmp_path / ".hakiri").exists()


def test_a_project_directory_finds_its_store(tmp_path: Path) -> None:
    (tmp_path / "hakiri.toml").write_text('[project]\nname = "demo"\nstore = "data"\n')
    builder = StoreBuilder(tmp_path / "data")
    try:
        builder.publish("issues", rows(id=[1]))
    finally:
        builder.close()
    with open_store(tmp_path) as ctx:
        assert ctx.root == (tmp_path / "data").resolve()
        assert values(ctx, "select id from issues") == [(1,)]


def test_importing_the_package_and_cli_stays_cheap() -> None:
    code = (
        "import sys, hakiri.context, hakiri.context.cli, hakiri.context.catalog; "
        "print(sorted(m for m in ('pyarrow', 'duckdb', 'sqlalchemy', 'polars') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_closed_store_refuses_queries(issues: StoreBuilder) -> None:
    ctx = open_store(issues.root)
    assert ctx.query("select count(*) from issues").num_rows == 1
    ctx.close()
    ctx.close()
    with pytest.raises(StoreError, match="closed"):
        ctx.query("select 1")
