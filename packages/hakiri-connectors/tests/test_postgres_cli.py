"""``hakiri run`` and ``hakiri query`` over a real PostgreSQL, as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hakiri.testing.cli import run_hakiri
from hakiri.testing.postgres import ENV_URL, PostgresDatabase, PostgresServer
from hakiri.testing.project import write_manifest

REPO = Path(__file__).resolve().parents[3]

MANIFEST = """
[pipelines.orders]
chunk_rows = 500

[pipelines.orders.source]
connector = "postgres"
dsn = "secret://SHOP_DSN"
table = "public.orders"
incremental_column = "updated_at"
batch_rows = 300

[pipelines.orders.destination]
write = "append"

[pipelines.top_customers.source]
connector = "postgres"
dsn = "secret://SHOP_DSN"
query = '''
SELECT customer, sum(amount) AS total, max(updated_at) AS last_order
FROM orders GROUP BY customer ORDER BY customer'''

[pipelines.top_customers.destination]
write = "replace"
"""


def _setup(db: PostgresDatabase) -> None:
    db.execute(
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, "
        "amount numeric(10,2) NOT NULL, tags text[], meta jsonb, paid boolean, "
        "updated_at timestamptz NOT NULL);"
        "INSERT INTO orders SELECT g, 'customer ' || (g % 9), g * 0.25, ARRAY['t' || (g % 3)], "
        "jsonb_build_object('n', g), g % 2 = 0, "
        "timestamptz '2026-01-01' + (g / 4) * interval '1 second' "
        "FROM generate_series(1, 2000) g"
    )


def _query(project: Path, env: dict[str, str], sql: str) -> list[list[Any]]:
    result = run_hakiri("query", sql, "--format", "json", cwd=project, env=env).check()
    rows: list[list[Any]] = result.json()["rows"]
    return rows


def test_run_then_query_then_run_again_reads_only_new_rows(
    postgres_db: PostgresDatabase, tmp_path: Path
) -> None:
    _setup(postgres_db)
    project = tmp_path / "shop"
    write_manifest(project, MANIFEST)
    env = {"SHOP_DSN": postgres_db.url}

    first = run_hakiri("run", "orders", "top_customers", cwd=project, env=env).check()
    assert "orders: succeeded" in first.stdout
    assert postgres_db.url not in first.stdout + first.stderr
    checks = (
        "select count(*), count(distinct id), sum(amount)::varchar, "
        "(select count(*) from top_customers), "
        "(select [tags[1], meta, paid::varchar, typeof(updated_at), typeof(amount)] "
        "from orders where id = 7) from orders"
    )
    assert _query(project, env, checks) == [
        [
            2000,
            2000,
            "500250.00",
            9,
            ["t1", '{"n": 7}', "false", "TIMESTAMP WITH TIME ZONE", "DECIMAL(10,2)"],
        ]
    ]

    postgres_db.execute(
        "INSERT INTO orders SELECT g, 'late', 1, NULL, NULL, NULL, timestamptz '2026-02-01' "
        "FROM generate_series(2001, 2150) g"
    )
    second = run_hakiri("run", "orders", "top_customers", cwd=project, env=env).check()
    assert "150 rows" in second.stdout, second.stdout
    again = "select count(*), count(distinct id), (select count(*) from top_customers) from orders"
    assert _query(project, env, again) == [[2150, 2150, 10]]

    described = run_hakiri("pipeline", "describe", "orders", "--json", cwd=project, env=env)
    cursor = described.check().json()["cursor"]
    assert cursor["position"] == "2026-02-01T00:00:00.000000Z"


def test_an_unreachable_server_fails_the_run_with_one_line(tmp_path: Path) -> None:
    project = tmp_path / "down"
    write_manifest(
        project,
        '[pipelines.orders.source]\nconnector = "postgres"\n'
        'host = "127.0.0.1"\nport = 1\nuser = "app"\ndbname = "shop"\n'
        'password = "secret://SHOP_PASSWORD"\ntable = "orders"\nconnect_timeout = 2\n',
    )
    failed = run_hakiri("run", "orders", cwd=project, env={"SHOP_PASSWORD": "pa55-w0rd-xyz"})
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "source_unreachable" in output and "127.0.0.1:1/shop" in output
    assert "pa55-w0rd-xyz" not in output
    assert not (project / ".hakiri" / "context").exists() or not any(
        (project / ".hakiri" / "context").rglob("*.parquet")
    )


def test_the_load_benchmark_runs_at_a_tiny_size(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # Correctness only: the script loads a table, runs hakiri and checks the counts.
    env = {**os.environ, ENV_URL: postgres_server.url}
    env = {k: v for k, v in env.items() if k != "HAKIRI_FAILPOINTS"}
    script = REPO / "benchmarks" / "postgres_load.py"
    done = subprocess.run(
        [sys.executable, str(script), "--rows", "20000", "--batch-rows", "3000"]
        + ["--chunk-rows", "6000", "--incremental", "--tmp", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| 20,000 |" in done.stdout
