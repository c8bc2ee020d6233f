"""The statement gate against DuckDB itself, on generated statements.

Statements mix EXPLAIN prefixes, option lists, comments (nested, ``--`` ended by ``\\r``, a
``)`` inside ``/* */``), whitespace and an inner statement that reads or writes. For each,
DuckDB is the oracle: its parser says how many statements there are and what each is, and
running the statement in a scratch database says whether an EXPLAIN analysed (ran) what it
explained. The gate must admit exactly the single reads: a SELECT, or an EXPLAIN that did
not run a statement DuckDB parses as a SELECT.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hakiri.context._gate import admit
from hakiri.core.errors import QueryRefused

FILLERS = [
    " ",
    "\n",
    "\t",
    "\r",
    "/* x */",
    "/* ) */",
    "/* ( */",
    "/* /* nested ) */ */",
    "--c\n",
    "--c\r",
    "-- ) (\n",
    "/*'*/",
    '/*"*/',
    "/**/",
]

PREFIXES = [
    [],
    ["EXPLAIN"],
    ["EXPLAIN", "ANALYZE"],
    ["EXPLAIN", "ANALYSE"],
    ["EXPLAIN", "(", "FORMAT", "JSON", ")"],
    ["EXPLAIN", "(", "ANALYZE", ")"],
    ["EXPLAIN", "(", "FORMAT", "JSON", ",", "ANALYZE", ")"],
    ["EXPLAIN", "(", "ANALYZE", ",", "FORMAT", "JSON", ")"],
    ["explain", "(", "format", "text", ")"],
]

INNER = [
    "SELECT 1",
    "SELECT * FROM t",
    "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
    "FROM t",
    "COPY (SELECT 1) TO '{out}/copy.csv'",
    "COPY t TO '{out}/t.csv'",
    "CREATE TABLE t2 AS SELECT 1",
    "INSERT INTO t VALUES (2)",
    "DELETE FROM t",
    "UPDATE t SET x = 5",
    "SET threads = 1",
    "ATTACH ':memory:' AS m",
    "CREATE VIEW v AS SELECT 1",
    "SELECT 1; SELECT 2",
    "SELECT 1; COPY (SELECT 1) TO '{out}/second.csv'",
]


def _join(words: list[str], fillers: list[str]) -> str:
    out = []
    for index, word in enumerate(words):
        out.append(word)
        out.append(fillers[index % len(fillers)] if fillers else " ")
    return "".join(out)


def _scratch() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    return con


def _duckdb_says_read_only(sql: str, inner: str, out: Path) -> bool | None:
    """DuckDB's verdict; None where DuckDB cannot parse or run the statement at all."""
    con = _scratch()
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error:
        return None
    if len(statements) != 1:
        return False
    kind = statements[0].type.name
    if kind == "SELECT":
        return True
    if kind != "EXPLAIN":
        return False
    inner_statements = con.extract_statements(inner)
    if len(inner_statements) != 1 or inner_statements[0].type.name != "SELECT":
        return False
    try:
        rows = con.execute(sql).fetchall()
    except duckdb.Error:
        return None
    # EXPLAIN ANALYZE answers with the analysed plan: it ran the statement.
    return not any(key == "analyzed_plan" for key, *_ in rows)


@pytest.fixture(scope="module")
def gate() -> duckdb.DuckDBPyConnection:
    return _scratch()


def _admitted(gate: duckdb.DuckDBPyConnection, sql: str) -> bool | None:
    try:
        admit(gate, sql)
    except QueryRefused:
        return False
    except duckdb.Error:
        return None
    return True


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from(PREFIXES),
    inner=st.sampled_from(INNER),
    fillers=st.lists(st.sampled_from(FILLERS), min_size=0, max_size=6),
    lead=st.sampled_from(["", " ", "\n", "/* lead */ ", "--lead\r"]),
    trail=st.sampled_from(["", ";", " ;", "; -- end", "/* ; */", ";\r--x"]),
)
def test_the_gate_admits_exactly_what_duckdb_says_only_reads(
    gate: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    prefix: list[str],
    inner: str,
    fillers: list[str],
    lead: str,
    trail: str,
) -> None:
    body = inner.format(out=tmp_path)
    sql = lead + _join(prefix, fillers) + body + trail
    expected = _duckdb_says_read_only(sql, body, tmp_path)
    assume(expected is not None)
    verdict = _admitted(gate, sql)
    assert verdict is not None, f"DuckDB runs it but the gate could not parse it: {sql!r}"
    assert verdict == expected, f"gate admitted={verdict}, DuckDB read-only={expected}: {sql!r}"


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN /* ) */ ANALYZE COPY (SELECT 1) TO 'x.csv'",
        "EXPLAIN /* /* */ ) */ ANALYZE SELECT 1",
        "EXPLAIN --c\r ANALYZE SELECT 1",
        "EXPLAIN (FORMAT JSON /* ) */, ANALYZE) SELECT 1",
        "EXPLAIN (ANALYZE) SELECT 1",
    ],
)
def test_the_old_bypasses_are_refused(gate: duckdb.DuckDBPyConnection, sql: str) -> None:
    assert _admitted(gate, sql) is False
