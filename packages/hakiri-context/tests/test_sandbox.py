"""The query process: it cannot write, it is bounded in time, memory and answer size, and a
pool of them refuses work it cannot take instead of queueing without end."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

from hakiri.context._views import StorePlan
from hakiri.context.sandbox import QueryPool, QueryProcess, check_length, query_once, read_plan
from hakiri.context.testing import StoreBuilder
from hakiri.core.errors import (
    QueryBusy,
    QueryMemoryExceeded,
    QueryRefused,
    QueryTimeout,
    QueryTooLong,
)
from hakiri.core.query_limits import QueryLimits

_MiB = 1 << 20


@pytest.fixture
def issues(store: StoreBuilder) -> StoreBuilder:
    store.publish("issues", pa.table({"id": [1, 2, 3], "state": ["open", "closed", "open"]}))
    return store


@pytest.fixture
def plan(issues: StoreBuilder) -> StorePlan:
    return read_plan(issues.root, f"sqlite:///{issues.root / 'catalog.db'}")


@pytest.fixture
def process() -> Iterator[QueryProcess]:
    with QueryProcess(QueryLimits()) as started:
        yield started


def _run(
    process: QueryProcess, plan: StorePlan, sql: str, **bounds: float | int | None
) -> pa.Table:
    options: dict[str, float | int | None] = {"limit": 100, "timeout": 10.0, "max_bytes": None}
    options.update(bounds)
    return process.run(plan, sql, **options).table  # type: ignore[arg-type]


def test_answers_come_back_as_arrow(process: QueryProcess, plan: StorePlan) -> None:
    table = _run(process, plan, "select state, count(*) as n from issues group by 1 order by 1")
    assert table.to_pylist() == [{"state": "closed", "n": 1}, {"state": "open", "n": 2}]
    assert process.sandbox is not None and process.sandbox.startswith("landlock ABI ")


def test_the_process_cannot_write_even_if_a_statement_gets_past_the_gate(
    issues: StoreBuilder,
) -> None:
    # The gate is the first layer; this checks the kernel's: after forbid_writes, the very
    # COPY the gate refuses fails inside DuckDB, and Python cannot write either.
    committed = next((issues.root / "context").rglob("*.parquet"))
    before = committed.read_bytes()
    script = f"""
import duckdb, sys
from hakiri.context.sandbox._landlock import forbid_writes
print(forbid_writes())
con = duckdb.connect()
for target in ({str(committed)!r}, {str(issues.root / "new.parquet")!r}, "/tmp/hakiri-ll.csv"):
    try:
        con.execute(f"COPY (SELECT 666 AS id) TO '{{target}}'")
        print("WROTE", target)
    except duckdb.Error as exc:
        print("refused", str(exc).splitlines()[0])
try:
    open({str(committed)!r}, "r+b").write(b"x")
    print("WROTE python")
except PermissionError:
    print("refused python")
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.startswith("landlock ABI "), out
    assert "WROTE" not in out, out
    assert out.count("Permission denied") == 3 and "refused python" in out, out
    assert committed.read_bytes() == before
    assert not (issues.root / "new.parquet").exists()


def test_the_gate_still_refuses_first(process: QueryProcess, plan: StorePlan) -> None:
    with pytest.raises(QueryRefused, match="not COPY"):
        _run(process, plan, "copy (select 1) to '/tmp/x.csv'")
    # The process lives on for the next query.
    assert _run(process, plan, "select count(*) as n from issues").to_pylist() == [{"n": 3}]


def test_a_query_that_ignores_interrupts_is_killed_near_its_timeout(
    process: QueryProcess, plan: StorePlan
) -> None:
    slow = "select levenshtein(repeat('a', 40000), repeat('b', 40000))"
    _run(process, plan, "select 1")  # the process has started: time the query alone
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="stopped after 1 s"):
        _run(process, plan, slow, timeout=1.0)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed  # the acceptance bound: timeout + 1 s
    # A new process takes the next query.
    assert _run(process, plan, "select 1 as one").to_pylist() == [{"one": 1}]


@pytest.mark.parametrize(
    "bomb",
    [
        "select list_sum(range(400000000))",
        "select length(string_agg(repeat('x', 1000), ',')) from range(3000000)",
        "select count(distinct i::varchar || 'abcdefghijk') from range(60000000) t(i)",
    ],
)
def test_memory_bombs_end_as_query_memory_within_the_bound(
    process: QueryProcess, plan: StorePlan, bomb: str
) -> None:
    with pytest.raises(QueryMemoryExceeded) as info:
        _run(process, plan, bomb, timeout=60.0)
    assert info.value.code == "query_memory"
    assert process.peak_rss <= int(QueryLimits().memory), process.peak_rss
    assert _run(process, plan, "select 1 as one").to_pylist() == [{"one": 1}]


def test_answers_are_cut_at_the_byte_cap_and_say_so(process: QueryProcess, plan: StorePlan) -> None:
    result = process.run(
        plan,
        "select repeat('x', 1000000) as blob from range(200)",
        limit=1000,
        timeout=30.0,
        max_bytes=16 * _MiB,
    )
    assert result.truncated and result.truncated_by == "bytes"
    assert 0 < result.num_rows < 200
    assert result.table.nbytes <= 16 * _MiB
    rows = process.run(plan, "select * from range(5000)", limit=10, timeout=5.0, max_bytes=None)
    assert (rows.num_rows, rows.truncated_by) == (10, "rows")


def test_sql_longer_than_the_limit_is_refused_before_parsing() -> None:
    huge = "select 1 -- " + "x" * (4 * _MiB)
    with pytest.raises(QueryTooLong, match="4,194,316 characters"):
        check_length(huge, QueryLimits())
    check_length("select 1", QueryLimits())


def test_query_once_runs_in_a_fresh_process(issues: StoreBuilder) -> None:
    result = query_once(
        issues.root,
        f"sqlite:///{issues.root / 'catalog.db'}",
        "select max(id) as m from issues",
        QueryLimits(),
    )
    assert result.to_pylist() == [{"m": 3}]


def test_a_full_pool_refuses_at_once(plan: StorePlan) -> None:
    limits = QueryLimits(workers=1, queue=1, timeout=5.0)
    slow = "select count(*) from range(100000000000)"
    errors: list[BaseException] = []
    with QueryPool(limits) as pool:

        def occupy() -> None:
            try:
                pool.run(plan, slow, limits)
            except BaseException as exc:  # the timeout ends it
                errors.append(exc)

        threads = [threading.Thread(target=occupy) for _ in range(2)]  # one runs, one waits
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while pool._waiting < 1 and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(QueryBusy, match="busy"):
            pool.run(plan, "select 1", limits)
        assert time.monotonic() - started < 1.0
        for thread in threads:
            thread.join(60)
    # The running query ends at its timeout; the waiting one ran after it, or gave up
    # waiting after its own timeout.
    assert any(isinstance(e, QueryTimeout) for e in errors), errors
    assert all(isinstance(e, QueryTimeout | QueryBusy) for e in errors), errors
