"""``hakiri catalog copy`` end to end: a project's SQLite catalog goes to Postgres and back.

A project of three file pipelines (CSV appended to, JSON merged by key, JSON Lines whose
shape changes: a new column, then a widened one) runs three times with real ``hakiri run``
subprocesses. Its catalog is copied SQLite → Postgres → SQLite with the real command; the
project is then pointed at each copy in turn (``catalog =`` in hakiri.toml) and the same
``hakiri query`` and ``hakiri pipeline describe`` answers must come back, and a new run must
continue from the copy. A destination holding a project is refused and left as it was; a
copy killed half-way leaves the destination without a row.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hakiri.core.failpoints import ENV_VAR
from hakiri.testing.cli import CliResult, run_hakiri
from hakiri.testing.postgres import PostgresDatabase
from hakiri.testing.project import write_manifest

PIPELINES = """
[pipelines.orders.source]
connector = "file"
path = "data/orders/*.csv"
file_column = "_file"

[pipelines.customers.source]
connector = "file"
path = "data/customers.json"

[pipelines.customers.destination]
write = "merge"
primary_key = ["id"]

[pipelines.readings.source]
connector = "file"
path = "data/readings/*.jsonl"
"""

QUERIES = [
    "select count(*), sum(amount), count(distinct _file) from orders",
    "select id, name, plan from customers order by id",
    "select customer, count(*), sum(amount) from orders group by customer order by customer",
    "select c.name, sum(o.amount) as spent from orders o join customers c on c.id = o.customer"
    " group by c.name order by c.name",
    "select sensor, count(*), avg(value), count(tag) from readings group by sensor order by 1",
]

CATALOG_TABLES = (
    "cursors",
    "runs",
    "run_steps",
    "tables",
    "files",
    "schema_versions",
    "events",
    "fences",
)


def _write_runs_data(project: Path, run: int) -> None:
    """Run ``run``'s new data: an orders file, the customers as they now are, readings."""
    orders = project / "data" / "orders"
    orders.mkdir(parents=True, exist_ok=True)
    lines = ["order_id,customer,amount"]
    lines += [f"{run * 100 + i},{1 + i % 3},{run * 10 + i}.25" for i in range(5)]
    (orders / f"orders-{run}.csv").write_text("\n".join(lines) + "\n")
    customers = [{"id": i, "name": f"customer {i}", "plan": "free"} for i in (1, 2, 3)]
    for customer in customers[: run - 1]:
        customer["plan"] = "team"  # merged over the previous run's row
    (project / "data" / "customers.json").write_text(json.dumps(customers))
    readings = project / "data" / "readings"
    readings.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = [
        {"sensor": f"s{i % 2}", "value": run * 10 + i} for i in range(4)
    ]
    if run >= 2:  # a new column: a schema decision
        for record in records:
            record["tag"] = f"t{run}"
    if run >= 3:  # an integer column meets floats: widened
        for record in records:
            record["value"] += 0.5
    (readings / f"readings-{run}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _point_at(project: Path, catalog: str | None) -> None:
    line = f'catalog = "{catalog}"\n' if catalog else ""
    write_manifest(project, line + PIPELINES, name="copy_test")


def _answers(project: Path) -> list[Any]:
    answers: list[Any] = [
        run_hakiri("query", sql, "--format", "json", cwd=project).check().json() for sql in QUERIES
    ]
    for pipeline in ("orders", "customers", "readings"):
        described = run_hakiri("pipeline", "describe", pipeline, "--json", cwd=project)
        answers.append(described.check().json())
    return answers


def _copy(project: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_hakiri("catalog", "copy", *args, cwd=project, env=env)


def _copied(result: CliResult) -> dict[str, tuple[int, str]]:
    report = result.check().json()
    return {t["table"]: (t["rows"], t["checksum"]) for t in report["tables"]}


def _counts(url: str) -> dict[str, int]:
    """Rows per catalog table, read with the backend's own driver."""
    con: Any
    if url.startswith("sqlite:///"):
        con = sqlite3.connect(url.removeprefix("sqlite:///"))
    else:
        import psycopg

        con = psycopg.connect(url)
    try:
        return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in CATALOG_TABLES}
    finally:
        con.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project after three runs of each pipeline, on its own SQLite catalog."""
    root = tmp_path / "project"
    _point_at(root, None)
    for run in (1, 2, 3):
        _write_runs_data(root, run)
        for pipeline in ("orders", "customers", "readings"):
            run_hakiri("run", pipeline, cwd=root).check()
    return root


def test_sqlite_to_postgres_to_sqlite_gives_the_same_answers(
    project: Path, tmp_path: Path, postgres_db: PostgresDatabase
) -> None:
    original = _answers(project)
    decisions = [e for e in original[-1]["events"] if e["kind"] == "schema_decision"]
    assert {(e["action"], e["column"]) for e in decisions} == {
        ("added", "tag"),
        ("widened", "value"),
    }

    there = _copied(_copy(project, ".", postgres_db.url, "--json"))
    back_url = f"sqlite:///{tmp_path / 'back' / 'catalog.db'}"
    back = _copied(_copy(project, postgres_db.url, back_url, "--json"))
    assert back == there
    assert all(there[t][0] > 0 for t in ("runs", "run_steps", "files", "schema_versions"))
    assert there["runs"][0] == 9 and there["tables"][0] == 3 and there["cursors"][0] == 3
    assert _counts(postgres_db.url) == {t: there[t][0] for t in CATALOG_TABLES}

    for catalog in (postgres_db.url, back_url):
        _point_at(project, catalog)
        assert _answers(project) == original, catalog

    # The Postgres copy is the project's catalog now: the next run continues from its cursor
    # (only the new file is read) and its new ids do not collide with the copied ones.
    _point_at(project, postgres_db.url)
    _write_runs_data(project, 4)
    run_hakiri("run", "orders", cwd=project).check()
    count = run_hakiri("query", "select count(*) from orders", "--format", "json", cwd=project)
    assert count.check().json()["rows"] == [[20]]


def test_a_destination_holding_a_project_is_refused_and_left_as_it_was(
    project: Path, postgres_db: PostgresDatabase
) -> None:
    _copy(project, ".", postgres_db.url).check()
    before = _counts(postgres_db.url)
    again = _copy(project, ".", postgres_db.url)
    assert again.returncode == 1
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error[catalog_error]: the destination"), lines
    assert "already holds a project" in lines[0] and "empty database" in lines[0]
    assert _counts(postgres_db.url) == before


def test_a_copy_killed_half_way_leaves_the_destination_empty(
    project: Path, postgres_db: PostgresDatabase, tmp_path: Path
) -> None:
    # Killed (SIGKILL, no clean-up) after the fourth table's first batch went in.
    for destination in (postgres_db.url, f"sqlite:///{tmp_path / 'half.db'}"):
        killed = _copy(project, ".", destination, env={ENV_VAR: "catalog_copy_batch:4"})
        assert killed.returncode == -9, killed.stderr
        assert set(_counts(destination).values()) == {0}
        # Nothing of the dead copy is left to refuse the next one, which completes.
        done = _copied(_copy(project, ".", destination, "--json"))
        assert done["runs"][0] == 9
